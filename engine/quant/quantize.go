package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// VecDotType returns the type ggml's CPU backend quantizes activations to
// before a dot product with weights of type weight (ggml-cpu.c
// type_traits_cpu[].vec_dot_type): F32, F16, BF16 stay themselves; Q4_0,
// Q5_0, Q8_0 take Q8_0; Q4_1, Q5_1 take Q8_1; Q2_K to Q6_K take Q8_K. For a
// type with no dot kernel here (Q8_1, Q8_K, IQ*, ...) it returns weight
// itself, and VecDot and DotFunc report ErrUnsupportedType.
func VecDotType(weight Type) Type {
	switch weight {
	case Q4_0, Q5_0, Q8_0:
		return Q8_0
	case Q4_1, Q5_1:
		return Q8_1
	case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K:
		return Q8_K
	}
	return weight
}

// checkQuantize validates a quantizer call: t must be an activation type
// and dst exactly RowSize(t, len(src)) bytes.
func checkQuantize(op string, t Type, dst []byte, src []float32) error {
	switch t {
	case F32, F16, BF16, Q8_0, Q8_1, Q8_K:
	default:
		return fmt.Errorf("quant: "+op+": %w: %s is not an activation type (F32, F16, BF16, Q8_0, Q8_1, Q8_K)", t, ErrUnsupportedType, t)
	}
	return checkRow(op, t, len(src), len(dst))
}

// QuantizeRow encodes src as type t (F32, F16, BF16, Q8_0, Q8_1 or Q8_K)
// into dst, bit for bit as llama.cpp's CPU backend does it on x86-64 with
// AVX2 or AVX-512 (ggml-cpu type_traits_cpu[t].from_float, the functions of
// ggml-cpu/arch/x86/quants.c and ggml-cpu.c). dst must hold exactly
// RowSize(t, len(src)) bytes. It does not allocate.
//
// Where it differs from QuantizeRowRef (ggml's reference quantizers):
//
//   - Q8_0 and Q8_1: the scale's inverse is 127/amax instead of 1/d with
//     d = amax/127 (the two can differ in the last bit), and x*id rounds
//     half to even (_mm256_round_ps) instead of half away from zero
//     (roundf). Q8_1's s is fp16(d * sum), the sum taken over the rounded
//     values before they saturate to int8; the reference sums the stored
//     int8 values. The fp16 conversions use F16C, which keeps NaN payloads.
//   - F16: elements in groups of four convert with F16C, the last len%4
//     with ggml's software conversion; the two differ only for NaN.
//   - F32, BF16 and Q8_K: identical to the reference (x86's
//     quantize_row_q8_K calls quantize_row_q8_K_ref).
//
// For an all-zero Q8_K block ggml writes d = 0 and zero quants but leaves
// bsums as they were; this function writes zero bsums.
func QuantizeRow(t Type, dst []byte, src []float32) error {
	if err := checkQuantize("quantize %s row", t, dst, src); err != nil {
		return err
	}
	switch t {
	case F32:
		quantF32(dst, src)
	case F16:
		n4 := len(src) &^ 3
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], fp32ToFP16(v, i < n4))
		}
	case BF16:
		quantBF16(dst, src)
	case Q8_0:
		quantQ8_0x86(dst, src)
	case Q8_1:
		quantQ8_1x86(dst, src)
	case Q8_K:
		quantQ8_K(dst, src)
	}
	return nil
}

// QuantizeRowRef encodes src as type t (F32, F16, BF16, Q8_0, Q8_1 or Q8_K)
// bit for bit as ggml's reference quantizers (ggml-quants.c
// quantize_row_q8_0_ref, quantize_row_q8_1_ref, quantize_row_q8_K_ref;
// ggml.c ggml_fp32_to_fp16_row and ggml_fp32_to_bf16_row_ref). dst must
// hold exactly RowSize(t, len(src)) bytes. See QuantizeRow for how the CPU
// backend differs.
func QuantizeRowRef(t Type, dst []byte, src []float32) error {
	if err := checkQuantize("quantize %s row (reference)", t, dst, src); err != nil {
		return err
	}
	switch t {
	case F32:
		quantF32(dst, src)
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
		}
	case BF16:
		quantBF16(dst, src)
	case Q8_0:
		quantQ8_0Ref(dst, src)
	case Q8_1:
		quantQ8_1Ref(dst, src)
	case Q8_K:
		quantQ8_K(dst, src)
	}
	return nil
}

func quantF32(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func quantBF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
}

// absMax32 is the largest |x| of a 32-element block.
func absMax32(x *[32]float32) float32 {
	var amax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	return amax
}

// cvtps2dq is x86's float-to-int32 conversion of an already integral value:
// NaN and out-of-range values give the "integer indefinite" 0x80000000.
func cvtps2dq(r float32) int32 {
	if r != r || r >= 2147483648 || r < -2147483648 {
		return math.MinInt32
	}
	return int32(r)
}

// saturate8 narrows like _mm256_packs_epi32 followed by _mm256_packs_epi16:
// signed saturation to int16, then to int8.
func saturate8(v int32) int8 {
	v = max(-32768, min(32767, v))
	return int8(max(-128, min(127, v)))
}

