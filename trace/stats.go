package trace

import (
	"encoding/json"
	"math"
)

// Stats are the statistics of one slot over one sample, accumulated in
// float64 (capture-points.md, "Statistics"). Count counts every element,
// NaN and Inf included; Min, Max, Mean, Std, RMS, AbsMax and L2 are over
// the finite elements and are NaN when there are none (null in JSON).
type Stats struct {
	Count     int     `json:"count"`
	NaNCount  int     `json:"nan_count"`
	InfCount  int     `json:"inf_count"`
	ZeroCount int     `json:"zero_count"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Mean      float64 `json:"mean"`
	Std       float64 `json:"std"`
	RMS       float64 `json:"rms"`
	AbsMax    float64 `json:"abs_max"`
	L2        float64 `json:"l2"`
}

// ComputeStats returns the statistics of v. Std is the sample standard
// deviation (divisor n-1, 0 when n <= 1), aprender's convention. One pass
// accumulates the counts, sum, sum of squares and extremes; a second pass
// sums squared deviations from the mean, which keeps Std accurate when the
// mean is large against the spread (sumSq/n - mean^2 would cancel).
//
// The sums run in element order, so the results are the same bits
// whatever the caller's thread count. NaN and Inf are told apart by the
// float32 exponent bits, and the extremes kept with comparisons rather than
// math.Min/Max (which test NaN, Inf and the sign of zero on every call);
// a zero updates them by sign, so -0 and +0 land as math.Min and math.Max
// would put them (TestComputeStatsMatchesReference).
//
// On amd64 with AVX2 the same numbers come from assembly kernels
// (computeStatsAVX): the order-free parts vectorized, the sums the same
// chains in the same order.
func ComputeStats(v []float32) Stats {
	if useStatsAVX && len(v) > 0 {
		return computeStatsAVX(v)
	}
	return computeStatsGo(v)
}

// ComputeStatsMany sets dst[i] = ComputeStats(vs[i]) for every i, the
// same bits. Where the kernels run, it computes the vectors eight at a
// time with AVX-512 (vs[0..7], vs[8..15], ...), else two at a time,
// their summation chains side by side (ComputeStats is bound by the
// latency of its additions), so neighbours of similar length gain most.
// dst must be as long as vs.
func ComputeStatsMany(dst []Stats, vs [][]float32) {
	dst = dst[:len(vs)]
	i := 0
	if useStats512 {
		for ; i < len(vs); i += 8 {
			j := min(i+8, len(vs))
			computeStatsLanes(dst[i:j], vs[i:j])
		}
		return
	}
	if useStatsAVX {
		for ; i+1 < len(vs); i += 2 {
			if len(vs[i]) == 0 || len(vs[i+1]) == 0 {
				dst[i], dst[i+1] = ComputeStats(vs[i]), ComputeStats(vs[i+1])
				continue
			}
			dst[i], dst[i+1] = computeStatsPairAVX(vs[i], vs[i+1])
		}
	}
	for ; i < len(vs); i++ {
		dst[i] = ComputeStats(vs[i])
	}
}

// computeStatsGo is ComputeStats in Go: the sequence of operations the
// kernels must match.
func computeStatsGo(v []float32) Stats {
	s := Stats{Count: len(v)}
	var sum, sumSq float64
	mn, mx, amax := math.Inf(1), math.Inf(-1), 0.0
	finite, nonFinite := 0, 0
	for _, x32 := range v {
		b := math.Float32bits(x32)
		if b&f32ExpMask == f32ExpMask {
			nonFinite++
			if b&f32FracMask != 0 {
				s.NaNCount++
			}
			continue
		}
		x := float64(x32)
		finite++
		sum += x
		// float64(...) rounds the product: the Go spec lets a compiler
		// fuse x*x + sumSq into one FMA otherwise (GOAMD64=v3, arm64),
		// which the kernels' separate VMULSD, VADDSD do not do.
		sumSq += float64(x * x)
		if x < mn {
			mn = x
		}
		if x > mx {
			mx = x
		}
		if a := math.Abs(x); a > amax {
			amax = a
		}
		if x == 0 {
			s.ZeroCount++
			// math.Min(+0, -0) is -0 and math.Max(-0, +0) is +0.
			if neg := b>>31 != 0; neg && mn == 0 {
				mn = x
			} else if !neg && mx == 0 {
				mx = x
			}
		}
	}
	s.InfCount = nonFinite - s.NaNCount
	if finite == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.Std, s.RMS, s.AbsMax, s.L2 = nan, nan, nan, nan, nan, nan, nan
		return s
	}
	s.Min, s.Max, s.AbsMax = mn, mx, amax
	s.Mean = sum / float64(finite)
	var dev float64
	for _, x32 := range v {
		if math.Float32bits(x32)&f32ExpMask != f32ExpMask {
			d := float64(x32) - s.Mean
			dev += float64(d * d) // rounded before the addition, as above
		}
	}
	if finite > 1 {
		s.Std = math.Sqrt(dev / float64(finite-1))
	}
	s.RMS = math.Sqrt(sumSq / float64(finite))
	s.L2 = math.Sqrt(sumSq)
	return s
}

// The float32 exponent (all ones: Inf or NaN) and fraction (non-zero with
// that exponent: NaN) bits.
const (
	f32ExpMask  = 0x7f800000
	f32FracMask = 0x007fffff
)

// Get returns a statistic by name: one of StatNames, or count, nan_count,
// inf_count, zero_count.
func (s Stats) Get(name Stat) (float64, bool) {
	switch name {
	case StatMean:
		return s.Mean, true
	case StatStd:
		return s.Std, true
	case StatMin:
		return s.Min, true
	case StatMax:
		return s.Max, true
	case StatRMS:
		return s.RMS, true
	case StatAbsMax:
		return s.AbsMax, true
	case StatL2:
		return s.L2, true
	case "count":
		return float64(s.Count), true
	case "nan_count":
		return float64(s.NaNCount), true
	case "inf_count":
		return float64(s.InfCount), true
	case "zero_count":
		return float64(s.ZeroCount), true
	}
	return 0, false
}

type statsJSON struct {
	Count     int      `json:"count"`
	NaNCount  int      `json:"nan_count"`
	InfCount  int      `json:"inf_count"`
	ZeroCount int      `json:"zero_count"`
	Min       *float64 `json:"min"`
	Max       *float64 `json:"max"`
	Mean      *float64 `json:"mean"`
	Std       *float64 `json:"std"`
	RMS       *float64 `json:"rms"`
	AbsMax    *float64 `json:"abs_max"`
	L2        *float64 `json:"l2"`
}

func finiteOrNil(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func nilAsNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes statistics without finite elements as null.
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(statsJSON{s.Count, s.NaNCount, s.InfCount, s.ZeroCount,
		finiteOrNil(s.Min), finiteOrNil(s.Max), finiteOrNil(s.Mean), finiteOrNil(s.Std),
		finiteOrNil(s.RMS), finiteOrNil(s.AbsMax), finiteOrNil(s.L2)})
}

// UnmarshalJSON reads null statistics back as NaN.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Stats{j.Count, j.NaNCount, j.InfCount, j.ZeroCount, nilAsNaN(j.Min), nilAsNaN(j.Max),
		nilAsNaN(j.Mean), nilAsNaN(j.Std), nilAsNaN(j.RMS), nilAsNaN(j.AbsMax), nilAsNaN(j.L2)}
	return nil
}
