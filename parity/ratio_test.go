package parity_test

import (
	"errors"
	"math"
	"testing"

	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// TestStatRatio: the ratio of two samples' statistics, NaN when a sample
// holds non-finite elements, and refusals for empty samples, mismatched
// counts and a zero or NaN denominator.
func TestStatRatio(t *testing.T) {
	st := func(v ...float32) trace.Stats { return trace.ComputeStats(v) }
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	r, err := parity.StatRatio(st(1, 3), st(1, 2), trace.StatMax)
	if err != nil || r.Value != 1.5 || r.NonFinite != 0 {
		t.Errorf("max ratio %+v %v, want 1.5", r, err)
	}
	r, err = parity.StatRatio(st(1, nan, 3), st(1, 2, inf), trace.StatMax)
	if err != nil || !math.IsNaN(r.Value) || r.NonFinite != 2 {
		t.Errorf("non-finite ratio %+v %v, want NaN with 2 non-finite", r, err)
	}
	if _, err = parity.StatRatio(st(1, 2), st(0, 0), trace.StatMax); !errors.Is(err, parity.ErrNoDenominator) {
		t.Errorf("zero denominator: %v", err)
	}
	if _, err = parity.StatRatio(st(1, 2), st(nan, nan), trace.StatMean); !errors.Is(err, parity.ErrNoDenominator) {
		t.Errorf("NaN denominator: %v", err)
	}
	if _, err = parity.StatRatio(st(), st(), trace.StatMean); !errors.Is(err, parity.ErrEmptySample) {
		t.Errorf("empty samples: %v", err)
	}
	if _, err = parity.StatRatio(st(1, 2, 3), st(1, 2), trace.StatMean); !errors.Is(err, parity.ErrMismatch) {
		t.Errorf("count mismatch: %v", err)
	}
}
