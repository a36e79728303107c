package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DotKernel is the dot product of n elements of a weight row w and an
// activation row x already in the weight's VecDotType. It does no checking:
// it panics (index out of range) if w or x is shorter than n elements need,
// and n must be a multiple of the block size.
type DotKernel func(n int, w, x []byte) float32

// DotFunc returns the dot kernel for weights of type weight, for callers
// that check sizes once and then call it per (row, token) in a matmul.
// The kernels follow ggml's scalar ("generic") formulas in
// ggml-cpu/quants.c and ggml-cpu/vec.cpp operation for operation: integer
// products within a block; the block terms d*dx*isum (and, for Q4_1/Q5_1,
// the m*s term of Q8_1; for the K-quants, dmin times the Q8_K bsums)
// accumulated in float32 in ggml's order, including the eight float lanes
// the K-quant kernels keep; F32, F16 and BF16 accumulate in float64.
// ggml's SIMD kernels (what llama.cpp runs on AVX2/AVX-512) accumulate in a
// different order, so results differ from those in the last bits; see the
// package tests for the measured difference.
func DotFunc(weight Type) (DotKernel, error) {
	// On amd64 with AVX2, the kernels of dot_amd64.s compute the same bits
	// faster; elsewhere (or built with -tags purego) simdDot returns nil.
	if f := simdDot(weight); f != nil {
		return f, nil
	}
	switch weight {
	case F32:
		return dotF32, nil
	case F16:
		return dotF16, nil
	case BF16:
		return dotBF16, nil
	case Q4_0:
		return dotQ4_0, nil
	case Q4_1:
		return dotQ4_1, nil
	case Q5_0:
		return dotQ5_0, nil
	case Q5_1:
		return dotQ5_1, nil
	case Q8_0:
		return dotQ8_0, nil
	case Q2_K:
		return dotQ2_K, nil
	case Q3_K:
		return dotQ3_K, nil
	case Q4_K:
		return dotQ4_K, nil
	case Q5_K:
		return dotQ5_K, nil
	case Q6_K:
		return dotQ6_K, nil
	}
	if !weight.Known() {
		return nil, fmt.Errorf("quant: dot kernel: %w: id %d", ErrUnknownType, uint32(weight))
	}
	return nil, fmt.Errorf("quant: dot kernel: %w: no dot product for %s weights", ErrUnsupportedType, weight)
}

// VecDot is the dot product of n elements of w (type weight) and x (type
// VecDotType(weight)), as DotFunc's kernel computes it, with the sizes
// checked: w and x must hold exactly the bytes of n elements.
func VecDot(weight Type, n int, w, x []byte) (float32, error) {
	f, err := DotFunc(weight)
	if err != nil {
		return 0, err
	}
	if err := checkRow("dot product: %s weights", weight, n, len(w)); err != nil {
		return 0, err
	}
	if err := checkRow("dot product: %s activations", VecDotType(weight), n, len(x)); err != nil {
		return 0, err
	}
	return f(n, w, x), nil
}

func f32At(b []byte, i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
}

// dotF32 is ggml_vec_dot_f32's scalar path: float32 products summed in
// float64.
func dotF32(n int, w, x []byte) float32 {
	w, x = w[:4*n], x[:4*n]
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(f32At(w, i) * f32At(x, i))
	}
	return float32(sum)
}

// dotF16 is ggml_vec_dot_f16's scalar path (the products are exact).
func dotF16(n int, w, x []byte) float32 {
	tab := fp16Lookup()
	w, x = w[:2*n], x[:2*n]
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(tab[binary.LittleEndian.Uint16(w[2*i:])] * tab[binary.LittleEndian.Uint16(x[2*i:])])
	}
	return float32(sum)
}

// dotBF16 is ggml_vec_dot_bf16's scalar path (the products are exact).
func dotBF16(n int, w, x []byte) float32 {
	w, x = w[:2*n], x[:2*n]
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:])))
	}
	return float32(sum)
}

// dotQ4_0 is ggml_vec_dot_q4_0_q8_0_generic: sumf += sumi*dx*dy.
func dotQ4_0(n int, w, x []byte) float32 {
	var sumf float32
	for i := 0; i < n/32; i++ {
		a := (*[18]byte)(w[18*i:])
		b := (*[34]byte)(x[34*i:])
		var s0, s1 int32
		for j := 0; j < 16; j++ {
			s0 += (int32(a[2+j]&0x0f) - 8) * int32(int8(b[2+j]))
			s1 += (int32(a[2+j]>>4) - 8) * int32(int8(b[18+j]))
		}
		sumf += float32(float32(s0+s1) * half(a[0:]) * half(b[0:]))
	}
	return sumf
}

