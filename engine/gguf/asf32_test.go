package gguf_test

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
)

// TestWriteAsF32: every tensor of the copy is F32 and holds, bit for bit,
// the source tensor dequantized row by row; metadata is kept but for
// general.file_type, which says ALL_F32.
func TestWriteAsF32(t *testing.T) {
	src := fixture.Require(t, "models/qwen2-tiny-q8_0.gguf")
	dst := filepath.Join(t.TempDir(), "f32.gguf")
	if err := gguf.WriteAsF32(src, dst); err != nil {
		t.Fatal(err)
	}
	a, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := gguf.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ft, err := b.Metadata.Uint(gguf.KeyFileType); err != nil || ft != 0 {
		t.Errorf("file_type %d, %v; want 0", ft, err)
	}
	if a.Metadata.Len() != b.Metadata.Len() || len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d/%d keys, %d/%d tensors", a.Metadata.Len(), b.Metadata.Len(), len(a.Tensors), len(b.Tensors))
	}
	for i := range a.Tensors {
		ta, tb := &a.Tensors[i], &b.Tensors[i]
		if ta.Name != tb.Name || tb.Type != quant.F32 || ta.Elements() != tb.Elements() {
			t.Fatalf("tensor %d: %s %v -> %s %v", i, ta.Name, ta.Type, tb.Name, tb.Type)
		}
		row := int(ta.Dims[0])
		n := int(ta.Elements())
		rowBytes := int(ta.Size) / (n / row)
		want := make([]float32, row)
		data, got := a.Data(ta), b.Data(tb)
		for r := range n / row {
			if err := quant.DequantizeRow(ta.Type, want, data[r*rowBytes:(r+1)*rowBytes]); err != nil {
				t.Fatal(err)
			}
			for j, w := range want {
				if g := binary.LittleEndian.Uint32(got[4*(r*row+j):]); g != math.Float32bits(w) {
					t.Fatalf("%s row %d element %d: %v, want %v", ta.Name, r, j, math.Float32frombits(g), w)
				}
			}
		}
	}
}
