//go:build amd64 && !purego

package trace

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExtremes512MatchesAVX2: statsExtremesAVX512 gives, folded over the
// lanes (what extremesOf keeps), the AVX2 kernel's extremes and counts
// for every length 0..80 and some long ones, random values with specials
// (NaNs with payloads, infinities, both zeros, subnormals, the largest
// finite values) at any place, and the vectors of all one special; the
// AVX2 kernel is itself checked against the Go loop by the ComputeStats
// tests.
func TestExtremes512MatchesAVX2(t *testing.T) {
	if !useExtremes512 {
		t.Skip("CPU without AVX-512 F/DQ: extremesOf runs the AVX2 kernel")
	}
	r := rand.New(rand.NewPCG(21, 22))
	lengths := []int{1000, 4097, 65536 + 5}
	for n := range 81 {
		lengths = append(lengths, n)
	}
	check := func(v []float32) {
		t.Helper()
		useExtremes512 = false
		want := extremesOf(v)
		useExtremes512 = true
		got := extremesOf(v)
		same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
		if !same(got.mn, want.mn) || !same(got.mx, want.mx) || !same(got.amax, want.amax) ||
			got.finite != want.finite || got.zero != want.zero || got.neg0 != want.neg0 || got.s != want.s {
			t.Fatalf("%d values: AVX-512 %+v, AVX2 %+v", len(v), got, want)
		}
	}
	for _, n := range lengths {
		for _, special := range []int{0, 2, 7, 50} {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(r.NormFloat64() * float64(1+r.IntN(1000)))
				if special > 0 && r.IntN(special) == 0 {
					v[i] = specials[r.IntN(len(specials))]
				}
			}
			check(v)
		}
		for _, sp := range specials {
			v := make([]float32, n)
			for i := range v {
				v[i] = sp
			}
			check(v)
		}
	}
	// A vector that ends one element before an unmapped page would
	// fault if the masked tail read past it; here: the tail of a
	// sub-slice whose backing array continues with NaNs, which must not
	// count.
	for n := 1; n < 40; n++ {
		buf := make([]float32, n+16)
		for i := range buf {
			buf[i] = float32(math.NaN())
		}
		for i := range n {
			buf[i] = float32(i) - 3
		}
		check(buf[:n])
		if e := extremesOf(buf[:n]); e.s.NaNCount != 0 || e.finite != n {
			t.Fatalf("%d values: counted past the end: %+v", n, e)
		}
	}
}

// BenchmarkExtremes: extremesOf over a logits-sized vector (151936
// values) with each kernel.
func BenchmarkExtremes(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	v := make([]float32, 151936)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	for _, on := range []bool{true, false} {
		if on && !useExtremes512 {
			continue
		}
		name := "avx2"
		if on {
			name = "avx512"
		}
		b.Run(name, func(b *testing.B) {
			saved := useExtremes512
			useExtremes512 = on
			defer func() { useExtremes512 = saved }()
			b.SetBytes(int64(4 * len(v)))
			for b.Loop() {
				extremesOf(v)
			}
		})
	}
}
