package trace

import (
	"slices"
	"strconv"
)

// Slot names a capture point (capture-points.md, "Slots"). Contracts hold
// the name as written, so a Slot may be unknown until validated (Known).
type Slot string

// The ten per-layer slots, in forward order, and the three beside the
// layers.
const (
	SlotAttnNorm       Slot = "attn_norm"
	SlotQKV            Slot = "qkv"
	SlotAttnOut        Slot = "attn_out"
	SlotFFNNorm        Slot = "ffn_norm"
	SlotFFNGate        Slot = "ffn_gate"
	SlotFFNUp          Slot = "ffn_up"
	SlotFFNSiluGate    Slot = "ffn_silu_gate"
	SlotFFNSwigluInner Slot = "ffn_swiglu_inner"
	SlotFFNOut         Slot = "ffn_out"
	SlotOutput         Slot = "output"

	SlotEmbed     Slot = "embed"
	SlotFinalNorm Slot = "final_norm"
	SlotLogits    Slot = "logits"
)

// NumLayerSlots is the number of per-layer slots (the length of
// LayerTrace.Slots).
const NumLayerSlots = 10

var layerSlots = [NumLayerSlots]Slot{SlotAttnNorm, SlotQKV, SlotAttnOut, SlotFFNNorm, SlotFFNGate,
	SlotFFNUp, SlotFFNSiluGate, SlotFFNSwigluInner, SlotFFNOut, SlotOutput}

// LayerSlots returns the ten per-layer slots in forward order; index i is
// LayerTrace.Slots[i].
func LayerSlots() []Slot { return append([]Slot(nil), layerSlots[:]...) }

// GlobalSlots returns the slots outside the layers, in forward order.
func GlobalSlots() []Slot { return []Slot{SlotEmbed, SlotFinalNorm, SlotLogits} }

// LayerIndex returns s's index in LayerSlots, or -1 when s is not a
// per-layer slot.
func (s Slot) LayerIndex() int {
	switch s {
	case SlotAttnNorm:
		return 0
	case SlotQKV:
		return 1
	case SlotAttnOut:
		return 2
	case SlotFFNNorm:
		return 3
	case SlotFFNGate:
		return 4
	case SlotFFNUp:
		return 5
	case SlotFFNSiluGate:
		return 6
	case SlotFFNSwigluInner:
		return 7
	case SlotFFNOut:
		return 8
	case SlotOutput:
		return 9
	}
	return -1
}

// IsLayer reports whether s is one of the ten per-layer slots.
func (s Slot) IsLayer() bool { return s.LayerIndex() >= 0 }

// Known reports whether s is a slot of capture-points.md.
func (s Slot) Known() bool { return s.IsLayer() || slices.Contains(GlobalSlots(), s) }

// TransformerLens returns the TransformerLens hook name of a per-layer
// slot in layer l (capture-points.md, "Names elsewhere"), or "" for slots
// TransformerLens has no hook for (qkv, ffn_up, ffn_silu_gate, and the
// slots beside the layers). Reports may print it; traces keep the Slot.
func (s Slot) TransformerLens(l int) string {
	var hook string
	switch s {
	case SlotAttnNorm:
		hook = "ln1.hook_normalized"
	case SlotAttnOut:
		hook = "hook_attn_out"
	case SlotFFNNorm:
		hook = "ln2.hook_normalized"
	case SlotFFNGate:
		hook = "mlp.hook_pre"
	case SlotFFNSwigluInner:
		hook = "mlp.hook_post"
	case SlotFFNOut:
		hook = "hook_mlp_out"
	case SlotOutput:
		hook = "hook_resid_post"
	default:
		return ""
	}
	return "blocks." + strconv.Itoa(l) + "." + hook
}
