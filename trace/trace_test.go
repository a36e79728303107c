package trace_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/falsify/falsify/trace"
)

// TestLayerSlotsOrder: the per-layer slots are the ten of
// capture-points.md in forward order, LayerIndex inverts LayerSlots, and
// the slots beside the layers are neither layer slots nor unknown.
func TestLayerSlotsOrder(t *testing.T) {
	want := "attn_norm qkv attn_out ffn_norm ffn_gate ffn_up ffn_silu_gate ffn_swiglu_inner ffn_out output"
	var got []string
	for i, s := range trace.LayerSlots() {
		got = append(got, string(s))
		if s.LayerIndex() != i || !s.IsLayer() || !s.Known() {
			t.Errorf("%s: index %d, want %d", s, s.LayerIndex(), i)
		}
	}
	if strings.Join(got, " ") != want || len(got) != trace.NumLayerSlots {
		t.Errorf("layer slots %v", got)
	}
	for _, s := range trace.GlobalSlots() {
		if s.IsLayer() || !s.Known() || s.LayerIndex() != -1 {
			t.Errorf("%s: layer %v known %v", s, s.IsLayer(), s.Known())
		}
	}
	if trace.Slot("ffn_swigl").Known() {
		t.Error("aprender's name ffn_swigl is not a slot")
	}
	if got := trace.SlotOutput.TransformerLens(3); got != "blocks.3.hook_resid_post" {
		t.Errorf("TransformerLens(output, 3) = %q", got)
	}
	if got := trace.SlotQKV.TransformerLens(0); got != "" {
		t.Errorf("TransformerLens(qkv) = %q, want none", got)
	}
}

// TestJSONSpecialValues: traces and evidence spell NaN and the infinities
// the same way, and every float32 bit pattern of a vector round-trips.
func TestJSONSpecialValues(t *testing.T) {
	v := trace.Vector{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0.1, -0, math.SmallestNonzeroFloat32, math.MaxFloat32}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["NaN","+Inf","-Inf",0.1,0,1e-45,3.4028235e+38]`; string(b) != want {
		t.Errorf("vector JSON %s, want %s", b, want)
	}
	var back trace.Vector
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if math.Float32bits(v[i]) != math.Float32bits(back[i]) && !(v[i] != v[i] && back[i] != back[i]) {
			t.Errorf("element %d: %v -> %v", i, v[i], back[i])
		}
	}
	f, err := json.Marshal([]trace.Float{trace.Float(math.Inf(1)), trace.Float(math.Inf(-1)), trace.Float(math.NaN()), 1.5})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["+Inf","-Inf","NaN",1.5]`; string(f) != want {
		t.Errorf("float JSON %s, want %s", f, want)
	}
	for _, bad := range []string{`["Inf"]`, `["inf"]`, `["x"]`} {
		var fs []trace.Float
		if err := json.Unmarshal([]byte(bad), &fs); err == nil {
			t.Errorf("%s read as %v; only \"NaN\", \"+Inf\", \"-Inf\" are spelled", bad, fs)
		}
		var vs trace.Vector
		if err := json.Unmarshal([]byte(bad), &vs); err == nil {
			t.Errorf("%s read as vector %v", bad, vs)
		}
	}
	bj, err := json.Marshal(trace.Band{Lo: math.Inf(-1), Hi: 1e-3})
	if err != nil || string(bj) != `["-Inf",0.001]` {
		t.Errorf("band JSON %s %v", bj, err)
	}
}

// TestBand: inclusive ends, NaN and infinities never inside, one-sided
// bands printed as bounds.
func TestBand(t *testing.T) {
	b := trace.Band{Lo: 0.5, Hi: 2}
	for v, want := range map[float64]bool{0.5: true, 2: true, 1: true, 0.49: false, 2.01: false, math.NaN(): false} {
		if b.Contains(v) != want {
			t.Errorf("%v in %v: %v", v, b, !want)
		}
	}
	if (trace.Band{Lo: math.Inf(-1), Hi: math.Inf(1)}).Contains(math.Inf(1)) {
		t.Error("+Inf contained")
	}
	for _, c := range []struct {
		b    trace.Band
		want string
	}{{b, "[0.5, 2]"}, {trace.Band{Lo: math.Inf(-1), Hi: 1e-3}, "<= 0.001"}, {trace.Band{Lo: 0.99, Hi: math.Inf(1)}, ">= 0.99"}} {
		if c.b.String() != c.want {
			t.Errorf("%v.String() = %q, want %q", c.b, c.b.String(), c.want)
		}
	}
}

// TestTraceSlotAndLayerJSON: Trace.Slot finds layer and model-level
// slots and refuses the rest; a layer's JSON is keyed by slot name and
// unknown names are refused.
func TestTraceSlotAndLayerJSON(t *testing.T) {
	tr := &trace.Trace{Tokens: []int32{1, 2}, Layers: make([]trace.LayerTrace, 2)}
	tr.Layers[1].Layer = 1
	tr.Layers[1].Slot(trace.SlotFFNOut).Last = trace.Vector{1, 2}
	st, err := tr.Slot(1, trace.SlotFFNOut)
	if err != nil || len(st.Last) != 2 {
		t.Fatalf("Slot(1, ffn_out) = %v, %v", st, err)
	}
	if st, err := tr.Slot(-1, trace.SlotLogits); err != nil || st != &tr.Logits {
		t.Errorf("Slot(-1, logits) = %p, %v", st, err)
	}
	for _, bad := range []struct {
		l int
		s trace.Slot
	}{{2, trace.SlotQKV}, {-1, trace.SlotQKV}, {0, "kqv_out"}} {
		if _, err := tr.Slot(bad.l, bad.s); err == nil {
			t.Errorf("Slot(%d, %s): no error", bad.l, bad.s)
		}
	}
	b, err := json.Marshal(tr.Layers[1])
	if err != nil {
		t.Fatal(err)
	}
	var back trace.LayerTrace
	if err := json.Unmarshal(b, &back); err != nil || back.Layer != 1 || len(back.Slot(trace.SlotFFNOut).Last) != 2 {
		t.Errorf("layer round trip: %v %+v", err, back)
	}
	if err := json.Unmarshal([]byte(`{"layer":0,"slots":{"ffn_swigl":{}}}`), &back); err == nil {
		t.Error("unknown slot name accepted")
	}
}
