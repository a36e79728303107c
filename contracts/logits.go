package contracts

import (
	"slices"

	"github.com/falsify/falsify/trace"
)

// EveryPositionLogits lists the subjects of gate g (of c) whose logits
// the gate reads at every position, each with the gate parameter key that
// names it (keys[i] names subjects[i]; a subject read twice is listed
// twice). The harness judges refuse (BLOCKED) a trace of such a subject
// that holds the last position's logits only, as an untraced run
// (`trace: false`) always does; Validate refuses the combination, and
// the harness computes every position's logits for these subjects
// (harness.NeedsAllLogits). A gate reads them when it reads the logits
// slot over every position:
//
//   - ratio_band on slot logits with sample all_tokens (coverage counts
//     layers, so it never reads logits);
//   - count_parity over slots that include logits, in sample all_tokens;
//   - metric_max and metric_min with positions all over slots that
//     include logits (their default slots are the ten layer slots);
//   - logits with positions all.
//
// A subject's forced sample (Subject.Sample) replaces the gate's sample,
// as the judges do. bit_exact and deterministic are not listed: bit_exact
// compares the last position's logits of a trace without positions, and a
// deterministic gate's re-runs compute their own.
func (c *Contract) EveryPositionLogits(g *Gate) (subjects, keys []string) {
	if g == nil || g.Params == nil {
		return nil, nil
	}
	// sample is the sample subject name reports when a gate asks for want.
	sample := func(name string, want trace.Sample) trace.Sample {
		if s, ok := c.Subject(name); ok && s.Sample != "" {
			return s.Sample
		}
		return want
	}
	add := func(name, key string) { subjects, keys = append(subjects, name), append(keys, key) }
	hasLogits := func(slots []trace.Slot) bool { return slices.Contains(slots, trace.SlotLogits) }
	switch p := g.Params.(type) {
	case *RatioBand:
		if p.Slot == trace.SlotLogits {
			if sample(p.Numerator, p.Sample) == trace.SampleAllTokens {
				add(p.Numerator, "numerator")
			}
			if sample(p.Denominator, p.Sample) == trace.SampleAllTokens {
				add(p.Denominator, "denominator")
			}
		}
	case *CountParity:
		if hasLogits(p.Slots) {
			samples := p.Samples
			if len(samples) == 0 {
				samples = trace.Samples()
			}
			for _, name := range p.Subjects {
				for _, s := range samples {
					if sample(name, s) == trace.SampleAllTokens {
						add(name, "subjects")
						break
					}
				}
			}
		}
	case *MetricMax:
		if p.Positions == trace.PositionsAll && hasLogits(p.Slots) {
			add(p.A, "a")
			add(p.B, "b")
		}
	case *MetricMin:
		if p.Positions == trace.PositionsAll && hasLogits(p.Slots) {
			add(p.A, "a")
			add(p.B, "b")
		}
	case *Logits:
		if p.Positions == trace.PositionsAll {
			add(p.A, "a")
			add(p.B, "b")
		}
	}
	return subjects, keys
}
