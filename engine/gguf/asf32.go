package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/falsify/falsify/engine/quant"
)

// WriteAsF32 writes a copy of the GGUF model at src to dst with every
// tensor dequantized (ggml's dequantize_row_* formulas, quant.DequantizeRow)
// and stored as F32, and general.file_type set to 0 (ALL_F32): the same
// numbers in a form whose matmuls involve no quantization in either matmul
// mode. Metadata and tensor order are kept. Errors name the file and the
// tensor a type the dequantizers do not know stopped at.
func WriteAsF32(src, dst string) error {
	f, err := Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := Copy(f, func(t *TensorInfo, data []byte) (quant.Type, []uint64, []byte, error) {
		n := int(t.Elements())
		if n == 0 { // a zero-size tensor: no rows to dequantize
			return quant.F32, t.Dims, nil, nil
		}
		vals := make([]float32, n)
		row := int(t.Dims[0])
		rowBytes := int(t.Size) / (n / row)
		for r := range n / row {
			if err := quant.DequantizeRow(t.Type, vals[r*row:(r+1)*row], data[r*rowBytes:(r+1)*rowBytes]); err != nil {
				return 0, nil, nil, err
			}
		}
		out := make([]byte, 4*n)
		for i, v := range vals {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return quant.F32, t.Dims, out, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := w.Set(KeyFileType, uint32(0)); err != nil {
		return err
	}
	return w.WriteFile(dst)
}
