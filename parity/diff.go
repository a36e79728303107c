package parity

import (
	"context"
	"errors"
	"strings"

	"github.com/falsify/falsify/trace"
)

// DiffOptions configure Diff.
type DiffOptions struct {
	// Positions compared; "" means all when both traces hold every
	// position and every position's logits, else last.
	Positions trace.Positions
	// Metric and Limit define divergence: a site diverges when its metric
	// crosses Limit (Metric.Identity() finds the first difference of any
	// size).
	Metric trace.Metric
	Limit  float64
	// TopK is the k of the logits' top-k overlap.
	TopK int
	// NoiseFloor measures each re-runnable side's noise floor and looks
	// for the first site whose metric is more than FloorFactor times the
	// floor (FirstAboveFloor) instead of the first above Limit.
	NoiseFloor  bool
	FloorFactor float64
	// Log, when set, is told what slow step starts (replaying layers,
	// measuring a noise floor).
	Log func(format string, args ...any)
}

// ErrNoRerun: a noise floor was asked for but neither side can be re-run
// (both are saved traces).
var ErrNoRerun = errors.New("parity: a noise floor needs a side that can be re-run")

// DiffResult is everything Diff measured.
type DiffResult struct {
	Comparison *Comparison
	Floor      *Comparison // nil unless DiffOptions.NoiseFloor
	Split      *Split      // nil unless both sides can replay layers
	// First is the first divergence end to end (above the floor when one
	// was measured); Local the first divergence of the local error (nil
	// without a split).
	First, Local *Divergence
	Logits       *LogitsComparison
	Metric       trace.Metric
	Limit        float64
	// FloorNote says whose noise floor was measured.
	FloorNote string
}

// Diff is the whole analysis of A against the reference B that `falsify
// diff` prints: the comparison at every site, the logits, the
// local/propagated split when both sides can replay layers, the noise
// floor when asked, and the first divergence. names name the sides in
// notes ("a.gguf", "b.apr").
func Diff(ctx context.Context, a, b Side, names [2]string, o DiffOptions) (*DiffResult, error) {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	pos := o.Positions
	if pos == "" {
		pos = trace.PositionsLast
		if a.Trace.HasAllPositions() && b.Trace.HasAllPositions() {
			pos = trace.PositionsAll
			// Every position's vectors but the last position's logits on
			// a side: say why only the last is compared.
			for i, t := range []*trace.Trace{a.Trace, b.Trace} {
				if !t.HasAllLogits() {
					pos = trace.PositionsLast
					logf("comparing the last position only: %s has the last position's logits only (every position needs them: falsify trace --logits all)", names[i])
				}
			}
		}
	}
	r := &DiffResult{Metric: o.Metric, Limit: o.Limit}
	var err error
	if r.Comparison, err = Compare(a.Trace, b.Trace, pos); err != nil {
		return nil, err
	}
	if r.Logits, err = CompareLogits(a.Trace, b.Trace, pos, o.TopK); err != nil {
		return nil, err
	}
	if a.Replay != nil && b.Replay != nil {
		logf("replaying %d layers on each other's inputs", r.Comparison.NumLayers)
		if r.Split, err = LocalPropagated(a, b, pos); err != nil {
			return nil, err
		}
		r.Local = FirstDivergence(r.Split.Local(), o.Metric, o.Limit)
	}
	if !o.NoiseFloor {
		r.First = FirstDivergence(r.Comparison.Sites, o.Metric, o.Limit)
		return r, nil
	}
	var floors []*Comparison
	var who []string
	for i, s := range []Side{a, b} {
		if s.Rerun == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logf("noise floor of %s (embedding nudged one ULP)", names[i])
		f, err := NoiseFloor(s, pos)
		if err != nil {
			return nil, err
		}
		floors = append(floors, f)
		who = append(who, names[i])
	}
	if len(floors) == 0 {
		return nil, ErrNoRerun
	}
	if len(floors) == 1 {
		floors = append(floors, nil)
	}
	if r.Floor, err = MaxFloor(floors[0], floors[1]); err != nil {
		return nil, err
	}
	r.FloorNote = "noise floor of " + strings.Join(who, " and ") + " (the worse of the two at each site)"
	if r.First, err = FirstAboveFloor(r.Comparison.Sites, r.Floor, o.Metric, o.Limit, o.FloorFactor); err != nil {
		return nil, err
	}
	return r, nil
}
