package gguf_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
)

// FuzzParse feeds arbitrary bytes to the reader: it must return a File or
// an error, never panic, and a File it returns must have every tensor view
// inside the input. Seeds: the small all-types file and the head of a real
// fixture model (metadata and tensor infos), files packed at
// general.alignment 1 and 2 (tensor data at odd offsets) and a file with a
// zero-size tensor.
//
//	go test ./engine/gguf -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	f.Add(smallFile(f))
	if p, ok := fixture.Path("models/qwen2-tiny-q4_k_m.gguf"); ok {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 4096)])
		}
	}
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Add(packedFile(f, 1))
	f.Add(packedFile(f, 2))
	w := gguf.NewWriter()
	w.AddTensor("empty", quant.F32, []uint64{4, 0}, nil)
	w.AddTensor("x", quant.F32, []uint64{1}, make([]byte, 4))
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse("fuzz.gguf", data)
		if err != nil {
			return
		}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if v := file.Data(ti); uint64(len(v)) != ti.Size {
				t.Fatalf("tensor %q view %d bytes, size %d", ti.Name, len(v), ti.Size)
			}
		}
	})
}
