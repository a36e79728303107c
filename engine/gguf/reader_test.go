package gguf_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/llamacpp"
	"github.com/google/go-cmp/cmp"
)

// goldenDequant is the part of fixtures golden/dequant/*.json this test
// reads: the tensor list ggml itself reported for each model.
type goldenDequant struct {
	Tensors []struct {
		Name     string   `json:"name"`
		GGMLType uint32   `json:"ggml_type"`
		NE       []uint64 `json:"ne"`
	} `json:"tensors"`
}

// TestFixtureModelsMatchGGMLTensorList reads every fixture model and checks
// that its tensor names, types and dims are the ones ggml listed when it
// produced the dequantization goldens.
func TestFixtureModelsMatchGGMLTensorList(t *testing.T) {
	models := fixture.Glob("models/qwen2-tiny-*.gguf")
	if len(models) == 0 {
		t.Fatal("no fixture models found")
	}
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".gguf")
		t.Run(name, func(t *testing.T) {
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			raw, err := os.ReadFile(fixture.Require(t, "golden/dequant/"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var golden goldenDequant
			if err := json.Unmarshal(raw, &golden); err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != len(golden.Tensors) {
				t.Fatalf("%d tensors, ggml listed %d", len(f.Tensors), len(golden.Tensors))
			}
			for _, g := range golden.Tensors {
				ti, ok := f.Tensor(g.Name)
				if !ok {
					t.Errorf("tensor %q missing", g.Name)
					continue
				}
				if uint32(ti.Type) != g.GGMLType {
					t.Errorf("%s: type %s, ggml says %d", g.Name, ti.Type, g.GGMLType)
				}
				if diff := cmp.Diff(g.NE, ti.Dims); diff != "" {
					t.Errorf("%s dims (-ggml +got):\n%s", g.Name, diff)
				}
				if got := len(f.Data(ti)); uint64(got) != ti.Size {
					t.Errorf("%s: data view %d bytes, size %d", g.Name, got, ti.Size)
				}
			}
			if arch := f.Metadata.Architecture(); arch != "qwen2" {
				t.Errorf("architecture %q, want qwen2", arch)
			}
			layers, err := f.Metadata.ArchUint(gguf.KeyBlockCount)
			if err != nil || layers != 4 {
				t.Errorf("block_count = %d, %v; the fixture README says 4 layers", layers, err)
			}
			tokens, err := f.Metadata.Strings(gguf.KeyTokenizerTokens)
			if err != nil || len(tokens) != 4099 {
				t.Errorf("%d tokens, %v; the fixture README says 4099", len(tokens), err)
			}
		})
	}
}

// TestVocabOnlyFiles loads llama.cpp's vocab-only GGUF files: no tensors,
// and the token counts of the Qwen2 and GPT-2 vocabularies.
func TestVocabOnlyFiles(t *testing.T) {
	for file, want := range map[string]int{"ggml-vocab-qwen2.gguf": 151936, "ggml-vocab-gpt-2.gguf": 50257} {
		t.Run(file, func(t *testing.T) {
			f, err := gguf.Open(fixture.Require(t, "tokenizer/"+file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Tensors) != 0 {
				t.Errorf("%d tensors, want 0", len(f.Tensors))
			}
			tokens, err := f.Metadata.Strings(gguf.KeyTokenizerTokens)
			if err != nil {
				t.Fatal(err)
			}
			if len(tokens) != want {
				t.Errorf("%d tokens, want %d", len(tokens), want)
			}
		})
	}
}

// TestRewriteIsByteIdentical re-encodes fixture files written by gguf-py
// and llama-quantize with this package's writer: the same metadata and
// tensors in the same order must give the same bytes, which ties the writer
// to files llama.cpp produced (not only to this package's reader).
func TestRewriteIsByteIdentical(t *testing.T) {
	for _, rel := range []string{"models/qwen2-tiny-q4_k_m.gguf", "models/qwen2-tiny-q8_0.gguf", "tokenizer/ggml-vocab-gpt-2.gguf", "models/qwen2-tiny-f32.gguf"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			path := fixture.Require(t, rel)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(path, orig)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := rewrite(f).WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), orig) {
				t.Fatalf("rewritten file differs: %d bytes vs %d, first difference at %d", buf.Len(), len(orig), firstDiff(buf.Bytes(), orig))
			}
		})
	}
}

