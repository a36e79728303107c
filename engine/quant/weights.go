package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// QuantizeWeights encodes a row of weights as t, for building synthetic
// models: Q8_0 and Q5_0 with ggml's reference quantizers (what
// llama-quantize writes; Q5_0 is its Q4_K_M fallback for rows that are not
// whole 256-element blocks), Q4_K and Q6_K with a simple scheme of its own (below), F32, F16
// and BF16 by rounding. dst must hold exactly RowSize(t, len(src)) bytes.
// Every block decodes (with DequantizeRow or ggml's to_float) to within
// half a quantization step of src, where a step is the block's effective
// scale d*sc; values must be finite.
//
// The K-quant scheme is deliberately plain, not ggml's iterative search
// (make_qkx2_quants, make_qx_quants): each sub-block gets the scale (and,
// for Q4_K, the min) that just covers its range, the super-block scales
// are rounded up so the 6-bit (Q4_K) or 8-bit (Q6_K) sub-block scales
// never clip, and every value rounds to the nearest level. The blocks are
// valid ggml blocks; they are only less accurate than llama-quantize's.
func QuantizeWeights(t Type, dst []byte, src []float32) error {
	switch t {
	case F32, F16, BF16, Q8_0, Q5_0, Q4_K, Q6_K:
	default:
		return fmt.Errorf("quant: quantize %s weights: %w: weights can be F32, F16, BF16, Q8_0, Q5_0, Q4_K or Q6_K", t, ErrUnsupportedType)
	}
	if err := checkRow("quantize %s weights", t, len(src), len(dst)); err != nil {
		return err
	}
	switch t {
	case F32, F16, BF16:
		return QuantizeRowRef(t, dst, src)
	case Q8_0:
		quantQ8_0Ref(dst, src)
	case Q5_0:
		quantQ5_0Ref(dst, src)
	case Q4_K:
		for i := 0; i < len(src)/QK_K; i++ {
			weightsQ4_K((*[144]byte)(dst[144*i:]), (*[QK_K]float32)(src[QK_K*i:]))
		}
	case Q6_K:
		for i := 0; i < len(src)/QK_K; i++ {
			weightsQ6_K((*[210]byte)(dst[210*i:]), (*[QK_K]float32)(src[QK_K*i:]))
		}
	}
	return nil
}

// quantQ5_0Ref is ggml-quants.c quantize_row_q5_0_ref: d = -v/16 for the
// value v of largest magnitude (so v itself is level 0), levels
// (int8)(x/d + 16.5) capped at 31, low nibbles in qs (elements j and
// 16+j share byte j), fifth bits in the 32-bit qh.
func quantQ5_0Ref(dst []byte, src []float32) {
	for i := 0; i < len(src)/32; i++ {
		x := (*[32]float32)(src[32*i:])
		y := (*[22]byte)(dst[22*i:])
		var amax, vmax float32
		for _, v := range x {
			if a := float32(math.Abs(float64(v))); amax < a {
				amax, vmax = a, v
			}
		}
		d := vmax / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		var qh uint32
		for j := 0; j < 16; j++ {
			x0 := min(31, truncate8(float32(x[j]*id)+16.5))
			x1 := min(31, truncate8(float32(x[16+j]*id)+16.5))
			y[6+j] = byte(x0&0x0f) | byte(x1&0x0f)<<4
			qh |= uint32(x0&0x10) >> 4 << j
			qh |= uint32(x1&0x10) >> 4 << (j + 16)
		}
		binary.LittleEndian.PutUint32(y[2:], qh)
	}
}

// roundUpFP16 returns the smallest binary16 value h with FP16ToFP32(h) >= v
// (v >= 0 and finite; values beyond the half range give infinity).
func roundUpFP16(v float32) uint16 {
	h := FP32ToFP16(v)
	if FP16ToFP32(h) < v {
		h++ // positive halves order like their bits
	}
	return h
}

// ceilDiv is ceil(a/b) for a >= 0, b > 0, clamped to [0, hi].
func ceilDiv(a, b float32, hi int32) int32 {
	q := int32(math.Ceil(float64(a / b)))
	return max(0, min(hi, q))
}

