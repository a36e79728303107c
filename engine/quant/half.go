package quant

import (
	"math"
	"sync"
)

// FP16ToFP32 converts an IEEE binary16 value exactly. Subnormals become
// normal float32 values; infinities stay infinite; a NaN keeps its sign and
// payload and comes out quiet, as ggml's ggml_fp16_to_fp32 and the F16C
// instruction VCVTPH2PS both do. It is written to inline into the kernels.
func FP16ToFP32(h uint16) float32 {
	u := uint32(h)
	bits := u & 0x7fff << 13
	// Exponent and mantissa placed at the bottom of a float32 and scaled by
	// 2^(127-15): exact for normals, subnormals and zero alike.
	f := math.Float32frombits(bits) * 0x1p112
	if u&0x7c00 == 0x7c00 { // infinity or NaN
		bits |= 0x7f800000
		if u&0x3ff != 0 {
			bits |= 0x400000
		}
		f = math.Float32frombits(bits)
	}
	if u&0x8000 != 0 {
		f = -f
	}
	return f
}

// fp16Table holds FP16ToFP32 of every half value, built on first use by the
// F16 row kernels (the per-block scales convert directly).
var (
	fp16Once  sync.Once
	fp16Table *[1 << 16]float32
)

func fp16Lookup() *[1 << 16]float32 {
	fp16Once.Do(func() {
		var t [1 << 16]float32
		for i := range t {
			t[i] = FP16ToFP32(uint16(i))
		}
		fp16Table = &t
	})
	return fp16Table
}

// FP32ToFP16 rounds f to the nearest binary16 value, ties to even, with
// overflow to infinity and gradual underflow to subnormals: the result of
// ggml's software ggml_fp32_to_fp16, which its reference quantizers use.
// Every NaN becomes the quiet NaN 0x7e00 with f's sign.
func FP32ToFP16(f float32) uint16 { return fp32ToFP16(f, false) }

// fp32ToFP16F16C is FP32ToFP16 as the F16C instruction VCVTPS2PH computes it
// (the CPU backend's GGML_CPU_FP32_TO_FP16 on x86): identical except that a
// NaN keeps the top 10 bits of its payload, made quiet.
func fp32ToFP16F16C(f float32) uint16 { return fp32ToFP16(f, true) }

func fp32ToFP16(f float32, keepPayload bool) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		switch {
		case mant == 0:
			return sign | 0x7c00
		case keepPayload:
			return sign | 0x7e00 | uint16(mant>>13)
		default:
			return sign | 0x7e00
		}
	}
	e := exp - 127 + 15 // the binary16 biased exponent
	switch {
	case e >= 31:
		return sign | 0x7c00
	case e <= 0:
		// Subnormal half: value = q * 2^-24 with q = sig24 >> (14 - e).
		if e < -10 {
			return sign // below half the smallest subnormal: rounds to zero
		}
		sig := mant | 0x800000
		return sign | uint16(shiftRoundEven(sig, uint32(14-e)))
	default:
		// Normal half: keep 10 mantissa bits. A carry out of the mantissa
		// bumps the exponent, and from e == 30 reaches infinity, as it must.
		return sign | uint16(shiftRoundEven(uint32(e)<<23|mant, 13))
	}
}

// shiftRoundEven returns v >> s rounded to nearest, ties to even (1 <= s < 32).
func shiftRoundEven(v, s uint32) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// BF16ToFP32 converts a bfloat16 value exactly (it is the top half of a
// float32).
func BF16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FP32ToBF16 rounds f to bfloat16, ties to even, subnormals kept, as
// ggml_compute_fp32_to_bf16: a NaN keeps its top bits and is made quiet.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}
