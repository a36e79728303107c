package parity

import (
	"errors"
	"fmt"

	"github.com/falsify/falsify/trace"
)

// Side is one side of a comparison that can be recomputed: its trace
// over the prompt (with every position, for teacher forcing) and the runs
// the split and the noise floor ask for. parity runs no model itself; the
// caller that holds the model supplies the functions (cmd diff wraps
// engine.ReplayLayer and engine.Run).
type Side struct {
	Trace *trace.Trace
	// Replay runs layer l of the side's model alone on input (one row of
	// the model width per position, positions 0..n-1) and returns what the
	// layer's capture points record, every position kept.
	Replay func(l int, input [][]float32) (*trace.LayerTrace, error)
	// Rerun runs the side's model over tokens again, every position kept,
	// the logits of every position too (engine Options.AllLogits);
	// with nudge, every embedding value is first moved one float32 ULP away
	// from zero (engine.Options.NudgeEmbedding), the noise-floor
	// perturbation.
	Rerun func(tokens []int32, nudge bool) (*trace.Trace, error)
}

// LayerSplit separates the difference at one layer into what the layer
// adds by itself and what it inherits. Each slice holds the ten slots in
// forward order.
type LayerSplit struct {
	Layer int
	// Total is A against B end to end (the traces as they ran).
	Total []SlotComparison
	// Local is A's layer replayed on B's input to the layer, against B:
	// the error this layer adds by itself.
	Local []SlotComparison
	// Propagated is B's layer replayed on A's input to the layer, against
	// B: the error A's inherited input causes through an exact layer.
	Propagated []SlotComparison
}

// Split is the local/propagated decomposition of every layer.
type Split struct {
	Positions trace.Positions
	Layers    []LayerSplit
}

// Local returns the local comparisons of every layer in forward order,
// for FirstDivergence.
func (s *Split) Local() []SlotComparison {
	var out []SlotComparison
	for _, l := range s.Layers {
		out = append(out, l.Local...)
	}
	return out
}

// Propagated returns the propagated comparisons of every layer in forward
// order.
func (s *Split) Propagated() []SlotComparison {
	var out []SlotComparison
	for _, l := range s.Layers {
		out = append(out, l.Propagated...)
	}
	return out
}

// LocalPropagated replays each layer l twice by teacher forcing: A's
// layer on B's input to l (compared with B's layer: the local error of A
// at l) and B's layer on A's input to l (compared with B's layer: the
// error inherited from earlier layers). The end-to-end difference is
// reported beside them. Both traces must hold every position (the input
// of a layer is the previous layer's output at every position); pos
// selects which positions the metrics are taken over.
//
// On identical sides every value is exactly zero when Replay computes a
// layer as the forward pass does, bit for bit (engine.ReplayLayer does).
func LocalPropagated(a, b Side, pos trace.Positions) (*Split, error) {
	if a.Replay == nil || b.Replay == nil || a.Trace == nil || b.Trace == nil {
		return nil, errors.New("parity: local/propagated split needs both sides' traces and layer replays (models, not saved traces)")
	}
	total, err := Compare(a.Trace, b.Trace, pos)
	if err != nil {
		return nil, err
	}
	for _, side := range []struct {
		name string
		tr   *trace.Trace
	}{{"a", a.Trace}, {"b", b.Trace}} {
		if !side.tr.HasAllPositions() {
			return nil, &MismatchError{Site: "embed", Field: "positions kept (teacher forcing needs every position)",
				A: side.name, B: fmt.Sprintf("%d of %d", len(side.tr.Embed.Positions), len(side.tr.Tokens)), Err: ErrMissingPositions}
		}
	}
	n := len(a.Trace.Tokens)
	out := &Split{Positions: pos}
	for l := range total.NumLayers {
		ls := LayerSplit{Layer: l, Total: total.Layer(l)}
		inA, inB := layerInput(a.Trace, l), layerInput(b.Trace, l)
		local, err := a.Replay(l, inB)
		if err != nil {
			return nil, fmt.Errorf("parity: replay layer %d of a on b's input: %w", l, err)
		}
		prop, err := b.Replay(l, inA)
		if err != nil {
			return nil, fmt.Errorf("parity: replay layer %d of b on a's input: %w", l, err)
		}
		ref := &b.Trace.Layers[l]
		for s, name := range trace.LayerSlots() {
			site := Site{l, name}
			lc, err := compareSlot(site, &local.Slots[s], &ref.Slots[s], pos, n)
			if err != nil {
				return nil, fmt.Errorf("parity: local error: %w", err)
			}
			pc, err := compareSlot(site, &prop.Slots[s], &ref.Slots[s], pos, n)
			if err != nil {
				return nil, fmt.Errorf("parity: propagated error: %w", err)
			}
			ls.Local = append(ls.Local, lc)
			ls.Propagated = append(ls.Propagated, pc)
		}
		out.Layers = append(out.Layers, ls)
	}
	return out, nil
}

// layerInput is the residual stream entering layer l at every position:
// the embedding for layer 0, else the previous layer's output.
func layerInput(tr *trace.Trace, l int) [][]float32 {
	src := tr.Embed.Positions
	if l > 0 {
		src = tr.Layers[l-1].Slot(trace.SlotOutput).Positions
	}
	out := make([][]float32, len(src))
	for i, v := range src {
		out[i] = v
	}
	return out
}
