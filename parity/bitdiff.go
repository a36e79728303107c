package parity

import (
	"fmt"
	"math"
	"slices"

	"github.com/falsify/falsify/trace"
)

// BitDiff counts values whose bits differ between a and b, over the whole
// trace (tokens, embed, every layer slot, final_norm, logits) or the given
// slots; it compares every position where both traces kept them, else the
// last position. first describes the first difference (or, when nothing
// was comparable, why).
func BitDiff(a, b *trace.Trace, slots []trace.Slot) (diffs, compared int, first string) {
	note := func(where string) {
		if first == "" {
			first = where
		}
	}
	if !slices.Equal(a.Tokens, b.Tokens) {
		return 1, 1, fmt.Sprintf("tokens (%v vs %v)", a.Tokens, b.Tokens)
	}
	want := func(s trace.Slot) bool { return len(slots) == 0 || slices.Contains(slots, s) }
	cmpSlot := func(where string, sa, sb *trace.SlotTrace) {
		va, vb := [][]float32{sa.Last}, [][]float32{sb.Last}
		if len(sa.Positions) > 0 && len(sa.Positions) == len(sb.Positions) {
			va, vb = sa.Rows(), sb.Rows()
		}
		for r := range va {
			if len(va[r]) != len(vb[r]) {
				diffs++
				note(fmt.Sprintf("%s (length %d vs %d)", where, len(va[r]), len(vb[r])))
				continue
			}
			for i := range va[r] {
				compared++
				if math.Float32bits(va[r][i]) != math.Float32bits(vb[r][i]) {
					diffs++
					note(fmt.Sprintf("%s position %d index %d (%g vs %g)", where, r, i, va[r][i], vb[r][i]))
				}
			}
		}
	}
	if want("embed") {
		cmpSlot("embed", &a.Embed, &b.Embed)
	}
	if len(a.Layers) != len(b.Layers) && (len(slots) == 0 || slices.ContainsFunc(slots, trace.Slot.IsLayer)) {
		return diffs + 1, compared + 1, fmt.Sprintf("layer count (%d vs %d)", len(a.Layers), len(b.Layers))
	}
	for l := range a.Layers {
		for s, name := range trace.LayerSlots() {
			if want(name) {
				cmpSlot(fmt.Sprintf("layer %d %s", l, name), &a.Layers[l].Slots[s], &b.Layers[l].Slots[s])
			}
		}
	}
	if want("final_norm") {
		cmpSlot("final_norm", &a.FinalNorm, &b.FinalNorm)
	}
	if want("logits") {
		cmpSlot("logits", &a.Logits, &b.Logits)
	}
	if compared == 0 && first == "" {
		first = "the traces hold no values for the selected slots"
	}
	return diffs, compared, first
}
