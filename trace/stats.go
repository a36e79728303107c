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
func ComputeStats(v []float32) Stats {
	s := Stats{Count: len(v), Min: math.Inf(1), Max: math.Inf(-1)}
	var sum, sumSq float64
	finite := 0
	for _, x32 := range v {
		x := float64(x32)
		switch {
		case math.IsNaN(x):
			s.NaNCount++
			continue
		case math.IsInf(x, 0):
			s.InfCount++
			continue
		case x == 0:
			s.ZeroCount++
		}
		finite++
		sum += x
		sumSq += x * x
		s.Min = math.Min(s.Min, x)
		s.Max = math.Max(s.Max, x)
		s.AbsMax = math.Max(s.AbsMax, math.Abs(x))
	}
	if finite == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.Std, s.RMS, s.AbsMax, s.L2 = nan, nan, nan, nan, nan, nan, nan
		return s
	}
	s.Mean = sum / float64(finite)
	var dev float64
	for _, x32 := range v {
		x := float64(x32)
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			dev += (x - s.Mean) * (x - s.Mean)
		}
	}
	if finite > 1 {
		s.Std = math.Sqrt(dev / float64(finite-1))
	}
	s.RMS = math.Sqrt(sumSq / float64(finite))
	s.L2 = math.Sqrt(sumSq)
	return s
}

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
