package quant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrLength is wrapped when a buffer does not hold exactly the bytes or
// elements a row of the given type and length needs.
var ErrLength = errors.New("wrong buffer length")

// checkRow returns an error unless src holds exactly the bytes of n elements
// of t, t being a type this package decodes. op names the operation in the
// error, with %s standing for the type; it is formatted only on failure so
// the check does not allocate.
func checkRow(op string, t Type, n int, src int) error {
	if err := CheckDecodable(t); err != nil {
		return fmt.Errorf("quant: "+op+": %w", t, err)
	}
	want, err := RowSize(t, int64(n))
	if err != nil {
		return fmt.Errorf("quant: "+op+": %w: %w", t, ErrLength, err)
	}
	if int64(src) != want {
		return fmt.Errorf("quant: "+op+": %w: %d elements of %s take %d bytes, got %d", t, ErrLength, n, t, want, src)
	}
	return nil
}

// DequantizeRow decodes len(dst) elements of type t from src, which must
// hold exactly RowSize(t, len(dst)) bytes. The values are bit for bit those
// of ggml's to_float for the type (dequantize_row_* in ggml-quants.c). Q8_1
// has no to_float in ggml; it decodes here as d*q, like Q8_0. On amd64
// with AVX2 and F16C, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K go
// through the kernels of dequant_amd64.s, which give the scalar kernels'
// bits eight elements at a time. It does not allocate.
func DequantizeRow(t Type, dst []float32, src []byte) error {
	if err := checkRow("dequantize %s row", t, len(dst), len(src)); err != nil {
		return err
	}
	if k := simdDequant(t); k != nil { // same bits, eight lanes at a time
		k(dst, src)
		return nil
	}
	if !dequantScalar(t, dst, src) {
		return fmt.Errorf("quant: dequantize row: %w: %s", ErrUnsupportedType, t)
	}
	return nil
}

// dequantScalar decodes whole blocks of type t from src into dst with the
// kernels below and reports whether it knows t.
func dequantScalar(t Type, dst []float32, src []byte) bool {
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		tab := fp16Lookup()
		for i := range dst {
			dst[i] = tab[binary.LittleEndian.Uint16(src[2*i:])]
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0:
		dequantQ4_0(dst, src)
	case Q4_1:
		dequantQ4_1(dst, src)
	case Q5_0:
		dequantQ5_0(dst, src)
	case Q5_1:
		dequantQ5_1(dst, src)
	case Q8_0:
		dequantQ8_0(dst, src)
	case Q8_1:
		dequantQ8_1(dst, src)
	case Q2_K:
		dequantQ2_K(dst, src)
	case Q3_K:
		dequantQ3_K(dst, src)
	case Q4_K:
		dequantQ4_K(dst, src)
	case Q5_K:
		dequantQ5_K(dst, src)
	case Q6_K:
		dequantQ6_K(dst, src)
	case Q8_K:
		dequantQ8_K(dst, src)
	default:
		return false
	}
	return true
}

// half reads the little-endian binary16 at b[0:2] as float32.
func half(b []byte) float32 { return FP16ToFP32(binary.LittleEndian.Uint16(b)) }

// The kernels below follow ggml-quants.c's dequantize_row_* operation for
// operation. Where ggml computes a*b + c, Go writes float32(a*b) + c: the
// conversion forbids fusing into an FMA (which ggml's generic x86-64 build
// does not do either), so the rounding matches. A product kept in a
// variable and subtracted later (the K-quants' dmin*m) needs the
// conversion too: the Go spec allows fusing across statements, and the
// arm64 compiler did, into FMSUB.

// Q4_0 block (18 bytes): d f16 | qs[16], element j low nibble, j+16 high.
func dequantQ4_0(dst []float32, src []byte) {
	for i := 0; i < len(dst)/32; i++ {
		b := (*[18]byte)(src[18*i:])
		y := (*[32]float32)(dst[32*i:])
		d := half(b[0:])
		for j := 0; j < 16; j++ {
			q := b[2+j]
			y[j] = float32(int32(q&0x0f)-8) * d
			y[j+16] = float32(int32(q>>4)-8) * d
		}
	}
}

