//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The one-token Q4_K kernel (dotQ4_KRowsAsm, dotQ4_KRowsBWAsm) on the
// adversarial inputs of TestVNNIDotMatrixKAdversarial (1..17 rows, real
// model widths up to 74 blocks, odd strides) plus bsums of any bytes:
// its mins term (VPMADDWD of the raw bsums with the mins) is claimed
// exact for every bsum, so the bsum pairs past int16 that send the
// matrix kernel's tile to AVX2 (advWide), every bsum -32768 or 32767
// with every min 63, and random bsum bytes must all give the scalar
// kernel's bits.
func TestVNNIDotRowsQ4_KAdversarial(t *testing.T) {
	requireVNNI(t)
	var scalar DotKernel
	withSIMD(false, func() { scalar, _ = DotFunc(Q4_K) })
	for _, vbmi := range []bool{true, false} {
		t.Run(fmt.Sprintf("vbmi=%v", vbmi), func(t *testing.T) {
			if vbmi && !vbmiEnabled {
				t.Skip("CPU without AVX512_VBMI")
			}
			defer withVBMI(vbmi)()
			rows, err := DotRowsFunc(Q4_K)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(41, 44))
			checked, nans, infs := 0, 0, 0
			for _, blocks := range []int{1, 6, 19, 35, 74} {
				for _, nrows := range []int{1, 2, 3, 4, 5, 8, 17} {
					for m := range advMode(8) {
						n := blocks * QK_K
						stride := blocks*144 + r.IntN(7) + r.IntN(2)*144
						wb := make([]byte, (nrows-1)*stride+blocks*144)
						xb := make([]byte, blocks*292)
						am := m
						if m >= 5 {
							am = advRandom
						}
						advFill(r, Q4_K, am, n, nrows, stride, wb, 1, 0, xb)
						switch m {
						case 5: // random bsum bytes, no narrowing
							for off := 0; off < len(xb); off += 292 {
								for k := 260; k < 292; k++ {
									xb[off+k] = byte(r.Uint32())
								}
							}
						case 6: // every bsum at an int16 limit, every min and scale 63
							for off := 0; off < len(xb); off += 292 {
								for j := range 16 {
									v := int16(math.MaxInt16)
									if r.IntN(2) == 0 {
										v = math.MinInt16
									}
									binary.LittleEndian.PutUint16(xb[off+260+2*j:], uint16(v))
								}
							}
							for i := range nrows {
								for off := 0; off < blocks*144; off += 144 {
									for k := 4; k < 16; k++ {
										wb[i*stride+off+k] = 0xff
									}
								}
							}
						case 7: // one sign for all bsums of a block: the mins term at its largest
							for off := 0; off < len(xb); off += 292 {
								v := int16(math.MaxInt16)
								if r.IntN(2) == 0 {
									v = math.MinInt16
								}
								for j := range 16 {
									binary.LittleEndian.PutUint16(xb[off+260+2*j:], uint16(v))
								}
							}
							for i := range nrows {
								for off := 0; off < blocks*144; off += 144 {
									for k := 4; k < 16; k++ {
										wb[i*stride+off+k] = 0xff
									}
								}
							}
						}
						out := make([]float32, nrows+1)
						out[nrows] = 42
						rows(n, wb, stride, xb, out[:nrows])
						if out[nrows] != 42 {
							t.Fatalf("mode %d: out past the %d rows written", m, nrows)
						}
						for i := range nrows {
							want := scalar(n, wb[i*stride:], xb)
							if !sameBits(out[i], want) {
								t.Fatalf("mode %d, %d blocks, %d rows, stride %d: row %d: %.9g (%#08x), scalar %.9g (%#08x)",
									m, blocks, nrows, stride, i, out[i], math.Float32bits(out[i]), want, math.Float32bits(want))
							}
							if want != want {
								nans++
							} else if math.IsInf(float64(want), 0) {
								infs++
							}
							checked++
						}
					}
				}
			}
			t.Logf("%d rows bit-identical to the scalar kernel (%d NaN, %d infinite)", checked, nans, infs)
		})
	}
}
