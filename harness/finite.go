package harness

import (
	"fmt"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

// nonFinite counts the NaN and Inf values in every slot of a trace and
// names the first slot (in forward order) holding one: layer -1 for the
// model-level slots. Statistics skip non-finite values, so without this
// check a ratio of two stds, a cosine or a top-1 agreement could PASS over
// a trace that is partly NaN.
func nonFinite(t *trace.Trace) (count int, layer int, slot trace.Slot) {
	layer = -1
	note := func(l int, name trace.Slot, st *trace.SlotTrace) {
		n := st.AllTokens.NaNCount + st.AllTokens.InfCount
		if n == 0 {
			// Untraced runs and goldens may hold only the last position.
			n = st.LastToken.NaNCount + st.LastToken.InfCount
		}
		if n > 0 && count == 0 {
			layer, slot = l, name
		}
		count += n
	}
	note(-1, trace.SlotEmbed, &t.Embed)
	for li := range t.Layers {
		for _, s := range trace.LayerSlots() {
			note(li, s, t.Layers[li].Slot(s))
		}
	}
	note(-1, trace.SlotFinalNorm, &t.FinalNorm)
	note(-1, trace.SlotLogits, &t.Logits)
	return count, layer, slot
}

// judgeFinite is the check every gate over traces gets before its own:
// a subject whose trace holds a NaN or an Inf FAILs the gate, with a
// measurement naming the subject, the count and the first slot holding
// one. It reports whether the gate may go on.
func judgeFinite(g *contracts.Gate, runs map[string]*subjectRun, rec *record) bool {
	ok := true
	for _, name := range g.Params.SubjectNames() {
		run := runs[name]
		if run == nil || run.trace == nil {
			continue
		}
		n, layer, slot := nonFinite(run.trace)
		if n == 0 {
			continue
		}
		m := evidence.Measurement{Subject: name, Slot: slot, Name: "non_finite_values", Value: trace.Float(n)}
		if layer >= 0 {
			m.Layer = evidence.Layer(layer)
		}
		m = m.Judge(trace.Band{})
		rec.Measurements = append(rec.Measurements, m)
		if ok {
			first := m
			rec.FirstOffending = &first
			at := string(slot)
			if layer >= 0 {
				at = fmt.Sprintf("layer %d %s", layer, slot)
			}
			rec.Verdict = evidence.Fail
			rec.Reason = fmt.Sprintf("subject %s: its trace holds %d non-finite values (NaN or Inf), the first at %s; statistics skip them, so no comparison over this trace can pass", name, n, at)
		}
		ok = false
	}
	return ok
}
