package gguf

import (
	"fmt"

	"github.com/falsify/falsify/engine/quant"
)

// TensorEdit returns what a copy of tensor t (its bytes data, a view into
// the source mapping) should hold: a type, dims and data (the inputs
// returned unchanged copy it as it is).
type TensorEdit func(t *TensorInfo, data []byte) (quant.Type, []uint64, []byte, error)

// Copy returns a Writer holding f's metadata and tensors in f's order,
// each tensor passed through edit (nil: copied unchanged). The caller may
// Set further keys before writing. Errors from edit are returned naming
// the tensor. The Writer refers to f's mapping for unedited tensors, so f
// must stay open until it is written.
func Copy(f *File, edit TensorEdit) (*Writer, error) {
	w := NewWriter()
	for _, kv := range f.Metadata.KVs() {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return nil, err
		}
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		typ, dims, data := t.Type, t.Dims, f.Data(t)
		if edit != nil {
			var err error
			if typ, dims, data, err = edit(t, data); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
			}
		}
		if err := w.AddTensor(t.Name, typ, dims, data); err != nil {
			return nil, err
		}
	}
	return w, nil
}
