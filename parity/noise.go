package parity

import (
	"errors"
	"fmt"

	"github.com/falsify/falsify/trace"
)

// NoiseFloor measures how much a subject differs from itself under a
// change that should be harmless: every embedding value moved one float32
// ULP away from zero (Side.Rerun with nudge), the size of a
// different summation order. It compares the nudged run (as A) with the
// plain one (as B: s.Trace, re-run when every position is asked for and
// the trace kept only the last position or the last position's logits)
// at every site. A
// measured difference at or below the floor says nothing about the engine;
// thresholds belong above it.
//
// In quantized matmul mode the nudge now and then moves an activation
// across a rounding boundary of the activation quantizer, and the floor
// grows layer by layer; in f32 mode it stays near float32 rounding.
func NoiseFloor(s Side, pos trace.Positions) (*Comparison, error) {
	if s.Rerun == nil {
		return nil, errors.New("parity: noise floor needs a side that can be re-run (a model, not a saved trace)")
	}
	base := s.Trace
	if base == nil {
		return nil, errors.New("parity: noise floor needs the side's plain trace (its tokens)")
	}
	if pos == trace.PositionsAll && (!base.HasAllPositions() || !base.HasAllLogits()) {
		var err error
		if base, err = s.Rerun(s.Trace.Tokens, false); err != nil {
			return nil, fmt.Errorf("parity: noise floor: %w", err)
		}
	}
	nudged, err := s.Rerun(base.Tokens, true)
	if err != nil {
		return nil, fmt.Errorf("parity: noise floor: nudged run: %w", err)
	}
	return Compare(nudged, base, pos)
}

// MaxFloor combines the noise floors of two subjects site by site into the
// larger of the two (for each metric, the worse value), so one floor can
// sit beside a comparison of the pair. Either may be nil.
func MaxFloor(fa, fb *Comparison) (*Comparison, error) {
	switch {
	case fa == nil:
		return fb, nil
	case fb == nil:
		return fa, nil
	case len(fa.Sites) != len(fb.Sites):
		return nil, fmt.Errorf("parity: noise floors have %d and %d sites", len(fa.Sites), len(fb.Sites))
	}
	out := *fa
	out.Sites = make([]SlotComparison, len(fa.Sites))
	for i := range fa.Sites {
		x, y := fa.Sites[i], fb.Sites[i]
		if x.Site != y.Site {
			return nil, fmt.Errorf("parity: noise floor sites %s and %s differ", x.Site, y.Site)
		}
		if x.Empty {
			out.Sites[i] = x
			continue
		}
		w := x
		w.NMSE = worse(trace.MetricNMSE, x.NMSE, y.NMSE)
		w.Cosine = worse(trace.MetricCosine, x.Cosine, y.Cosine)
		w.SQNR = worse(trace.MetricSQNR, x.SQNR, y.SQNR)
		w.MaxAbs = worse(trace.MetricMaxAbs, x.MaxAbs, y.MaxAbs)
		w.RelL2 = worse(trace.MetricRelL2, x.RelL2, y.RelL2)
		if abs1(y.StdRatio) > abs1(x.StdRatio) {
			w.StdRatio = y.StdRatio
		}
		out.Sites[i] = w
	}
	return &out, nil
}

// worse is the value of x and y that is further from identity for m (NaN
// wins: it never passes).
func worse(m trace.Metric, x, y float64) float64 {
	if x != x {
		return x
	}
	if y != y {
		return y
	}
	if m.HigherIsBetter() {
		return min(x, y)
	}
	return max(x, y)
}

// abs1 is how far a ratio is from 1, symmetric in r and 1/r.
func abs1(r float64) float64 {
	if r != r || r <= 0 {
		return 0
	}
	if r < 1 {
		r = 1 / r
	}
	return r - 1
}
