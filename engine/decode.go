package engine

import (
	"fmt"

	"github.com/falsify/falsify/trace"
)

// forwardSteps runs tokens through the session as Run does: the first
// opts.Prefill tokens in one Forward call (all of them when Prefill is 0),
// then one token per call through the KV cache (the decode path), all
// into one trace. A trace over several calls keeps every position while
// it grows (a continuation recomputes the all_tokens statistics over
// them); they are dropped at the end when the options did not ask for
// them, so the trace has the shape a single call gives. Untraced, tr is
// nil.
func (s *Session) forwardSteps(tokens []int32, tr *trace.Trace) error {
	prefill := s.opts.Prefill
	if prefill < 0 || prefill > len(tokens) {
		return fmt.Errorf("engine: prefill %d outside 0..%d (the prompt's tokens)", prefill, len(tokens))
	}
	if prefill == 0 {
		prefill = len(tokens)
	}
	if prefill == len(tokens) {
		return s.Forward(tokens, tr)
	}
	keep := s.opts.AllPositions
	s.opts.AllPositions = true
	defer func() { s.opts.AllPositions = keep }()
	if err := s.Forward(tokens[:prefill], tr); err != nil {
		return err
	}
	for i := prefill; i < len(tokens); i++ {
		if err := s.Forward(tokens[i:i+1], tr); err != nil {
			return fmt.Errorf("decode step at position %d: %w", i, err)
		}
	}
	if !keep && tr != nil {
		dropPositions(tr)
	}
	return nil
}

// dropPositions removes every slot's kept positions (Last stays).
func dropPositions(tr *trace.Trace) {
	tr.Embed.Positions, tr.FinalNorm.Positions, tr.Logits.Positions = nil, nil, nil
	for l := range tr.Layers {
		for i := range tr.Layers[l].Slots {
			tr.Layers[l].Slots[i].Positions = nil
		}
	}
}
