//go:build amd64 && !purego

package trace

import (
	"math"

	"golang.org/x/sys/cpu"
)

// useStatsAVX selects the assembly ComputeStats (stats_amd64.s): the
// order-free statistics (extremes and counts) eight lanes at a time with
// AVX2, and the float64 sums as the same chains as the Go loop, in
// element order, without its branches and bookkeeping. Tests turn it off
// to compare. Hand-written because the Go compiler does not vectorize and
// no library keeps the element order of these sums.
var useStatsAVX = cpu.X86.HasAVX2

// extremes is statsExtremesAVX2's output: per lane, over the finite
// elements of that lane.
type extremes struct {
	min, max, absMax        [8]float32
	finite, nan, zero, neg0 [8]int32
}

// statsChunk bounds one statsExtremesAVX2 call so that its int32 lane
// counts cannot overflow.
const statsChunk = 1 << 28

// computeStatsAVX is ComputeStats with the kernels, the same bits.
func computeStatsAVX(v []float32) Stats {
	s := Stats{Count: len(v)}
	mn, mx, amax := float32(math.Inf(1)), float32(math.Inf(-1)), float32(0)
	finite, nan, zero, neg0 := 0, 0, 0, 0
	for lo := 0; lo < len(v); lo += statsChunk {
		chunk := v[lo:min(lo+statsChunk, len(v))]
		var e extremes
		statsExtremesAVX2(&chunk[0], len(chunk), &e)
		for l := range 8 {
			mn, mx, amax = min(mn, e.min[l]), max(mx, e.max[l]), max(amax, e.absMax[l])
			finite += int(e.finite[l])
			nan += int(e.nan[l])
			zero += int(e.zero[l])
			neg0 += int(e.neg0[l])
		}
	}
	s.NaNCount, s.ZeroCount = nan, zero
	s.InfCount = len(v) - finite - nan
	if finite == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.Std, s.RMS, s.AbsMax, s.L2 = nan, nan, nan, nan, nan, nan, nan
		return s
	}
	// A zero extreme takes its sign as ComputeStats's loop gives it: the
	// minimum is -0 if any -0 was seen, the maximum +0 if any +0 was.
	s.Min, s.Max, s.AbsMax = float64(mn), float64(mx), float64(amax)
	if mn == 0 {
		s.Min = 0
		if neg0 > 0 {
			s.Min = math.Copysign(0, -1)
		}
	}
	if mx == 0 {
		s.Max = math.Copysign(0, -1)
		if zero > neg0 {
			s.Max = 0
		}
	}
	sum, sumSq := statsSumsAVX(&v[0], len(v))
	s.Mean = sum / float64(finite)
	dev := statsDevAVX(&v[0], len(v), s.Mean)
	if finite > 1 {
		s.Std = math.Sqrt(dev / float64(finite-1))
	}
	s.RMS = math.Sqrt(sumSq / float64(finite))
	s.L2 = math.Sqrt(sumSq)
	return s
}

//go:noescape
func statsExtremesAVX2(v *float32, n int, out *extremes)

//go:noescape
func statsSumsAVX(v *float32, n int) (sum, sumSq float64)

//go:noescape
func statsDevAVX(v *float32, n int, mean float64) float64
