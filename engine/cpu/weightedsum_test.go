package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWeightedSumMatchesGo: attention's weighted sum of value rows has the
// bits of the scalar loop (each element its own chain of rounded products
// added row after row) for head sizes around the kernel's steps of 32 and
// 8, one to 300 rows, padded strides and values with zeros, negative
// zeros and infinities.
func TestWeightedSumMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 72, 80, 96, 120, 128, 130, 256} {
		for _, rows := range []int{1, 2, 5, 17, 300} {
			vstride := n + r.IntN(3)*8 + r.IntN(2)
			p := randomF32(r, rows, false)
			v := randomF32(r, rows*vstride, rows%2 == 1)
			want := make([]float32, n)
			weightedSumGo(want, p, v, vstride)
			got := make([]float32, n)
			for i := range got {
				got[i] = float32(i + 1) // must be overwritten
			}
			weightedSum(got, p, v, vstride)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("n=%d rows=%d stride %d (AVX2 %v): out[%d] = %g (%#08x), scalar loop %g (%#08x)",
						n, rows, vstride, useAVX2, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
				checked++
			}
		}
	}
	t.Logf("%d elements bit-identical to the scalar loop (AVX2 %v)", checked, useAVX2)
}
