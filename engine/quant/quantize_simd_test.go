package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeQ8_0SIMDMatchesGo: the AVX2 activation quantizer writes the
// Go loop's bytes (the loop TestQuantizeOracle checks against ggml-cpu's
// from_float) on every case there, on the special values (infinities and
// NaNs, which hand their block back to the loop), and on rows that mix
// finite blocks with non-finite ones at every block position.
func TestQuantizeQ8_0SIMDMatchesGo(t *testing.T) {
	const n = 8 * 32
	cases := append(activationCases(n), specialActivations(n)...)
	r := rand.New(rand.NewPCG(7, 8))
	sp := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001)}
	for b := range n / 32 {
		x := randomActivations(r, n, 3)
		x[32*b+r.IntN(32)] = sp[b%len(sp)]
		cases = append(cases, activationCase{"one non-finite block", x})
	}
	size, _ := RowSize(Q8_0, n)
	for _, c := range cases {
		var want []byte
		withSIMD(false, func() {
			want = make([]byte, size)
			quantQ8_0x86(want, c.x[:len(c.x)&^31])
		})
		got := make([]byte, size)
		withSIMD(true, func() { quantQ8_0x86(got, c.x[:len(c.x)&^31]) })
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("%s: SIMD quantizer differs from the Go loop at byte %d (block %d): %#02x vs %#02x", c.name, i, i/34, got[i], want[i])
		}
	}
	t.Logf("%d rows byte-identical (simdEnabled %v)", len(cases), simdEnabled)
}
