package quant

import "fmt"

// DequantizeFunc returns a function that decodes rows of type t exactly
// as DequantizeRow does (the same kernels, the same bits), with the type
// checked once here instead of on every call: for a caller that decodes
// many rows of one type, such as the engine's f32 matmul (where
// DequantizeRow's checks took about a tenth of a decode step once the
// kernels were SIMD). The function panics
// if src does not hold exactly the bytes of len(dst) elements (a whole
// number of blocks), which is a programmer's error once the type is
// known. It does not allocate.
func DequantizeFunc(t Type) (func(dst []float32, src []byte), error) {
	if err := CheckDecodable(t); err != nil {
		return nil, fmt.Errorf("quant: dequantize %s: %w", t, err)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	simd := simdDequant(t)
	return func(dst []float32, src []byte) {
		if len(dst)%bs != 0 || len(src) != len(dst)/bs*ts {
			panic(fmt.Sprintf("quant: dequantize %s: %d elements need %d-element blocks of %d bytes, got %d bytes",
				t, len(dst), bs, ts, len(src)))
		}
		if simd != nil {
			simd(dst, src)
			return
		}
		dequantScalar(t, dst, src)
	}, nil
}
