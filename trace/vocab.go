package trace

import (
	"fmt"
	"math"
	"slices"

	"github.com/falsify/falsify/internal/numcmp"
)

// Stat names a statistic of a slot sample (capture-points.md,
// "Statistics"); Stats.Get reads one by name.
type Stat string

// The statistics a ratio_band gate can compare.
const (
	StatMean   Stat = "mean"
	StatStd    Stat = "std"
	StatMin    Stat = "min"
	StatMax    Stat = "max"
	StatRMS    Stat = "rms"
	StatAbsMax Stat = "abs_max"
	StatL2     Stat = "l2"
)

// StatNames lists the statistics a ratio_band gate can compare.
func StatNames() []Stat {
	return []Stat{StatMean, StatStd, StatMin, StatMax, StatRMS, StatAbsMax, StatL2}
}

// Known reports whether s is one of StatNames.
func (s Stat) Known() bool { return slices.Contains(StatNames(), s) }

// Sample names the set of elements a statistic is taken over
// (capture-points.md, "Samples").
type Sample string

const (
	SampleLastToken Sample = "last_token" // the last prompt position only
	SampleAllTokens Sample = "all_tokens" // every prompt position, flattened
)

// Samples lists both samples.
func Samples() []Sample { return []Sample{SampleLastToken, SampleAllTokens} }

// Known reports whether s is a known sample.
func (s Sample) Known() bool { return slices.Contains(Samples(), s) }

// Positions says which token positions' vectors a comparison uses.
type Positions string

const (
	// PositionsLast compares the last prompt position's vectors (the
	// vectors behind sample last_token).
	PositionsLast Positions = "last"
	// PositionsAll compares every position (sample all_tokens); both
	// traces must hold every position (HasAllPositions).
	PositionsAll Positions = "all"
)

// Known reports whether p is a known positions value.
func (p Positions) Known() bool { return p == PositionsLast || p == PositionsAll }

// ParsePositions accepts "last" or "all".
func ParsePositions(s string) (Positions, error) {
	if p := Positions(s); p.Known() {
		return p, nil
	}
	return "", fmt.Errorf("unknown positions %q (last, all)", s)
}

// Sample is the statistics sample whose elements p compares.
func (p Positions) Sample() Sample {
	if p == PositionsAll {
		return SampleAllTokens
	}
	return SampleLastToken
}

// Metric is an element-wise comparison of a vector a against a reference
// b (the names the contracts use); numcmp computes them.
type Metric string

const (
	// MetricNMSE is sum((a-b)^2) / sum(b^2).
	MetricNMSE Metric = "nmse"
	// MetricCosine is the cosine similarity of a and b.
	MetricCosine Metric = "cosine"
	// MetricSQNR is 10*log10(sum(b^2) / sum((a-b)^2)) in dB.
	MetricSQNR Metric = "sqnr"
	// MetricMaxAbs is max |a-b|.
	MetricMaxAbs Metric = "max_abs"
	// MetricRelL2 is ||a-b|| / ||b||.
	MetricRelL2 Metric = "rel_l2"
)

// Metrics lists the metrics in a fixed order.
func Metrics() []Metric {
	return []Metric{MetricNMSE, MetricCosine, MetricSQNR, MetricMaxAbs, MetricRelL2}
}

// Known reports whether m is one of Metrics.
func (m Metric) Known() bool { return slices.Contains(Metrics(), m) }

// ParseMetric accepts one of the names of Metrics.
func ParseMetric(s string) (Metric, error) {
	if m := Metric(s); m.Known() {
		return m, nil
	}
	return "", fmt.Errorf("unknown metric %q (nmse, cosine, sqnr, max_abs, rel_l2)", s)
}

// HigherIsBetter reports whether larger values of m mean closer vectors
// (cosine, SQNR); those belong under metric_min, the others under
// metric_max.
func (m Metric) HigherIsBetter() bool { return m == MetricCosine || m == MetricSQNR }

// Of returns metric m of e (NaN for an unknown metric).
func (m Metric) Of(e numcmp.Errors) float64 {
	switch m {
	case MetricNMSE:
		return e.NMSE
	case MetricCosine:
		return e.Cosine
	case MetricSQNR:
		return e.SQNR
	case MetricMaxAbs:
		return e.MaxAbs
	case MetricRelL2:
		return e.RelL2
	}
	return math.NaN()
}

// Identity is what m reads for identical vectors: 1 for cosine, +Inf for
// SQNR, 0 for the others.
func (m Metric) Identity() float64 {
	switch m {
	case MetricCosine:
		return 1
	case MetricSQNR:
		return math.Inf(1)
	}
	return 0
}

// Crosses reports whether v is on the wrong side of limit for m: above it
// for NMSE, max abs and relative L2, below it for cosine and SQNR. NaN
// always crosses (a NaN is never a pass).
func (m Metric) Crosses(v, limit float64) bool {
	if math.IsNaN(v) {
		return true
	}
	if m.HigherIsBetter() {
		return v < limit
	}
	return v > limit
}

// MatmulMode selects how weight matrices multiply activations.
type MatmulMode string

const (
	// MatmulF32 dequantizes each weight row to float32 and multiplies in
	// float32 (aprender's APR path).
	MatmulF32 MatmulMode = "f32"
	// MatmulQuantized quantizes the activations to the weight type's ggml
	// vec-dot type and takes integer dot products, as llama.cpp does.
	MatmulQuantized MatmulMode = "quantized"
)

// MatmulModes lists both modes.
func MatmulModes() []MatmulMode { return []MatmulMode{MatmulF32, MatmulQuantized} }

// ParseMatmulMode accepts "f32" or "quantized".
func ParseMatmulMode(s string) (MatmulMode, error) {
	switch MatmulMode(s) {
	case MatmulF32, MatmulQuantized:
		return MatmulMode(s), nil
	}
	return "", fmt.Errorf("unknown matmul mode %q (f32, quantized)", s)
}

// Band is an inclusive interval [Lo, Hi] a measured value is judged
// against; an open end is an infinity (metric_max judges against
// [-Inf, max]). A contract's band has finite ends and Lo <= Hi (contracts
// validates that). In JSON it is the two-element array [lo, hi] of Floats.
type Band struct {
	Lo, Hi float64
}

// Contains reports whether v lies in the band, ends included. NaN and
// infinities are never contained.
func (b Band) Contains(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return v >= b.Lo && v <= b.Hi
}

// String writes "[lo, hi]", or "<= hi" / ">= lo" for a band open at one
// end, with six significant digits.
func (b Band) String() string {
	switch {
	case math.IsInf(b.Lo, -1) && !math.IsInf(b.Hi, 1):
		return "<= " + fmtFloat(b.Hi)
	case math.IsInf(b.Hi, 1) && !math.IsInf(b.Lo, -1):
		return ">= " + fmtFloat(b.Lo)
	}
	return "[" + fmtFloat(b.Lo) + ", " + fmtFloat(b.Hi) + "]"
}