// weightsQ4_K fills one Q4_K block: x ≈ d*sc[j]*q - dmin*m[j], q in [0, 15],
// sc and m 6-bit, eight sub-blocks of 32.
func weightsQ4_K(y *[144]byte, x *[QK_K]float32) {
	var lo, hi [8]float32 // sub-block min (<= 0) and max
	var maxNeg float32    // largest -lo, the min the offset must reach
	for j := 0; j < 8; j++ {
		lo[j], hi[j] = 0, float32(math.Inf(-1))
		for _, v := range x[32*j : 32*j+32] {
			lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
		}
		maxNeg = max(maxNeg, -lo[j])
	}
	// The min offsets first: m[j]*dmin >= -lo[j], so nothing falls below
	// level 0.
	dminH := roundUpFP16(maxNeg / 63)
	dmin := FP16ToFP32(dminH)
	var m [8]int32
	var off [8]float32
	var need [8]float32 // the step each sub-block needs to reach its max
	var maxNeed float32
	for j := 0; j < 8; j++ {
		if dmin > 0 {
			m[j] = ceilDiv(-lo[j], dmin, 63)
		}
		off[j] = float32(dmin * float32(m[j])) // no fusing into the add below (arm64)
		need[j] = max(0, (hi[j]+off[j])/15)
		maxNeed = max(maxNeed, need[j])
	}
	dH := roundUpFP16(maxNeed / 63)
	d := FP16ToFP32(dH)
	var sc [8]int32
	for j := 0; j < 8; j++ {
		if d > 0 {
			sc[j] = ceilDiv(need[j], d, 63)
		}
	}
	binary.LittleEndian.PutUint16(y[0:], dH)
	binary.LittleEndian.PutUint16(y[2:], dminH)
	packScalesK4((*[12]byte)(y[4:]), &sc, &m)
	for j := 0; j < 8; j++ {
		// The decoder's own float32 scale and offset, so rounding matches it.
		step := d * float32(sc[j])
		for l := 0; l < 32; l++ {
			var q int32
			if step > 0 {
				q = max(0, min(15, int32(math.RoundToEven(float64((x[32*j+l]+off[j])/step)))))
			}
			// Element 64*k + l sits in the low nibble of byte 32*k + l,
			// element 64*k + 32 + l in its high nibble.
			bi := 16 + 32*(j/2) + l
			if j%2 == 0 {
				y[bi] = y[bi]&0xf0 | byte(q)
			} else {
				y[bi] = y[bi]&0x0f | byte(q)<<4
			}
		}
	}
}

// packScalesK4 stores eight 6-bit scales and mins the way scaleMinK4 reads
// them: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 as nibbles in
// byte j+4 with the top two bits in bytes j-4 and j.
func packScalesK4(q *[12]byte, sc, m *[8]int32) {
	clear(q[:])
	for j := 0; j < 8; j++ {
		s, mm := byte(sc[j]), byte(m[j])
		if j < 4 {
			q[j] |= s
			q[j+4] |= mm
		} else {
			q[j+4] = s&0x0f | (mm&0x0f)<<4
			q[j-4] |= (s >> 4) << 6
			q[j] |= (mm >> 4) << 6
		}
	}
}

// weightsQ6_K fills one Q6_K block: x ≈ d*sc[j]*q, q in [-32, 31], sc int8,
// sixteen sub-blocks of 16. Each sub-block's step covers its largest |x|
// with 31 levels, so q never clips.
func weightsQ6_K(y *[210]byte, x *[QK_K]float32) {
	var need [16]float32
	var maxNeed float32
	for j := 0; j < 16; j++ {
		var amax float32
		for _, v := range x[16*j : 16*j+16] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		need[j] = amax / 31
		maxNeed = max(maxNeed, need[j])
	}
	dH := roundUpFP16(maxNeed / 127)
	d := FP16ToFP32(dH)
	clear(y[:])
	binary.LittleEndian.PutUint16(y[208:], dH)
	for j := 0; j < 16; j++ {
		var sc int32
		if d > 0 {
			sc = ceilDiv(need[j], d, 127)
		}
		y[192+j] = byte(int8(sc))
		step := d * float32(sc)
		for l := 0; l < 16; l++ {
			p := 16*j + l
			var q int32
			if step > 0 {
				q = max(-32, min(31, int32(math.RoundToEven(float64(x[p]/step)))))
			}
			putQ6(y, p, byte(q+32))
		}
	}
}

// putQ6 stores the 6-bit value v of element p (0..255) of a Q6_K block, in
// the layout dequantQ6_K reads: within each half of 128, element 32*g + l
// (g = 0..3) has its low nibble in ql[l + 32*(g&1)] (low nibble for g < 2,
// high for g >= 2) and its top two bits in qh[l] at bit 2*g.
func putQ6(y *[210]byte, p int, v byte) {
	n, r := p/128, p%128
	g, l := r/32, r%32
	qi := 64*n + l + 32*(g&1)
	if g < 2 {
		y[qi] |= v & 0x0f
	} else {
		y[qi] |= (v & 0x0f) << 4
	}
	y[128+32*n+l] |= (v >> 4) << (2 * g)
}
