package gguf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
)

// packedFile writes tensors of several types with general.alignment set
// to align, so that with 1 or 2 the data of most tensors starts at an
// address no element type is aligned to.
func packedFile(t testing.TB, align uint32) []byte {
	w := gguf.NewWriter()
	if err := w.Set(gguf.KeyAlignment, align); err != nil {
		t.Fatal(err)
	}
	w.Set(gguf.KeyArchitecture, "llama")
	add := func(name string, typ quant.Type, dims []uint64, size int) {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + len(name))
		}
		if typ == quant.F32 {
			for i := 0; i < size; i += 4 {
				binary.LittleEndian.PutUint32(data[i:], math.Float32bits(float32(i)))
			}
		}
		if err := w.AddTensor(name, typ, dims, data); err != nil {
			t.Fatal(err)
		}
	}
	add("u8", quant.F32, []uint64{1}, 4) // 4 bytes; the next starts at +4
	add("odd", quant.Q8_0, []uint64{32}, 34)
	add("f32", quant.F32, []uint64{3}, 12)
	add("f16", quant.F16, []uint64{5}, 10)
	add("q4k", quant.Q4_K, []uint64{256}, 144)
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMisalignedTensorData: general.alignment 1 and 2 are valid powers of
// two; files packed at them parse, and every view has the tensor's size and
// the bytes written (whatever its address).
func TestMisalignedTensorData(t *testing.T) {
	for _, align := range []uint32{1, 2, 4, 8} {
		b := packedFile(t, align)
		f, err := gguf.Parse("packed.gguf", b)
		if err != nil {
			t.Fatalf("alignment %d: %v", align, err)
		}
		if f.Alignment != uint64(align) {
			t.Errorf("alignment %d read as %d", align, f.Alignment)
		}
		misaligned := 0
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			v := f.Data(ti)
			if uint64(len(v)) != ti.Size {
				t.Errorf("alignment %d: %s view %d bytes, size %d", align, ti.Name, len(v), ti.Size)
			}
			if (f.DataOffset+ti.Offset)%4 != 0 {
				misaligned++
			}
		}
		if align < 4 && misaligned == 0 {
			t.Errorf("alignment %d: no tensor at an offset that is not a multiple of 4; the test proves nothing", align)
		}
	}
}

// TestZeroSizeTensor: a dimension of 0 (an empty tensor, no data) is read
// as ggml's gguf.cpp and gguf-py read it, and the writer writes it.
func TestZeroSizeTensor(t *testing.T) {
	w := gguf.NewWriter()
	w.Set(gguf.KeyArchitecture, "llama")
	if err := w.AddTensor("empty", quant.F32, []uint64{0, 8}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("after", quant.F32, []uint64{2}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse("zero.gguf", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := f.Tensor("empty")
	if !ok || ti.Size != 0 || ti.Elements() != 0 || len(f.Data(ti)) != 0 {
		t.Errorf("empty tensor: %+v", ti)
	}
	// Overflow is still refused.
	if err := w.AddTensor("huge", quant.F32, []uint64{1 << 40, 1 << 40}, nil); err == nil {
		t.Error("element count past int64: no error")
	}
}

// TestNestedEmptyArraysBudget: a file that is nothing but arrays of empty
// arrays decodes within the package's memory budget (it took 6x its size
// before), and a file whose decoded form would exceed the budget is
// refused with ErrCorrupt naming the key.
func TestNestedEmptyArraysBudget(t *testing.T) {
	const n = 200_000
	inner := make([]gguf.Array, n)
	for i := range inner {
		inner[i] = gguf.Array{Elem: gguf.TypeUint8, Values: []uint8{}}
	}
	w := gguf.NewWriter()
	w.Set(gguf.KeyArchitecture, "llama")
	if err := w.Set("t.nested", gguf.Array{Elem: gguf.TypeArray, Values: inner}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	var before, after runtimeMem
	before.read()
	f, err := gguf.Parse("nested.gguf", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	after.read()
	if got := f.Metadata.Len(); got != 2 {
		t.Errorf("%d keys", got)
	}
	grew := after.total - before.total
	t.Logf("%d-byte file of %d empty arrays: %d bytes allocated (%.2fx)", buf.Len(), n, grew, float64(grew)/float64(buf.Len()))
	if limit := uint64(gguf.MemoryBudgetFactor*buf.Len() + 1<<20); grew > limit {
		t.Errorf("decoding allocated %d bytes, over the budget %d", grew, limit)
	}

	// Arrays of one-element arrays cost more than 4x their 13 bytes each.
	one := make([]gguf.Array, n)
	for i := range one {
		one[i] = gguf.Array{Elem: gguf.TypeUint8, Values: []uint8{1}}
	}
	w2 := gguf.NewWriter()
	w2.Set("t.inflate", gguf.Array{Elem: gguf.TypeArray, Values: one})
	buf.Reset()
	w2.WriteTo(&buf)
	_, err = gguf.Parse("inflate.gguf", buf.Bytes())
	if !errors.Is(err, gguf.ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("t.inflate")) {
		t.Errorf("inflating file: %v, want ErrCorrupt naming t.inflate", err)
	}
}