// dotQ4_1 is ggml_vec_dot_q4_1_q8_1_generic:
// sumf += (dx*dy)*sumi + mx*sy.
func dotQ4_1(n int, w, x []byte) float32 {
	var sumf float32
	for i := 0; i < n/32; i++ {
		a := (*[20]byte)(w[20*i:])
		b := (*[36]byte)(x[36*i:])
		var s0, s1 int32
		for j := 0; j < 16; j++ {
			s0 += int32(a[4+j]&0x0f) * int32(int8(b[4+j]))
			s1 += int32(a[4+j]>>4) * int32(int8(b[20+j]))
		}
		dd := half(a[0:]) * half(b[0:])
		sumf += float32(float32(dd*float32(s0+s1)) + float32(half(a[2:])*half(b[2:])))
	}
	return sumf
}

// dotQ5_0 is ggml_vec_dot_q5_0_q8_0_generic: sumf += (dx*dy)*sumi.
func dotQ5_0(n int, w, x []byte) float32 {
	var sumf float32
	for i := 0; i < n/32; i++ {
		a := (*[22]byte)(w[22*i:])
		b := (*[34]byte)(x[34*i:])
		qh := binary.LittleEndian.Uint32(a[2:])
		var s0, s1 int32
		for j := 0; j < 16; j++ {
			h0 := byte(qh>>j<<4) & 0x10
			h1 := byte(qh>>(j+12)) & 0x10
			s0 += (int32(a[6+j]&0x0f|h0) - 16) * int32(int8(b[2+j]))
			s1 += (int32(a[6+j]>>4|h1) - 16) * int32(int8(b[18+j]))
		}
		sumf += float32(float32(half(a[0:])*half(b[0:])) * float32(s0+s1))
	}
	return sumf
}

// dotQ5_1 is ggml_vec_dot_q5_1_q8_1_generic:
// sumf += (dx*dy)*sumi + mx*sy.
func dotQ5_1(n int, w, x []byte) float32 {
	var sumf float32
	for i := 0; i < n/32; i++ {
		a := (*[24]byte)(w[24*i:])
		b := (*[36]byte)(x[36*i:])
		qh := binary.LittleEndian.Uint32(a[4:])
		var s0, s1 int32
		for j := 0; j < 16; j++ {
			h0 := byte(qh>>j<<4) & 0x10
			h1 := byte(qh>>(j+12)) & 0x10
			s0 += int32(a[8+j]&0x0f|h0) * int32(int8(b[4+j]))
			s1 += int32(a[8+j]>>4|h1) * int32(int8(b[20+j]))
		}
		dd := half(a[0:]) * half(b[0:])
		sumf += float32(float32(dd*float32(s0+s1)) + float32(half(a[2:])*half(b[2:])))
	}
	return sumf
}

// dotQ8_0 is ggml_vec_dot_q8_0_q8_0_generic: sumf += sumi*(dx*dy).
func dotQ8_0(n int, w, x []byte) float32 {
	var sumf float32
	for i := 0; i < n/32; i++ {
		a := (*[34]byte)(w[34*i:])
		b := (*[34]byte)(x[34*i:])
		var s int32
		for j := 2; j < 34; j++ {
			s += int32(int8(a[j])) * int32(int8(b[j]))
		}
		sumf += float32(float32(s) * float32(half(a[0:])*half(b[0:])))
	}
	return sumf
}

// q8K is a view of a Q8_K block: d f32 | qs int8[256] | bsums int16[16].
type q8K = [292]byte

func q8KScale(b *q8K) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[0:])) }

func q8KBsum(b *q8K, j int) int32 { return int32(int16(binary.LittleEndian.Uint16(b[260+2*j:]))) }

// dotQ2_K is ggml_vec_dot_q2_K_q8_K_generic:
// sumf += dall*isum - dmin*summs per super-block.
func dotQ2_K(n int, w, x []byte) float32 {
	var sumf float32
	for i := 0; i < n/QK_K; i++ {
		a := (*[84]byte)(w[84*i:])
		b := (*q8K)(x[292*i:])
		var summs int32
		for j := 0; j < 16; j++ {
			summs += q8KBsum(b, j) * int32(a[j]>>4)
		}
		yd := q8KScale(b)
		dall := yd * half(a[80:])
		dmin := yd * half(a[82:])
		var isum int32
		q8 := b[4:]
		is := 0
		for k := 0; k < 2; k++ {
			q2 := (*[32]byte)(a[16+32*k:])
			for shift := uint(0); shift < 8; shift += 2 {
				var lo, hi int32
				for l := 0; l < 16; l++ {
					lo += int32(int8(q8[l])) * int32((q2[l]>>shift)&3)
					hi += int32(int8(q8[16+l])) * int32((q2[16+l]>>shift)&3)
				}
				isum += int32(a[is]&0x0f)*lo + int32(a[is+1]&0x0f)*hi
				is += 2
				q8 = q8[32:]
			}
		}
		sumf += float32(float32(dall*float32(isum)) - float32(dmin*float32(summs)))
	}
	return sumf
}

