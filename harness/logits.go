package harness

import (
	"errors"
	"fmt"
	"slices"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// NeedsAllLogits says which subjects of c must compute the logits of
// every position (engine Options.AllLogits) for c's gates to be judged,
// each with the first gate (in file order) that needs them. Every other
// engine subject computes the last position's logits only, as an untraced
// run does: the output matmul of every position is the largest cost of
// tracing and most gates never read it.
//
// A gate needs them when it reads the logits slot over every position
// (contracts.Contract.EveryPositionLogits: ratio_band, count_parity,
// metric_max, metric_min and logits gates over every position's logits,
// which Validate refuses on a `trace: false` subject), and further
// bit_exact over the whole trace or slots that include logits (it
// compares every position where both traces kept them), unless a side
// is a `trace: false` subject: that trace keeps no positions, so the
// gate compares the last position's logits only. A deterministic
// gate does not: its re-runs are its own and compute every position's
// logits themselves (judgeDeterministic), never reading the subject's.
//
// The judges refuse a trace that lacks logits a gate needs (BLOCKED,
// naming the subject), so this rule can only cost time, never a verdict.
func NeedsAllLogits(c *contracts.Contract) map[string]string {
	out := map[string]string{}
	for _, t := range c.FalsificationTests {
		if t.Gate == nil || t.Gate.Params == nil {
			continue
		}
		for _, name := range gateNeedsAllLogits(c, t.Gate) {
			if _, ok := out[name]; !ok {
				out[name] = t.ID
			}
		}
	}
	return out
}

// gateNeedsAllLogits lists the subjects of one gate that need the logits
// of every position (NeedsAllLogits).
func gateNeedsAllLogits(c *contracts.Contract, g *contracts.Gate) []string {
	out, _ := c.EveryPositionLogits(g)
	if p, ok := g.Params.(*contracts.BitExact); ok && (len(p.Slots) == 0 || slices.Contains(p.Slots, trace.SlotLogits)) &&
		!untracedModel(c, p.A) && !untracedModel(c, p.B) {
		out = append(out, p.A, p.B)
	}
	return out
}

// untracedModel reports whether the named subject runs the engine without
// capture hooks (trace: false): its trace keeps no position's vectors and
// the last position's logits only (Runner.subject, untracedRun).
func untracedModel(c *contracts.Contract, name string) bool {
	s, ok := c.Subject(name)
	return ok && s.Kind == contracts.SubjectModel && !s.Trace
}

// lastLogitsReason is the reason of a gate BLOCKED because subject's
// trace holds the last position's logits only where the gate reads every
// position's: what reads them is said by reads.
func lastLogitsReason(subject, reads string) string {
	return fmt.Sprintf("subject %s: logits: %v, but %s reads the logits of every position; "+
		"a traced model subject computes them when a gate of its contract reads them, "+
		"an untraced one (trace: false) never does (compare its last position: positions: last), "+
		"and a trace file needs `falsify trace --logits all`", subject, parity.ErrLastLogits, reads)
}

// refuseLastLogits BLOCKs the gate when a subject's trace holds the last
// position's logits only; reads says what the gate reads. It reports
// whether the gate may go on.
func refuseLastLogits(rec *record, reads string, runs ...*subjectRun) bool {
	for _, run := range runs {
		if run != nil && run.trace != nil && !run.trace.HasAllLogits() {
			rec.Verdict, rec.Reason = evidence.Blocked, lastLogitsReason(run.name, reads)
			return false
		}
	}
	return true
}

// blockLastLogits turns a parity refusal of last-position logits (side a
// or b) into a BLOCKED verdict naming the subject; it reports whether err
// was one.
func blockLastLogits(rec *record, err error, a, b, reads string) bool {
	var le *parity.LastLogitsError
	if !errors.As(err, &le) {
		return false
	}
	name := a
	if le.Side == "b" {
		name = b
	}
	rec.Verdict, rec.Reason = evidence.Blocked, lastLogitsReason(name, reads)
	return true
}