// Q4_1 block (20 bytes): d f16 | m f16 | qs[16]; x = q*d + m.
func dequantQ4_1(dst []float32, src []byte) {
	for i := 0; i < len(dst)/32; i++ {
		b := (*[20]byte)(src[20*i:])
		y := (*[32]float32)(dst[32*i:])
		d, m := half(b[0:]), half(b[2:])
		for j := 0; j < 16; j++ {
			q := b[4+j]
			y[j] = float32(float32(q&0x0f)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

// Q5_0 block (22 bytes): d f16 | qh u32 (bit j: fifth bit of element j) | qs[16].
func dequantQ5_0(dst []float32, src []byte) {
	for i := 0; i < len(dst)/32; i++ {
		b := (*[22]byte)(src[22*i:])
		y := (*[32]float32)(dst[32*i:])
		d := half(b[0:])
		qh := binary.LittleEndian.Uint32(b[2:])
		for j := 0; j < 16; j++ {
			q := b[6+j]
			h0 := byte(qh>>j<<4) & 0x10
			h1 := byte(qh>>(j+12)) & 0x10
			y[j] = float32(int32(q&0x0f|h0)-16) * d
			y[j+16] = float32(int32(q>>4|h1)-16) * d
		}
	}
}

// Q5_1 block (24 bytes): d f16 | m f16 | qh u32 | qs[16]; x = q*d + m.
func dequantQ5_1(dst []float32, src []byte) {
	for i := 0; i < len(dst)/32; i++ {
		b := (*[24]byte)(src[24*i:])
		y := (*[32]float32)(dst[32*i:])
		d, m := half(b[0:]), half(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		for j := 0; j < 16; j++ {
			q := b[8+j]
			h0 := byte(qh>>j<<4) & 0x10
			h1 := byte(qh>>(j+12)) & 0x10
			y[j] = float32(float32(q&0x0f|h0)*d) + m
			y[j+16] = float32(float32(q>>4|h1)*d) + m
		}
	}
}

// Q8_0 block (34 bytes): d f16 | qs int8[32].
func dequantQ8_0(dst []float32, src []byte) {
	for i := 0; i < len(dst)/32; i++ {
		b := (*[34]byte)(src[34*i:])
		y := (*[32]float32)(dst[32*i:])
		d := half(b[0:])
		for j := 0; j < 32; j++ {
			y[j] = float32(int8(b[2+j])) * d
		}
	}
}

// Q8_1 block (36 bytes): d f16 | s f16 (d * sum of qs) | qs int8[32].
func dequantQ8_1(dst []float32, src []byte) {
	for i := 0; i < len(dst)/32; i++ {
		b := (*[36]byte)(src[36*i:])
		y := (*[32]float32)(dst[32*i:])
		d := half(b[0:])
		for j := 0; j < 32; j++ {
			y[j] = float32(int8(b[4+j])) * d
		}
	}
}

// Q2_K block (84 bytes): scales[16] (low nibble scale, high nibble min) |
// qs[64] (2 bits each) | d f16 | dmin f16. Sixteen sub-blocks of 16.
func dequantQ2_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b := (*[84]byte)(src[84*i:])
		y := (*[QK_K]float32)(dst[QK_K*i:])
		d, dmin := half(b[80:]), half(b[82:])
		p := 0
		for half128 := 0; half128 < 2; half128++ {
			q := b[16+32*half128 : 16+32*half128+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for part := 0; part < 2; part++ {
					sc := b[p/16]
					dl := d * float32(sc&0x0f)
					ml := float32(dmin * float32(sc>>4)) // rounded: see above
					for l := 0; l < 16; l++ {
						y[p] = float32(dl*float32((q[16*part+l]>>shift)&3)) - ml
						p++
					}
				}
			}
		}
	}
}

// q3KScales unpacks Q3_K's sixteen 6-bit scales (low nibbles in bytes 0-7,
// high two bits in bytes 8-11), minus the bias 32.
func q3KScales(s *[12]byte) (out [16]int32) {
	for j := 0; j < 16; j++ {
		lo := s[j%8] >> (4 * (j / 8)) & 0x0f
		hi := s[8+j%4] >> (2 * (j / 4)) & 3
		out[j] = int32(lo|hi<<4) - 32
	}
	return out
}

// Q3_K block (110 bytes): hmask[32] (third bit) | qs[64] (low 2 bits) |
// scales[12] | d f16. Sixteen sub-blocks of 16; q in [-4, 3].
func dequantQ3_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b := (*[110]byte)(src[110*i:])
		y := (*[QK_K]float32)(dst[QK_K*i:])
		dAll := half(b[108:])
		scales := q3KScales((*[12]byte)(b[96:]))
		hm := b[0:32]
		p := 0
		m := byte(1)
		for half128 := 0; half128 < 2; half128++ {
			q := b[32+32*half128 : 32+32*half128+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for part := 0; part < 2; part++ {
					dl := dAll * float32(scales[p/16])
					for l := 16 * part; l < 16*part+16; l++ {
						v := int32((q[l] >> shift) & 3)
						if hm[l]&m == 0 {
							v -= 4
						}
						y[p] = dl * float32(v)
						p++
					}
				}
				m <<= 1
			}
		}
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K block
// (ggml-quants.c get_scale_min_k4).
func scaleMinK4(j int, q *[12]byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0x0f | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// Q4_K block (144 bytes): d f16 | dmin f16 | scales[12] | qs[128]. Eight
// sub-blocks of 32; x = d*sc*q - dmin*m.
func dequantQ4_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b := (*[144]byte)(src[144*i:])
		y := (*[QK_K]float32)(dst[QK_K*i:])
		d, dmin := half(b[0:]), half(b[2:])
		sm := (*[12]byte)(b[4:])
		for j := 0; j < 4; j++ {
			q := (*[32]byte)(b[16+32*j:])
			sc1, m1 := scaleMinK4(2*j, sm)
			sc2, m2 := scaleMinK4(2*j+1, sm)
			d1, mm1 := d*float32(sc1), float32(dmin*float32(m1)) // rounded: see above
			d2, mm2 := d*float32(sc2), float32(dmin*float32(m2))
			out := (*[64]float32)(y[64*j:])
			for l := 0; l < 32; l++ {
				out[l] = float32(d1*float32(q[l]&0x0f)) - mm1
				out[32+l] = float32(d2*float32(q[l]>>4)) - mm2
			}
		}
	}
}

// Q5_K block (176 bytes): d f16 | dmin f16 | scales[12] | qh[32] | qs[128].
func dequantQ5_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b := (*[176]byte)(src[176*i:])
		y := (*[QK_K]float32)(dst[QK_K*i:])
		d, dmin := half(b[0:]), half(b[2:])
		sm := (*[12]byte)(b[4:])
		qh := (*[32]byte)(b[16:])
		for j := 0; j < 4; j++ {
			ql := (*[32]byte)(b[48+32*j:])
			u1, u2 := byte(1)<<(2*j), byte(2)<<(2*j)
			sc1, m1 := scaleMinK4(2*j, sm)
			sc2, m2 := scaleMinK4(2*j+1, sm)
			d1, mm1 := d*float32(sc1), float32(dmin*float32(m1)) // rounded: see above
			d2, mm2 := d*float32(sc2), float32(dmin*float32(m2))
			out := (*[64]float32)(y[64*j:])
			for l := 0; l < 32; l++ {
				lo, hi := int32(ql[l]&0x0f), int32(ql[l]>>4)
				if qh[l]&u1 != 0 {
					lo += 16
				}
				if qh[l]&u2 != 0 {
					hi += 16
				}
				out[l] = float32(d1*float32(lo)) - mm1
				out[32+l] = float32(d2*float32(hi)) - mm2
			}
		}
	}
}

