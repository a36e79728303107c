package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeSIMDMatchesGo: the AVX2 activation quantizers (Q8_0, Q8_K)
// write the Go loops' bytes (the loops TestQuantizeOracle checks against
// ggml-cpu's from_float) on every case there, on the special values
// (infinities and NaNs, whose blocks go back to the loop), and on rows
// mixing ordinary blocks with one odd block at every block position: a
// non-finite value, all zeros, a maximum so small that Q8_K's scale
// overflows, and +m and -m both at the largest |x| (Q8_K takes the
// first one's sign).
func TestQuantizeSIMDMatchesGo(t *testing.T) {
	quantizers := map[Type]func([]byte, []float32){Q8_0: quantQ8_0x86, Q8_K: quantQ8_K}
	for _, ty := range []Type{Q8_0, Q8_K} {
		t.Run(ty.String(), func(t *testing.T) {
			bs := ty.BlockSize()
			n := 6 * bs
			cases := append(activationCases(n), specialActivations(n)...)
			r := rand.New(rand.NewPCG(7, uint64(ty)))
			odd := map[string]func(b []float32){
				"infinity": func(b []float32) { b[r.IntN(len(b))] = float32(math.Inf(1 - 2*r.IntN(2))) },
				"NaN":      func(b []float32) { b[r.IntN(len(b))] = math.Float32frombits(0x7fc00001 | uint32(r.IntN(2))<<31) },
				"zeros":    func(b []float32) { clear(b) },
				"tiny max": func(b []float32) {
					for i := range b {
						b[i] = math.Float32frombits(uint32(r.IntN(40))) * float32(1-2*r.IntN(2))
					}
				},
				"+m and -m": func(b []float32) {
					i, j := r.IntN(len(b)), r.IntN(len(b))
					b[i], b[j] = 9, -9
					b[min(i, j)] = float32(1-2*r.IntN(2)) * 9
				},
			}
			for name, f := range odd {
				for blk := range n / bs {
					x := randomActivations(r, n, 3)
					f(x[blk*bs : (blk+1)*bs])
					cases = append(cases, activationCase{fmt.Sprintf("%s in block %d", name, blk), x})
				}
			}
			size, _ := RowSize(ty, int64(n))
			for _, c := range cases {
				x := c.x[:len(c.x)/bs*bs]
				want := make([]byte, size)
				withSIMD(false, func() { quantizers[ty](want, x) })
				got := make([]byte, size)
				withSIMD(true, func() { quantizers[ty](got, x) })
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%s: SIMD quantizer differs from the Go loop at byte %d (block %d): %#02x vs %#02x", c.name, i, i/ty.TypeSize(), got[i], want[i])
				}
			}
			t.Logf("%d rows byte-identical (simdEnabled %v)", len(cases), simdEnabled)
		})
	}
}
