//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// simdDequantWant lists the types that must have an AVX2 dequantizer.
var simdDequantWant = []Type{F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K}

func TestSIMDDequantSelected(t *testing.T) {
	requireSIMD(t)
	for _, ty := range simdDequantWant {
		if simdDequant(ty) == nil {
			t.Errorf("%s: no AVX2 dequantizer", ty)
		}
	}
	withSIMD(false, func() {
		for _, ty := range decodableTypes {
			if simdDequant(ty) != nil {
				t.Errorf("%s: SIMD dequantizer returned with SIMD forced off", ty)
			}
		}
	})
}

// dequantBoth decodes src with the SIMD kernels on and off. The SIMD
// output lies in a larger buffer whose tail must stay untouched.
func dequantBoth(t *testing.T, ty Type, n int, src []byte) (simd, scalar []float32) {
	t.Helper()
	const guard = 16
	buf := make([]float32, n+guard)
	for i := range buf {
		buf[i] = -7.5
	}
	simd, scalar = buf[:n], make([]float32, n)
	var err error
	withSIMD(true, func() { err = DequantizeRow(ty, simd, src) })
	if err != nil {
		t.Fatal(err)
	}
	withSIMD(false, func() { err = DequantizeRow(ty, scalar, src) })
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range buf[n:] {
		if v != -7.5 {
			t.Fatalf("%s n=%d: SIMD kernel wrote past the row (element %d)", ty, n, n+i)
		}
	}
	return simd, scalar
}

// checkSameBits fails at the first element whose bits differ. NaNs must
// match too: every lane does the scalar operations with the operands in
// the scalar order, so even a NaN scale gives the scalar payload.
func checkSameBits(t *testing.T, what string, simd, scalar []float32) {
	t.Helper()
	for i := range simd {
		if math.Float32bits(simd[i]) != math.Float32bits(scalar[i]) {
			t.Fatalf("%s: element %d: AVX2 %g (%#08x), scalar %g (%#08x)", what, i,
				simd[i], math.Float32bits(simd[i]), scalar[i], math.Float32bits(scalar[i]))
		}
	}
}

// TestSIMDDequantizeMatchesScalar: the AVX2 dequantizers give the scalar
// kernels' bits (which TestDequantizeRowOracle and the golden hashes tie
// to ggml's to_float): on random blocks with moderate scales and on
// arbitrary bytes, in rows of 1 to 40 blocks (for F16 and BF16, 1 to 40
// elements: the eight-at-a-time kernel and the tail), and on a row that
// holds every 16-bit pattern as the fp16 scale (as the value, for F16 and
// BF16): zero, subnormal, infinite and NaN included.
func TestSIMDDequantizeMatchesScalar(t *testing.T) {
	requireSIMD(t)
	for _, ty := range simdDequantWant {
		t.Run(ty.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ty), 17))
			bs := ty.BlockSize()
			total := 0
			for _, blocks := range []int{1, 2, 3, 7, 19, 40} {
				for trial := range 8 {
					n := blocks * bs
					src := randomBlocks(r, ty, n)
					if trial%2 == 1 { // arbitrary bytes, scales included
						for i := range src {
							src[i] = byte(r.Uint32())
						}
					}
					simd, scalar := dequantBoth(t, ty, n, src)
					checkSameBits(t, ty.String(), simd, scalar)
					total += blocks
				}
			}
			// Every fp16 scale value (every F16 and BF16 value), once each,
			// in one long row.
			blocks := 1 << 16
			src := randomBlocks(r, ty, blocks*bs)
			for i := range blocks {
				v := uint16(i * 40503) // odd: a permutation of 0..65535
				if bs == 1 {
					binary.LittleEndian.PutUint16(src[2*i:], v)
				}
				for _, f := range scaleFields[ty] {
					binary.LittleEndian.PutUint16(src[i*ty.TypeSize()+f:], v)
				}
			}
			simd, scalar := dequantBoth(t, ty, blocks*bs, src)
			checkSameBits(t, ty.String()+" all 16-bit values", simd, scalar)
			t.Logf("%d blocks of %d elements bit-identical", total+blocks, bs)
		})
	}
}

// FuzzSIMDDequantize: on arbitrary bytes the AVX2 and scalar dequantizers
// give the same bits.
func FuzzSIMDDequantize(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte{0x00, 0x7c, 0xff, 0x80})
	f.Add(uint8(1), uint8(2), []byte{0x01, 0xfe, 0x3c, 0x00, 0x7d})
	f.Add(uint8(2), uint8(3), []byte{0xff})
	f.Fuzz(func(t *testing.T, ti, blocks uint8, data []byte) {
		requireSIMD(t)
		ty := simdDequantWant[int(ti)%len(simdDequantWant)]
		n := (int(blocks)%12 + 1) * ty.BlockSize()
		rb, _ := RowSize(ty, int64(n))
		src := make([]byte, rb)
		for i := range src {
			if len(data) > 0 {
				src[i] = data[i%len(data)] ^ byte(i/len(data))
			}
		}
		simd, scalar := dequantBoth(t, ty, n, src)
		checkSameBits(t, ty.String(), simd, scalar)
	})
}
