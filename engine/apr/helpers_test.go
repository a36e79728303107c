package apr_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/falsify/falsify/engine/apr"
)

// smallTensors are one tensor of every dtype, with distinct bytes, in an
// order the writer has to sort.
var smallTensors = []struct {
	name  string
	dtype apr.DType
	dims  []uint64
}{
	{"l.f64", apr.F64, []uint64{2}},
	{"a.f32", apr.F32, []uint64{2, 3}},
	{"b.f16", apr.F16, []uint64{4}},
	{"c.bf16", apr.BF16, []uint64{2}},
	{"d.q4_k", apr.Q4_K, []uint64{1, 256}},
	{"e.q6_k", apr.Q6_K, []uint64{1, 256}},
	{"f.aprq4", apr.AprQ4, []uint64{40}},
	{"g.aprq8", apr.AprQ8, []uint64{5}},
	{"h.i8", apr.I8, []uint64{3}},
	{"i.u8", apr.U8, []uint64{3}},
	{"j.i32", apr.I32, []uint64{2}},
	{"k.i64", apr.I64, []uint64{1, 1, 1}},
}

// tensorBytes returns recognizable bytes for tensor i of the given size.
func tensorBytes(i int, size uint64) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*31 + j*7 + 1)
	}
	return b
}

// smallWriter is a writer holding smallTensors and a little metadata.
func smallWriter(t testing.TB) *apr.Writer {
	t.Helper()
	w := apr.NewWriter()
	md := w.Metadata()
	md.Set("model_type", "test")
	md.Set("name", "small")
	md.Set("hidden_size", 8)
	md.Set("param_count", 42)
	md.Set("rope_theta", float32(10000))
	md.Set("tokenizer.vocabulary", []string{"a", "b"})
	md.Set("nested", map[string]any{"x": []int{1, 2}})
	for i, st := range smallTensors {
		size, err := st.dtype.ByteSize(st.dims)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(st.name, st.dtype, st.dims, tensorBytes(i, size)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// smallFile is smallWriter's file as bytes.
func smallFile(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := smallWriter(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// resign recomputes the header and footer checksums of b in place, so a
// test can break one field without tripping the checksums first.
func resign(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[40:], apr.HeaderChecksum(b))
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
	return b
}

// entryPos returns the byte offset of index entry i of a well-formed file.
func entryPos(b []byte, i int) int {
	pos := int(binary.LittleEndian.Uint64(b[24:]))
	for ; i > 0; i-- {
		nameLen := int(binary.LittleEndian.Uint16(b[pos:]))
		ndim := int(b[pos+2+nameLen+1])
		pos += 2 + nameLen + 2 + 8*ndim + 16
	}
	return pos
}

// entryFields returns the positions of entry i's dtype, ndim, first dim,
// offset and size fields.
func entryFields(b []byte, i int) (dtype, ndim, dims, offset, size int) {
	pos := entryPos(b, i)
	nameLen := int(binary.LittleEndian.Uint16(b[pos:]))
	dtype = pos + 2 + nameLen
	ndim = dtype + 1
	dims = ndim + 1
	offset = dims + 8*int(b[ndim])
	return dtype, ndim, dims, offset, offset + 8
}