func rewrite(f *gguf.File) *gguf.Writer {
	w, err := gguf.Copy(f, nil)
	if err != nil {
		panic(err)
	}
	return w
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// smallFile builds a GGUF file using every value type, a nested array and
// two tensors: the seed for truncation, corruption and fuzz tests.
func smallFile(t testing.TB) []byte {
	w := gguf.NewWriter()
	set := func(k string, v any) {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	arr := func(v any) gguf.Array {
		a, err := gguf.ArrayOf(v)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	set(gguf.KeyArchitecture, "llama")
	set("llama.block_count", uint32(2))
	set("t.u8", uint8(7))
	set("t.i8", int8(-7))
	set("t.u16", uint16(700))
	set("t.i16", int16(-700))
	set("t.i32", int32(-70000))
	set("t.f32", float32(1.5))
	set("t.bool", true)
	set("t.u64", uint64(1)<<40)
	set("t.i64", int64(-1)<<40)
	set("t.f64", 2.25)
	set("t.strs", arr([]string{"a", "bc", ""}))
	set("t.i32s", arr([]int32{1, -2, 3}))
	set("t.f32s", arr([]float32{0.5, -1}))
	set("t.nested", arr([]gguf.Array{arr([]uint8{1, 2}), arr([]string{"x"})}))
	f32 := make([]byte, 4*8)
	for i := range 8 {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(float32(i)))
	}
	if err := w.AddTensor("a", quant.F32, []uint64{4, 2}, f32); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("b", quant.Q8_0, []uint64{32}, make([]byte, 34)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAllValueTypes(t *testing.T) {
	f, err := gguf.Parse("small.gguf", smallFile(t))
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata
	checks := []struct {
		key  string
		get  func(string) (any, error)
		want any
	}{
		{"t.u8", func(k string) (any, error) { return md.Uint(k) }, uint64(7)},
		{"t.i8", func(k string) (any, error) { return md.Int(k) }, int64(-7)},
		{"t.u16", func(k string) (any, error) { return md.Uint(k) }, uint64(700)},
		{"t.i16", func(k string) (any, error) { return md.Int(k) }, int64(-700)},
		{"t.i32", func(k string) (any, error) { return md.Int(k) }, int64(-70000)},
		{"t.f32", func(k string) (any, error) { return md.Float(k) }, 1.5},
		{"t.bool", func(k string) (any, error) { return md.Bool(k) }, true},
		{"t.u64", func(k string) (any, error) { return md.Uint(k) }, uint64(1) << 40},
		{"t.i64", func(k string) (any, error) { return md.Int(k) }, int64(-1) << 40},
		{"t.f64", func(k string) (any, error) { return md.Float(k) }, 2.25},
		{"t.strs", func(k string) (any, error) { return md.Strings(k) }, []string{"a", "bc", ""}},
		{"t.i32s", func(k string) (any, error) { return md.Ints(k) }, []int64{1, -2, 3}},
		{"t.f32s", func(k string) (any, error) { return md.Floats(k) }, []float64{0.5, -1}},
	}
	for _, c := range checks {
		got, err := c.get(c.key)
		if err != nil {
			t.Errorf("%s: %v", c.key, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.key, diff)
		}
	}
	if n, err := md.ArchUint(gguf.KeyBlockCount); err != nil || n != 2 {
		t.Errorf("ArchUint(block_count) = %d, %v", n, err)
	}
	nested, _ := md.Get("t.nested")
	if a := nested.Value.(gguf.Array); a.Elem != gguf.TypeArray || a.Len() != 2 {
		t.Errorf("nested array read back as %+v", a)
	}
	if _, err := md.Uint("t.i8"); err == nil {
		t.Error("Uint of a negative int8: no error")
	}
	if _, err := md.String("t.u8"); !errors.Is(err, gguf.ErrWrongType) {
		t.Errorf("String of a uint8: %v, want ErrWrongType", err)
	}
	if _, err := md.String("missing"); !errors.Is(err, gguf.ErrKeyNotFound) {
		t.Errorf("missing key: %v, want ErrKeyNotFound", err)
	}
	a, _ := f.Tensor("a")
	data := f.Data(a)
	if got := math.Float32frombits(binary.LittleEndian.Uint32(data[4*5:])); got != 5 {
		t.Errorf("tensor a[5] = %v, want 5", got)
	}
	if f.DataOffset%32 != 0 {
		t.Errorf("data offset %d not 32-aligned", f.DataOffset)
	}
}

// TestTruncatedAtEveryOffset cuts the small file at every length and
// expects an error (never a panic) for each, naming the file.
func TestTruncatedAtEveryOffset(t *testing.T) {
	full := smallFile(t)
	for n := range len(full) {
		_, err := gguf.Parse("cut.gguf", full[:n])
		if err == nil {
			// Trailing padding after the last tensor is not data: a cut
			// inside it still leaves a complete file.
			f, _ := gguf.Parse("full", full)
			last := f.Tensors[len(f.Tensors)-1]
			if uint64(n) >= f.DataOffset+last.Offset+last.Size {
				continue
			}
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(full))
		}
		if !strings.Contains(err.Error(), "cut.gguf") {
			t.Fatalf("truncated to %d: error does not name the file: %v", n, err)
		}
	}
}

// TestCorruptHeaders checks each kind of bad input named in issue 2 gives
// an error that names the file and the field.
func TestCorruptHeaders(t *testing.T) {
	base := smallFile(t)
	f, err := gguf.Parse("x", base)
	if err != nil {
		t.Fatal(err)
	}
	// Offsets of fields in the small file, found by scanning for them.
	tensorInfoA := bytes.Index(base, append(append(le64(1), 'a'), 2, 0, 0, 0, 4)) // name "a", 2 dims, ne0 4
	dimsA := tensorInfoA + 9 + 4
	typeA := dimsA + 16
	offsetA := typeA + 4
	keyArch := bytes.Index(base, []byte(gguf.KeyArchitecture))
	stringsArray := bytes.Index(base, []byte("t.strs")) + len("t.strs") + 4 + 4

	cases := []struct {
		name   string
		mutate func(b []byte) []byte
		field  string
		is     error
	}{
		{"wrong magic", func(b []byte) []byte { copy(b, "GGML"); return b }, "header magic", gguf.ErrBadMagic},
		{"version 1", func(b []byte) []byte { put32(b[4:], 1); return b }, "header version", gguf.ErrUnsupportedVersion},
		{"version 4", func(b []byte) []byte { put32(b[4:], 4); return b }, "header version", gguf.ErrUnsupportedVersion},
		// gguf-py --bigendian keeps the magic bytes and swaps the version.
		{"big-endian", func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 3); return b }, "version 3 byte-swapped: big-endian", gguf.ErrUnsupportedVersion},
		{"tensor count too big", func(b []byte) []byte { put64(b[8:], 1<<40); return b }, "tensor_count", gguf.ErrCorrupt},
		{"kv count too big", func(b []byte) []byte { put64(b[16:], math.MaxUint64); return b }, "metadata_kv_count", gguf.ErrCorrupt},
		{"array length too big", func(b []byte) []byte { put64(b[stringsArray:], 1<<50); return b }, "t.strs", gguf.ErrCorrupt},
		{"dim too big", func(b []byte) []byte { put64(b[dimsA:], 1<<62); put64(b[dimsA+8:], 1<<62); return b }, `"a" dims`, gguf.ErrCorrupt},
		{"n_dims 5", func(b []byte) []byte { put32(b[dimsA-4:], 5); return b }, `"a" n_dims`, gguf.ErrCorrupt},
		{"offset past end", func(b []byte) []byte { put64(b[offsetA:], 1<<20); return b }, `"a" offset`, gguf.ErrTruncated},
		{"misaligned offset", func(b []byte) []byte { put64(b[offsetA:], 4); return b }, `"a" offset`, gguf.ErrCorrupt},
		{"unknown tensor type", func(b []byte) []byte { put32(b[typeA:], 100); return b }, `"a" type`, quant.ErrUnknownType},
		{"retired tensor type", func(b []byte) []byte { put32(b[typeA:], 4); return b }, `"a" type`, quant.ErrUnknownType},
		{"unknown value type", func(b []byte) []byte { put32(b[keyArch+len(gguf.KeyArchitecture):], 13); return b }, "general.architecture", gguf.ErrCorrupt},
		{"invalid UTF-8 tensor name", func(b []byte) []byte { b[tensorInfoA+8] = 0xff; return b }, "tensor 0 name", gguf.ErrCorrupt},
		{"invalid UTF-8 key", func(b []byte) []byte { b[keyArch] = 0xfe; return b }, "metadata 0 key", gguf.ErrCorrupt},
		{"truncated data", func(b []byte) []byte { return b[:f.DataOffset+10] }, `offset`, gguf.ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), base...))
			_, err := gguf.Parse("bad.gguf", b)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "bad.gguf: ") || !strings.Contains(msg, c.field) {
				t.Errorf("error %q should name the file and %q", msg, c.field)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := gguf.Open(filepath.Join(dir, "missing.gguf")); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty.gguf")
	os.WriteFile(empty, nil, 0o644)
	if _, err := gguf.Open(empty); !errors.Is(err, gguf.ErrTruncated) {
		t.Errorf("empty file: %v, want ErrTruncated", err)
	}
	if _, err := gguf.Open(dir); err == nil {
		t.Error("directory: no error")
	}
}

