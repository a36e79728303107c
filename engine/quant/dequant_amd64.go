//go:build amd64 && !purego

package quant

import "encoding/binary"

// The AVX2 dequantization kernels of dequant_amd64.s give DequantizeRow's
// bits exactly (TestSIMDDequantizeMatchesScalar): per element they do the
// scalar kernel's float operations in its order, only eight lanes at a
// time. The integer quant is extracted with integer vector instructions
// and converted with VCVTDQ2PS (exact, as float32(int) is); a sub-block
// scale d*float32(sc) is one VMULPS lane per sub-block, computed once
// just as the scalar code computes it once; each element is then one
// VMULPS by that scale (and one VSUBPS of dmin*m for Q4_K and Q5_K),
// never an FMA. The fp16 scales, and F16 rows, convert with VCVTPH2PS,
// exact like FP16ToFP32 (NaNs included); BF16 rows are a shift, as
// BF16ToFP32 is.

// simdDequant returns the AVX2 kernel that decodes whole blocks of type t,
// or nil when there is none or the CPU lacks AVX2/F16C.
func simdDequant(t Type) func(dst []float32, src []byte) {
	if !simdEnabled {
		return nil
	}
	switch t {
	case F16:
		return dequantF16AVX2
	case BF16:
		return dequantBF16AVX2
	case Q4_0:
		return dequantQ4_0AVX2
	case Q5_0:
		return dequantQ5_0AVX2
	case Q8_0:
		return dequantQ8_0AVX2
	case Q4_K:
		return dequantQ4_KAVX2
	case Q5_K:
		return dequantQ5_KAVX2
	case Q6_K:
		return dequantQ6_KAVX2
	}
	return nil
}

// dequantBlocks returns the number of whole blocks in dst, having checked
// that src holds them: the assembly reads and writes through pointers and
// must not run past either slice.
func dequantBlocks(dst []float32, src []byte, blockSize, typeSize int) int {
	nb := len(dst) / blockSize
	if nb > 0 {
		_ = src[nb*typeSize-1]
	}
	return nb
}

// dequantF16AVX2 converts eight values at a time and the rest (fewer
// than eight) as the scalar code does.
func dequantF16AVX2(dst []float32, src []byte) {
	n8 := len(dst) / 8
	if n8 > 0 {
		_ = src[16*n8-1]
		dequantF16Asm(&dst[0], &src[0], n8)
	}
	for i := 8 * n8; i < len(dst); i++ {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func dequantBF16AVX2(dst []float32, src []byte) {
	n8 := len(dst) / 8
	if n8 > 0 {
		_ = src[16*n8-1]
		dequantBF16Asm(&dst[0], &src[0], n8)
	}
	for i := 8 * n8; i < len(dst); i++ {
		dst[i] = BF16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func dequantQ4_0AVX2(dst []float32, src []byte) {
	if nb := dequantBlocks(dst, src, 32, 18); nb > 0 {
		dequantQ4_0Asm(&dst[0], &src[0], nb)
	}
}

func dequantQ5_0AVX2(dst []float32, src []byte) {
	if nb := dequantBlocks(dst, src, 32, 22); nb > 0 {
		dequantQ5_0Asm(&dst[0], &src[0], nb)
	}
}

func dequantQ5_KAVX2(dst []float32, src []byte) {
	if nb := dequantBlocks(dst, src, QK_K, 176); nb > 0 {
		dequantQ5_KAsm(&dst[0], &src[0], nb)
	}
}

func dequantQ8_0AVX2(dst []float32, src []byte) {
	if nb := dequantBlocks(dst, src, 32, 34); nb > 0 {
		dequantQ8_0Asm(&dst[0], &src[0], nb)
	}
}

func dequantQ4_KAVX2(dst []float32, src []byte) {
	if nb := dequantBlocks(dst, src, QK_K, 144); nb > 0 {
		dequantQ4_KAsm(&dst[0], &src[0], nb)
	}
}

func dequantQ6_KAVX2(dst []float32, src []byte) {
	if nb := dequantBlocks(dst, src, QK_K, 210); nb > 0 {
		dequantQ6_KAsm(&dst[0], &src[0], nb)
	}
}

// The assembly kernels decode nb >= 1 whole blocks from src into dst.

//go:noescape
func dequantQ8_0Asm(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4_KAsm(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ6_KAsm(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4_0Asm(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ5_0Asm(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ5_KAsm(dst *float32, src *byte, nb int)

// dequantF16Asm and dequantBF16Asm convert n8 >= 1 groups of eight values.

//go:noescape
func dequantF16Asm(dst *float32, src *byte, n8 int)

//go:noescape
func dequantBF16Asm(dst *float32, src *byte, n8 int)