// truncate8 is C's float-to-int8_t store as gcc compiles it on x86-64:
// cvttss2si to int32 (NaN and out-of-range give 0x80000000), low byte kept.
func truncate8(r float32) int8 {
	if r != r || r >= 2147483648 || r < -2147483648 {
		return 0 // low byte of 0x80000000
	}
	return int8(int32(r))
}

// quantQ8_0x86 is ggml-cpu/arch/x86/quants.c quantize_row_q8_0 (AVX2 path).
//
// The AVX2 kernel (quantQ8_0Arch) does the blocks up to the first one
// holding an infinity or a NaN; this loop does that block and goes on
// with the kernel.
func quantQ8_0x86(dst []byte, src []float32) {
	for i := 0; i < len(src)/32; i++ {
		if done := quantQ8_0Arch(dst[34*i:], src[32*i:]); done > 0 {
			i += done
			if i == len(src)/32 {
				return
			}
		}
		x := (*[32]float32)(src[32*i:])
		y := (*[34]byte)(dst[34*i:])
		amax := absMax32(x)
		d := amax / 127
		binary.LittleEndian.PutUint16(y[0:], fp32ToFP16F16C(d))
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		for j, v := range x {
			y[2+j] = byte(saturate8(cvtps2dq(float32(math.RoundToEven(float64(v * id))))))
		}
	}
}

// quantQ8_1x86 is ggml-cpu/arch/x86/quants.c quantize_row_q8_1 (AVX2 path).
func quantQ8_1x86(dst []byte, src []float32) {
	for i := 0; i < len(src)/32; i++ {
		x := (*[32]float32)(src[32*i:])
		y := (*[36]byte)(dst[36*i:])
		amax := absMax32(x)
		d := amax / 127
		binary.LittleEndian.PutUint16(y[0:], fp32ToFP16F16C(d))
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		var sum int32 // wraps like the vector's 32-bit lanes
		for j, v := range x {
			q := cvtps2dq(float32(math.RoundToEven(float64(v * id))))
			sum += q
			y[4+j] = byte(saturate8(q))
		}
		binary.LittleEndian.PutUint16(y[2:], fp32ToFP16F16C(d*float32(sum)))
	}
}

// quantQ8_0Ref is ggml-quants.c quantize_row_q8_0_ref.
func quantQ8_0Ref(dst []byte, src []float32) {
	for i := 0; i < len(src)/32; i++ {
		x := (*[32]float32)(src[32*i:])
		y := (*[34]byte)(dst[34*i:])
		d := absMax32(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		for j, v := range x {
			y[2+j] = byte(truncate8(float32(math.Round(float64(v * id)))))
		}
	}
}

// quantQ8_1Ref is ggml-quants.c quantize_row_q8_1_ref.
func quantQ8_1Ref(dst []byte, src []float32) {
	for i := 0; i < len(src)/32; i++ {
		x := (*[32]float32)(src[32*i:])
		y := (*[36]byte)(dst[36*i:])
		d := absMax32(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		var sum int32
		for j, v := range x {
			q := truncate8(float32(math.Round(float64(v * id))))
			sum += int32(q)
			y[4+j] = byte(q)
		}
		binary.LittleEndian.PutUint16(y[2:], FP32ToFP16(float32(sum)*d))
	}
}

// nearestInt is ggml-quants.c nearest_int: adding 1.5*2^23 leaves the
// rounded (half to even) integer in the low mantissa bits. It is exact for
// |f| < 2^22 and, like ggml's, returns garbage outside that range.
func nearestInt(f float32) int32 {
	v := f + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// quantQ8_K is ggml-quants.c quantize_row_q8_K_ref (which x86's
// quantize_row_q8_K calls).
//
// The AVX2 kernel (quantQ8_KArch) does the blocks up to the first one that
// is all zeros, holds an infinity or a NaN, or whose scale overflows; this
// loop does that block and goes on with the kernel.
func quantQ8_K(dst []byte, src []float32) {
	for i := 0; i < len(src)/QK_K; i++ {
		if done := quantQ8_KArch(dst[292*i:], src[QK_K*i:]); done > 0 {
			i += done
			if i == len(src)/QK_K {
				return
			}
		}
		x := (*[QK_K]float32)(src[QK_K*i:])
		y := (*[292]byte)(dst[292*i:])
		var maxv, amax float32
		for _, v := range x {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, maxv = a, v
			}
		}
		if amax == 0 {
			clear(y[:])
			continue
		}
		iscale := -127 / maxv
		for j, v := range x {
			// The conversion keeps arm64 from fusing the product into
			// nearestInt's add.
			y[4+j] = byte(int8(min(127, nearestInt(float32(iscale*v)))))
		}
		for j := 0; j < QK_K/16; j++ {
			var sum int32
			for _, q := range y[4+16*j : 4+16*j+16] {
				sum += int32(int8(q))
			}
			binary.LittleEndian.PutUint16(y[260+2*j:], uint16(int16(sum)))
		}
		binary.LittleEndian.PutUint32(y[0:], math.Float32bits(1/iscale))
	}
}