// Q6_K block (210 bytes): ql[128] (low 4 bits) | qh[64] (high 2 bits) |
// scales int8[16] | d f16. Sixteen sub-blocks of 16; q in [-32, 31].
func dequantQ6_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b := (*[210]byte)(src[210*i:])
		y := (*[QK_K]float32)(dst[QK_K*i:])
		d := half(b[208:])
		for n := 0; n < 2; n++ {
			ql := (*[64]byte)(b[64*n:])
			qh := (*[32]byte)(b[128+32*n:])
			sc := (*[8]byte)(b[192+8*n:])
			out := (*[128]float32)(y[128*n:])
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0x0f|(qh[l]&3)<<4) - 32
				q2 := int32(ql[l+32]&0x0f|((qh[l]>>2)&3)<<4) - 32
				q3 := int32(ql[l]>>4|((qh[l]>>4)&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|((qh[l]>>6)&3)<<4) - 32
				out[l] = d * float32(int8(sc[is])) * float32(q1)
				out[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				out[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				out[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}

// Q8_K block (292 bytes): d f32 | qs int8[256] | bsums int16[16].
func dequantQ8_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b := (*[292]byte)(src[292*i:])
		y := (*[QK_K]float32)(dst[QK_K*i:])
		d := math.Float32frombits(binary.LittleEndian.Uint32(b[0:]))
		for j := 0; j < QK_K; j++ {
			y[j] = d * float32(int8(b[4+j]))
		}
	}
}