// The K-quant kernels below keep ggml's structure where it affects the
// float result: per super-block, eight int32 lanes aux32[l] = the sum over
// positions p with p%8 == l of scale(p) * q8[p] * a[p], then
// sums[l] += d * aux32[l], and at the end sumf += sums[l] for l = 0..7.
// The integer lanes are summed in whatever grouping is fastest (integer
// addition is exact); decoding is fused into that loop instead of going
// through ggml's aux8 array.

// addLanes is ggml's "sums[l] += d * aux32[l]".
func addLanes(sums *[8]float32, d float32, aux *[8]int32) {
	for l := range sums {
		sums[l] += float32(d * float32(aux[l]))
	}
}

// finishLanes is ggml's final "for l: sumf += sums[l]".
func finishLanes(sumf float32, sums *[8]float32) float32 {
	for _, s := range sums {
		sumf += s
	}
	return sumf
}

// i8 reads a byte as the int8 it stores.
func i8(b byte) int32 { return int32(int8(b)) }

// dotQ3_K is ggml_vec_dot_q3_K_q8_K_generic.
func dotQ3_K(n int, w, x []byte) float32 {
	var sums [8]float32
	for i := 0; i < n/QK_K; i++ {
		blk := (*[110]byte)(w[110*i:])
		b := (*q8K)(x[292*i:])
		hm := (*[32]byte)(blk[0:])
		sc := q3KScales((*[12]byte)(blk[96:]))
		var aux [8]int32
		// Element 128k + 32g + l: bits 2g of qs[32k + l], high bit 4k + g
		// of hmask[l] (clear means minus 4), scale 8k + 2g + l/16.
		for k := 0; k < 2; k++ {
			q3 := (*[32]byte)(blk[32+32*k:])
			for g := 0; g < 4; g++ {
				y := (*[32]byte)(b[4+128*k+32*g:])
				shift, bit := uint(2*g), uint(4*k+g)
				s0, s1 := sc[8*k+2*g], sc[8*k+2*g+1]
				v := func(l int) int32 { return int32((q3[l]>>shift)&3) - 4 + 4*int32((hm[l]>>bit)&1) }
				for l := 0; l < 8; l++ {
					aux[l] += s0*(v(l)*i8(y[l])+v(l+8)*i8(y[l+8])) + s1*(v(l+16)*i8(y[l+16])+v(l+24)*i8(y[l+24]))
				}
			}
		}
		addLanes(&sums, half(blk[108:])*q8KScale(b), &aux)
	}
	return finishLanes(0, &sums)
}

// scalesMinsK4 unpacks the eight scales and eight mins of a Q4_K/Q5_K block.
func scalesMinsK4(q *[12]byte) (sc, mins [8]int32) {
	for j := 0; j < 8; j++ {
		s, m := scaleMinK4(j, q)
		sc[j], mins[j] = int32(s), int32(m)
	}
	return sc, mins
}

// kMinTerm is the K-quants' sum over the sixteen Q8_K bsums times the min
// of their 32-element sub-block.
func kMinTerm(b *q8K, mins *[8]int32) int32 {
	var s int32
	for j := 0; j < 16; j++ {
		s += q8KBsum(b, j) * mins[j/2]
	}
	return s
}

