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

// partStats is one vector's statistics in the making.
type partStats struct {
	s                  Stats
	mn, mx, amax       float32
	finite, zero, neg0 int
	acc                [2]float64 // sum, sum of squares
	dev                float64
}

// extremesOf counts and takes the extremes of v (statsExtremesAVX512 or
// statsExtremesAVX2, in chunks so the int32 lane counts cannot overflow).
func extremesOf(v []float32) partStats {
	p := partStats{s: Stats{Count: len(v)}, mn: float32(math.Inf(1)), mx: float32(math.Inf(-1))}
	nan := 0
	for lo := 0; lo < len(v); lo += statsChunk {
		chunk := v[lo:min(lo+statsChunk, len(v))]
		var e extremes
		if useExtremes512 {
			statsExtremesAVX512(&chunk[0], len(chunk), &e)
		} else {
			statsExtremesAVX2(&chunk[0], len(chunk), &e)
		}
		for l := range 8 {
			p.mn, p.mx, p.amax = min(p.mn, e.min[l]), max(p.mx, e.max[l]), max(p.amax, e.absMax[l])
			p.finite += int(e.finite[l])
			nan += int(e.nan[l])
			p.zero += int(e.zero[l])
			p.neg0 += int(e.neg0[l])
		}
	}
	p.s.NaNCount, p.s.ZeroCount = nan, p.zero
	p.s.InfCount = len(v) - p.finite - nan
	return p
}

// mean sets the mean from the sums and returns it (0 when there is no
// finite element: then nothing is added to dev either).
func (p *partStats) mean() float64 {
	if p.finite == 0 {
		return 0
	}
	p.s.Mean = p.acc[0] / float64(p.finite)
	return p.s.Mean
}

// finish fills in what follows from the counts, extremes and sums.
func (p *partStats) finish() Stats {
	s := p.s
	if p.finite == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.Std, s.RMS, s.AbsMax, s.L2 = nan, nan, nan, nan, nan, nan, nan
		return s
	}
	// A zero extreme takes its sign as ComputeStats's loop gives it: the
	// minimum is -0 if any -0 was seen, the maximum +0 if any +0 was.
	s.Min, s.Max, s.AbsMax = float64(p.mn), float64(p.mx), float64(p.amax)
	if p.mn == 0 {
		s.Min = 0
		if p.neg0 > 0 {
			s.Min = math.Copysign(0, -1)
		}
	}
	if p.mx == 0 {
		s.Max = math.Copysign(0, -1)
		if p.zero > p.neg0 {
			s.Max = 0
		}
	}
	if p.finite > 1 {
		s.Std = math.Sqrt(p.dev / float64(p.finite-1))
	}
	s.RMS = math.Sqrt(p.acc[1] / float64(p.finite))
	s.L2 = math.Sqrt(p.acc[1])
	return s
}

// computeStatsAVX is ComputeStats with the kernels, the same bits.
func computeStatsAVX(v []float32) Stats {
	p := extremesOf(v)
	statsSumsAVX(&v[0], len(v), &p.acc)
	statsDevAVX(&v[0], len(v), p.mean(), &p.dev)
	return p.finish()
}

// computeStatsPairAVX is ComputeStats of a and of b, their float64 chains
// run side by side over their common length (each chain in its own
// element order, so the bits are ComputeStats's), then the longer one's
// rest alone. Both are non-empty.
func computeStatsPairAVX(a, b []float32) (Stats, Stats) {
	swap := len(a) < len(b)
	if swap {
		a, b = b, a
	}
	pa, pb := extremesOf(a), extremesOf(b)
	n := len(b)
	statsSums2AVX(&a[0], &b[0], n, &pa.acc, &pb.acc)
	if len(a) > n {
		statsSumsAVX(&a[n], len(a)-n, &pa.acc)
	}
	statsDev2AVX(&a[0], &b[0], n, pa.mean(), pb.mean(), &pa.dev, &pb.dev)
	if len(a) > n {
		statsDevAVX(&a[n], len(a)-n, pa.s.Mean, &pa.dev)
	}
	if swap {
		return pb.finish(), pa.finish()
	}
	return pa.finish(), pb.finish()
}

