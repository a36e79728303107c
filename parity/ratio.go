package parity

import (
	"errors"
	"fmt"
	"math"

	"github.com/falsify/falsify/trace"
)

// Errors of StatRatio.
var (
	// ErrEmptySample: both samples are empty (count 0), so there is nothing
	// to compare.
	ErrEmptySample = errors.New("empty in both traces: there is nothing to compare")
	// ErrNoDenominator: the denominator statistic is 0, or NaN while the
	// numerator is not.
	ErrNoDenominator = errors.New("the ratio has no denominator")
)

// Ratio is stat(a) / stat(b) of two samples' statistics.
type Ratio struct {
	// Value is the ratio; NaN when either sample holds NaN or Inf
	// elements (statistics skip them, which would make the ratio
	// meaningless), and it never passes when <= 0.
	Value float64
	// NonFinite counts the NaN and Inf elements of both samples.
	NonFinite int
}

// StatRatio returns stat(a) / stat(b). a and b must be statistics over
// the same sample with the same count (capture-points.md, "Samples": the
// caller refuses other pairs as a methodology error, with its own words
// for which sample each side reports); a count mismatch is an
// ErrMismatch. Empty samples give ErrEmptySample, a zero (or NaN)
// denominator ErrNoDenominator wrapped with its value.
func StatRatio(a, b trace.Stats, stat trace.Stat) (Ratio, error) {
	if a.Count != b.Count {
		return Ratio{}, &MismatchError{Site: string(stat), Field: "count", A: fmt.Sprint(a.Count), B: fmt.Sprint(b.Count), Err: ErrMismatch}
	}
	if a.Count == 0 {
		return Ratio{}, ErrEmptySample
	}
	av, ok := a.Get(stat)
	if !ok {
		return Ratio{}, fmt.Errorf("parity: unknown statistic %q", stat)
	}
	bv, _ := b.Get(stat)
	if bv == 0 || math.IsNaN(bv) && !math.IsNaN(av) {
		return Ratio{Value: bv}, fmt.Errorf("%s is %g: %w", stat, bv, ErrNoDenominator)
	}
	r := Ratio{Value: av / bv, NonFinite: a.NaNCount + a.InfCount + b.NaNCount + b.InfCount}
	if r.NonFinite > 0 {
		r.Value = math.NaN()
	}
	return r, nil
}