func TestWriterRejectsBadTensors(t *testing.T) {
	w := gguf.NewWriter()
	if err := w.AddTensor("x", quant.Q4_K, []uint64{100}, make([]byte, 144)); err == nil {
		t.Error("Q4_K row of 100: no error")
	}
	if err := w.AddTensor("x", quant.F32, []uint64{4}, make([]byte, 15)); err == nil {
		t.Error("short data: no error")
	}
	if err := w.AddTensor("x", quant.F32, []uint64{4}, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("x", quant.F32, []uint64{4}, make([]byte, 16)); err == nil {
		t.Error("duplicate name: no error")
	}
	if err := w.Set("k", gguf.Array{Elem: gguf.TypeString, Values: []int32{1}}); err == nil {
		t.Error("array with mismatched element type: no error")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := gguf.NewWriter()
	w.Set(gguf.KeyArchitecture, "llama")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata.Architecture() != "llama" || f.Version != 3 {
		t.Errorf("read back arch %q version %d", f.Metadata.Architecture(), f.Version)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func le64(v uint64) []byte     { b := make([]byte, 8); binary.LittleEndian.PutUint64(b, v); return b }
func put32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
func put64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

// TestLlamaCppLoadsWrittenFile is the writer's outside check: a fixture
// model rewritten with 64-byte alignment and its tensors in reverse order
// (so the bytes differ everywhere) must load in llama.cpp and predict
// exactly what the original predicts.
func TestLlamaCppLoadsWrittenFile(t *testing.T) {
	llamacpp.Require(t)
	path := fixture.Require(t, "models/qwen2-tiny-q8_0.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.Metadata.KVs() {
		w.Set(kv.Key, kv.Value)
	}
	w.Set(gguf.KeyAlignment, uint32(64))
	for i := len(f.Tensors) - 1; i >= 0; i-- {
		ti := &f.Tensors[i]
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, f.Data(ti)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "rewritten.gguf")
	if err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	tokens := []int32{3838, 374, 220, 17, 10, 17, 30}
	want, err := llamacpp.Run(t.Context(), llamacpp.Request{Model: path, Tokens: tokens, Top: 5})
	if err != nil {
		t.Fatal(err)
	}
	got, err := llamacpp.Run(t.Context(), llamacpp.Request{Model: out, Tokens: tokens, Top: 5})
	if err != nil {
		t.Fatalf("llama.cpp rejected the written file: %v", err)
	}
	if len(got.Positions) != len(tokens) {
		t.Fatalf("llama.cpp returned %d positions, want %d", len(got.Positions), len(tokens))
	}
	if diff := cmp.Diff(want.Positions, got.Positions); diff != "" {
		t.Errorf("llama.cpp predicts differently from the rewritten file (-original +rewritten):\n%s", diff)
	}
}