// useStats512 selects, for ComputeStatsMany, the eight-lane chains
// (statsSums8AVX512, statsDev8AVX512: eight vectors' chains side by side,
// one float64 lane each), which need AVX-512 F, DQ (VFPCLASSPS) and VL
// (the 256-bit forms of the transpose). Tests turn it off to compare.
var useStats512 = useStatsAVX && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL

// laneKernel is the signature of the eight-lane kernels: the chains of
// p[i][0:n] (n a multiple of 8) continued from a[i], b[i].
type laneKernel func(p *[8]*float32, n int, a, b *[8]float64)

// chains8 runs kernel over the vectors vs (at most eight), each lane's
// chain starting from acc[0][i], acc[1][i] and left there, for as long as
// at least two vectors have eight or more elements to go; it returns
// how many elements of each vector it took (a multiple of 8). A lane
// whose vector has ended reads another lane's elements and its results
// are dropped, so every chain is exactly its own vector's, in order.
func chains8(vs [][]float32, acc *[2][8]float64, kernel laneKernel) (done [8]int) {
	for {
		step, first, active := 0, -1, 0
		for i, v := range vs {
			if left := (len(v) - done[i]) &^ 7; left > 0 {
				if first < 0 || left < step {
					step = left
				}
				if first < 0 {
					first = i
				}
				active++
			}
		}
		if active < 2 {
			return done
		}
		var p [8]*float32
		for i := range p {
			j := i
			if i >= len(vs) || len(vs[i])-done[i] < 8 {
				j = first
			}
			p[i] = &vs[j][done[j]]
		}
		a, b := acc[0], acc[1]
		kernel(&p, step, &a, &b)
		for i, v := range vs {
			if len(v)-done[i] >= 8 {
				acc[0][i], acc[1][i] = a[i], b[i]
				done[i] += step
			}
		}
	}
}

// computeStatsLanes sets dst[i] = ComputeStats(vs[i]) (the same bits) for
// up to eight vectors, their chains in the lanes of chains8 and each
// vector's rest (under eight elements, or past the others' end) on the
// one-vector kernels, continuing its chain.
func computeStatsLanes(dst []Stats, vs [][]float32) {
	var parts [8]partStats
	for i, v := range vs {
		parts[i] = extremesOf(v)
	}
	var acc [2][8]float64
	done := chains8(vs, &acc, statsSums8AVX512)
	for i, v := range vs {
		parts[i].acc = [2]float64{acc[0][i], acc[1][i]}
		if done[i] < len(v) {
			statsSumsAVX(&v[done[i]], len(v)-done[i], &parts[i].acc)
		}
	}
	acc = [2][8]float64{}
	for i := range vs {
		acc[0][i] = parts[i].mean()
	}
	done = chains8(vs, &acc, statsDev8AVX512)
	for i, v := range vs {
		parts[i].dev = acc[1][i]
		if done[i] < len(v) {
			statsDevAVX(&v[done[i]], len(v)-done[i], acc[0][i], &parts[i].dev)
		}
		dst[i] = parts[i].finish()
	}
}

//go:noescape
func statsSums8AVX512(p *[8]*float32, n int, sum, sumSq *[8]float64)

//go:noescape
func statsDev8AVX512(p *[8]*float32, n int, mean, dev *[8]float64)

//go:noescape
func statsExtremesAVX2(v *float32, n int, out *extremes)

// useExtremes512 selects statsExtremesAVX512 (AVX-512 F, DQ for
// VFPCLASSPS) over statsExtremesAVX2: in a traced 1.5B prefill the AVX2
// extremes took more time than the eight-lane sums. Tests turn it off to
// compare.
var useExtremes512 = useStatsAVX && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

//go:noescape
func statsExtremesAVX512(v *float32, n int, out *extremes)

//go:noescape
func statsSumsAVX(v *float32, n int, acc *[2]float64)

//go:noescape
func statsSums2AVX(a, b *float32, n int, accA, accB *[2]float64)

//go:noescape
func statsDevAVX(v *float32, n int, mean float64, dev *float64)

//go:noescape
func statsDev2AVX(a, b *float32, n int, meanA, meanB float64, devA, devB *float64)