// dotQ4_K is ggml_vec_dot_q4_K_q8_K_generic.
func dotQ4_K(n int, w, x []byte) float32 {
	var sums [8]float32
	var sumf float32
	for i := 0; i < n/QK_K; i++ {
		blk := (*[144]byte)(w[144*i:])
		b := (*q8K)(x[292*i:])
		sc, mins := scalesMinsK4((*[12]byte)(blk[4:]))
		var aux [8]int32
		// Byte l of the j-th 32 bytes holds element 64j + l (low nibble,
		// scale 2j) and 64j + 32 + l (high nibble, scale 2j+1).
		for j := 0; j < 4; j++ {
			q4 := (*[32]byte)(blk[16+32*j:])
			ylo := (*[32]byte)(b[4+64*j:])
			yhi := (*[32]byte)(b[36+64*j:])
			slo, shi := sc[2*j], sc[2*j+1]
			for l := 0; l < 8; l++ {
				lo := i8(ylo[l])*int32(q4[l]&15) + i8(ylo[l+8])*int32(q4[l+8]&15) +
					i8(ylo[l+16])*int32(q4[l+16]&15) + i8(ylo[l+24])*int32(q4[l+24]&15)
				hi := i8(yhi[l])*int32(q4[l]>>4) + i8(yhi[l+8])*int32(q4[l+8]>>4) +
					i8(yhi[l+16])*int32(q4[l+16]>>4) + i8(yhi[l+24])*int32(q4[l+24]>>4)
				aux[l] += slo*lo + shi*hi
			}
		}
		yd := q8KScale(b)
		addLanes(&sums, half(blk[0:])*yd, &aux)
		sumf -= float32(half(blk[2:]) * yd * float32(kMinTerm(b, &mins)))
	}
	return finishLanes(sumf, &sums)
}

// dotQ5_K is ggml_vec_dot_q5_K_q8_K_generic.
func dotQ5_K(n int, w, x []byte) float32 {
	var sums [8]float32
	var sumf float32
	for i := 0; i < n/QK_K; i++ {
		blk := (*[176]byte)(w[176*i:])
		b := (*q8K)(x[292*i:])
		qh := (*[32]byte)(blk[16:])
		sc, mins := scalesMinsK4((*[12]byte)(blk[4:]))
		var aux [8]int32
		// As Q4_K, with the fifth bits of elements 64j + l and 64j + 32 + l
		// in bits 2j and 2j+1 of qh[l].
		for j := 0; j < 4; j++ {
			q4 := (*[32]byte)(blk[48+32*j:])
			ylo := (*[32]byte)(b[4+64*j:])
			yhi := (*[32]byte)(b[36+64*j:])
			slo, shi := sc[2*j], sc[2*j+1]
			blo, bhi := uint(2*j), uint(2*j+1)
			lo := func(l int) int32 { return int32(q4[l]&15 | (qh[l]>>blo&1)<<4) }
			hi := func(l int) int32 { return int32(q4[l]>>4 | (qh[l]>>bhi&1)<<4) }
			for l := 0; l < 8; l++ {
				sl := i8(ylo[l])*lo(l) + i8(ylo[l+8])*lo(l+8) + i8(ylo[l+16])*lo(l+16) + i8(ylo[l+24])*lo(l+24)
				sh := i8(yhi[l])*hi(l) + i8(yhi[l+8])*hi(l+8) + i8(yhi[l+16])*hi(l+16) + i8(yhi[l+24])*hi(l+24)
				aux[l] += slo*sl + shi*sh
			}
		}
		yd := q8KScale(b)
		addLanes(&sums, half(blk[0:])*yd, &aux)
		sumf -= float32(half(blk[2:]) * yd * float32(kMinTerm(b, &mins)))
	}
	return finishLanes(sumf, &sums)
}

// dotQ6_K is ggml_vec_dot_q6_K_q8_K_generic.
func dotQ6_K(n int, w, x []byte) float32 {
	var sums [8]float32
	for i := 0; i < n/QK_K; i++ {
		blk := (*[210]byte)(w[210*i:])
		b := (*q8K)(x[292*i:])
		var aux [8]int32
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(blk[64*h:])
			qh := (*[32]byte)(blk[128+32*h:])
			sc := (*[8]byte)(blk[192+8*h:])
			// Element 128h + 32g + l: nibble g/2 of ql[32(g%2) + l], bits
			// 2g of qh[l], scale 8h + 2g + l/16, minus 32.
			for g := 0; g < 4; g++ {
				qlg := (*[32]byte)(ql[32*(g&1):])
				y := (*[32]byte)(b[4+128*h+32*g:])
				sLo, sHi := uint(4*(g>>1)), uint(2*g)
				s0, s1 := i8(sc[2*g]), i8(sc[2*g+1])
				v := func(l int) int32 { return int32((qlg[l]>>sLo)&15|((qh[l]>>sHi)&3)<<4) - 32 }
				for l := 0; l < 8; l++ {
					aux[l] += s0*(v(l)*i8(y[l])+v(l+8)*i8(y[l+8])) + s1*(v(l+16)*i8(y[l+16])+v(l+24)*i8(y[l+24]))
				}
			}
		}
		addLanes(&sums, half(blk[208:])*q8KScale(b), &aux)
	}
	return finishLanes(0, &sums)
}
