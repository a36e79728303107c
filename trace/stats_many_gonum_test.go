package trace_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/falsify/falsify/trace"
)

// TestStatsManyAgainstGonum: ComputeStatsMany over many vectors of mixed
// lengths at once (every length 0..40, statVectors' adversarial ones,
// NaNs with payloads of both signs and quiet bits, denormal-only vectors,
// a vector over a million elements, and two vectors sharing one backing
// array) gives every vector ComputeStats's bits, in any order and group
// size; TestStatsAgainstGonum ties ComputeStats to gonum, and this test
// checks the batch against gonum too, so a lane mix-up cannot hide
// behind a matching wrong one-vector kernel.
func TestStatsManyAgainstGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	nanBits := []uint32{0x7f800001, 0x7fbfffff, 0x7fc00000, 0x7fffffff, 0xff800001, 0xffc00001, 0xffffffff}
	var vs [][]float32
	names := map[int]string{}
	add := func(name string, v []float32) {
		names[len(vs)] = name
		vs = append(vs, v)
	}
	for name, v := range statVectors() {
		add(name, v)
	}
	for n := range 41 {
		v := make([]float32, n)
		for i := range v {
			switch rng.IntN(12) {
			case 0:
				v[i] = math.Float32frombits(nanBits[rng.IntN(len(nanBits))])
			case 1:
				v[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
			case 2:
				v[i] = math.Float32frombits(uint32(rng.IntN(0x800000)) | uint32(rng.IntN(2))<<31) // denormal or ±0
			default:
				v[i] = float32(rng.NormFloat64()*10 - 1)
			}
		}
		add("len "+string(rune('0'+n/10))+string(rune('0'+n%10)), v)
	}
	den := make([]float32, 37)
	for i := range den {
		den[i] = math.Float32frombits(uint32(1 + rng.IntN(0x7fffff)))
		if i%2 == 1 {
			den[i] = -den[i]
		}
	}
	add("denormals only", den)
	nans := make([]float32, 19)
	for i := range nans {
		nans[i] = math.Float32frombits(nanBits[i%len(nanBits)])
	}
	add("NaN payloads only", nans)
	big := make([]float32, 1<<20+13)
	for i := range big {
		big[i] = float32(rng.NormFloat64()*1e3 + 5e4)
	}
	big[777777] = float32(math.NaN())
	add("big", big)
	shared := make([]float32, 64)
	for i := range shared {
		shared[i] = float32(i) - 20.5
	}
	add("shared head", shared[:40])
	add("shared tail", shared[24:])

	want := make([]trace.Stats, len(vs))
	for i, v := range vs {
		want[i] = trace.ComputeStats(v)
		checkAgainstGonum(t, names[i], v, want[i])
	}
	for round := range 30 {
		order := rng.Perm(len(vs))
		group := 1 + rng.IntN(len(vs))
		for lo := 0; lo < len(order); lo += group {
			idx := order[lo:min(lo+group, len(order))]
			batch := make([][]float32, len(idx))
			for k, i := range idx {
				batch[k] = vs[i]
			}
			dst := make([]trace.Stats, len(batch))
			trace.ComputeStatsMany(dst, batch)
			for k, i := range idx {
				if !sameBits(dst[k], want[i]) {
					t.Fatalf("round %d, group of %d: %q (%d values) through ComputeStatsMany %+v, ComputeStats %+v",
						round, len(batch), names[i], len(vs[i]), dst[k], want[i])
				}
			}
		}
	}
	if !slices.Equal(shared[:3], []float32{-20.5, -19.5, -18.5}) {
		t.Fatal("ComputeStatsMany wrote into its input")
	}
}

// sameBits: every field the same bits (any NaN equal to any NaN).
func sameBits(a, b trace.Stats) bool {
	f := func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y))
	}
	return a.Count == b.Count && a.NaNCount == b.NaNCount && a.InfCount == b.InfCount && a.ZeroCount == b.ZeroCount &&
		f(a.Min, b.Min) && f(a.Max, b.Max) && f(a.Mean, b.Mean) && f(a.Std, b.Std) &&
		f(a.RMS, b.RMS) && f(a.AbsMax, b.AbsMax) && f(a.L2, b.L2)
}
