package trace_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/trace"
)

// synthTrace builds a trace of nLayers layers over n positions with the
// given widths (hidden, qkv, ff) and random values, every position kept.
func synthTrace(nLayers, n, hidden, qkv, ff, vocab int, seed uint64) *trace.Trace {
	rng := rand.New(rand.NewPCG(seed, 1))
	slot := func(w int) trace.SlotTrace {
		rows := make([][]float32, n)
		for i := range rows {
			rows[i] = make([]float32, w)
			for j := range rows[i] {
				rows[i][j] = float32(rng.NormFloat64())
			}
		}
		return trace.SlotFromPositions(rows)
	}
	widths := map[trace.Slot]int{trace.SlotQKV: qkv, trace.SlotFFNGate: ff, trace.SlotFFNUp: ff, trace.SlotFFNSiluGate: ff, trace.SlotFFNSwigluInner: ff}
	tr := &trace.Trace{Provenance: trace.Provenance{Model: "synthetic", Backend: "test", Threads: 1}}
	for i := range n {
		tr.Tokens = append(tr.Tokens, int32(i+10))
	}
	tr.Embed = slot(hidden)
	for l := range nLayers {
		lt := trace.LayerTrace{Layer: l}
		for i, s := range trace.LayerSlots() {
			w, ok := widths[s]
			if !ok {
				w = hidden
			}
			lt.Slots[i] = slot(w)
		}
		tr.Layers = append(tr.Layers, lt)
	}
	tr.FinalNorm = slot(hidden)
	tr.Logits = slot(vocab)
	return tr
}

func sameTrace(t *testing.T, a, b *trace.Trace) {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("traces differ after the round trip (%d vs %d JSON bytes)", len(ja), len(jb))
	}
	if len(a.Layers[0].Slots[1].Positions) != len(b.Layers[0].Slots[1].Positions) {
		t.Fatal("positions lost")
	}
}

// TestTraceFileRoundTrip: a trace written inline and with a safetensors
// side-car reads back with every bit, statistics and positions.
func TestTraceFileRoundTrip(t *testing.T) {
	tr := synthTrace(2, 3, 8, 12, 20, 30, 1)
	dir := t.TempDir()
	inline := filepath.Join(dir, "inline.json")
	if err := trace.WriteFile(inline, tr, ""); err != nil {
		t.Fatal(err)
	}
	back, err := trace.ReadFile(inline)
	if err != nil {
		t.Fatal(err)
	}
	sameTrace(t, tr, back)
	b, _ := os.ReadFile(inline)
	if !bytes.HasPrefix(b, []byte(`{"format":"falsify-trace","version":1,`)) {
		t.Errorf("file starts %.60s", b)
	}

	side := filepath.Join(dir, "side.json")
	if err := trace.WriteFile(side, tr, "side.safetensors"); err != nil {
		t.Fatal(err)
	}
	back, err = trace.ReadFile(side)
	if err != nil {
		t.Fatal(err)
	}
	back.Vectors = nil
	sameTrace(t, tr, back)
	js, _ := os.ReadFile(side)
	if bytes.Contains(js, []byte(`"last"`)) || !bytes.Contains(js, []byte(`"vectors":{"file":"side.safetensors"`)) {
		t.Errorf("side-car JSON repeats vectors or lacks the reference")
	}
	// The side-car is checked against its digest.
	sc := filepath.Join(dir, "side.safetensors")
	raw, _ := os.ReadFile(sc)
	raw[len(raw)-1] ^= 1
	os.WriteFile(sc, raw, 0o644)
	if _, err := trace.ReadFile(side); err == nil || !strings.Contains(err.Error(), "field vectors.sha256") {
		t.Errorf("tampered side-car: %v", err)
	}
}

// TestStatisticsOnlyTrace: a trace with statistics and no vectors reads,
// and MissingVectors names its first slot.
func TestStatisticsOnlyTrace(t *testing.T) {
	tr := synthTrace(1, 2, 4, 6, 8, 10, 2)
	if got := tr.MissingVectors(); got != "" {
		t.Fatalf("full trace: MissingVectors = %q", got)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "stats.json")
	b, _ := json.Marshal(tr)
	var m map[string]any
	json.Unmarshal(b, &m)
	strip := func(s any) {
		sm := s.(map[string]any)
		delete(sm, "last")
		delete(sm, "positions")
	}
	strip(m["embed"])
	strip(m["final_norm"])
	strip(m["logits"])
	for _, l := range m["layers"].([]any) {
		for _, s := range l.(map[string]any)["slots"].(map[string]any) {
			strip(s)
		}
	}
	b, _ = json.Marshal(m)
	os.WriteFile(p, b, 0o644)
	back, err := trace.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.MissingVectors(); got != "embed" {
		t.Errorf("MissingVectors = %q, want embed", got)
	}
	if back.Layers[0].Slots[1].AllTokens.Count != 12 {
		t.Errorf("qkv all_tokens count %d, want 12", back.Layers[0].Slots[1].AllTokens.Count)
	}
}

// TestLastPositionLogitsFile: a trace whose logits cover the last
// position only (logits_positions last: last_token and last, all_tokens
// count 0, no positions) reads back inline and from a side-car, its
// logits slot not taken for empty; a file without the field (as written
// before it existed) reads as every position.
func TestLastPositionLogitsFile(t *testing.T) {
	tr := synthTrace(2, 3, 8, 12, 20, 30, 4)
	tr.KeepLastLogits()
	if tr.LogitsPositions != trace.PositionsLast || tr.HasAllLogits() || tr.Logits.Empty() {
		t.Fatalf("KeepLastLogits: logits_positions %q, empty %v", tr.LogitsPositions, tr.Logits.Empty())
	}
	dir := t.TempDir()
	for _, sidecar := range []string{"", "v.safetensors"} {
		p := filepath.Join(dir, "last"+sidecar+".json")
		if err := trace.WriteFile(p, tr, sidecar); err != nil {
			t.Fatal(err)
		}
		back, err := trace.ReadFile(p)
		if err != nil {
			t.Fatalf("side-car %q: %v", sidecar, err)
		}
		back.Vectors = nil
		sameTrace(t, tr, back)
		if back.HasAllLogits() || back.Logits.AllTokens.Count != 0 || len(back.Logits.Positions) != 0 || len(back.Logits.Last) != 30 {
			t.Errorf("side-car %q: read back logits_positions %q, all_tokens count %d, %d positions, last %d",
				sidecar, back.LogitsPositions, back.Logits.AllTokens.Count, len(back.Logits.Positions), len(back.Logits.Last))
		}
	}
	old := synthTrace(1, 2, 4, 6, 8, 10, 5)
	b, _ := json.Marshal(old)
	if bytes.Contains(b, []byte("logits_positions")) {
		t.Fatal("a trace without LogitsPositions writes the field")
	}
	p := filepath.Join(dir, "old.json")
	os.WriteFile(p, b, 0o644)
	back, err := trace.ReadFile(p)
	if err != nil || !back.HasAllLogits() {
		t.Errorf("a file without logits_positions: error %v, all logits %v", err, err == nil && back.HasAllLogits())
	}
}

// TestMalformedTraceFile: each broken file is an error naming the file and
// the field.
func TestMalformedTraceFile(t *testing.T) {
	tr := synthTrace(2, 2, 4, 6, 8, 10, 3)
	good, _ := json.Marshal(tr)
	cases := []struct {
		name, field string
		edit        func(m map[string]any)
		raw         string
	}{
		{name: "no format", field: "field format", edit: func(m map[string]any) { delete(m, "format") }},
		{name: "other format", field: "field format", edit: func(m map[string]any) { m["format"] = "apr-trace" }},
		{name: "newer version", field: "field version", edit: func(m map[string]any) { m["version"] = 9 }},
		{name: "tokens a string", field: "field tokens", edit: func(m map[string]any) { m["tokens"] = "1,2" }},
		{name: "empty tokens", field: "field tokens", edit: func(m map[string]any) { m["tokens"] = []int{} }},
		{name: "layer numbering", field: "field layers.1.layer", edit: func(m map[string]any) { m["layers"].([]any)[1].(map[string]any)["layer"] = 5 }},
		{name: "unknown slot", field: "unknown slot \"ffn_swigl\"", edit: func(m map[string]any) {
			s := m["layers"].([]any)[0].(map[string]any)["slots"].(map[string]any)
			s["ffn_swigl"] = s["qkv"]
		}},
		{name: "count vs vector", field: "field layers.0.slots.qkv.last_token.count", edit: func(m map[string]any) {
			s := m["layers"].([]any)[0].(map[string]any)["slots"].(map[string]any)["qkv"].(map[string]any)
			s["last_token"].(map[string]any)["count"] = 7
		}},
		{name: "ragged positions", field: "field logits.positions.0", edit: func(m map[string]any) {
			s := m["logits"].(map[string]any)
			s["positions"].([]any)[0] = []float64{1}
		}},
		{name: "count a string", field: "field embed.all_tokens.count", edit: func(m map[string]any) {
			m["embed"].(map[string]any)["all_tokens"].(map[string]any)["count"] = "many"
		}},
		{name: "side-car missing", field: "field vectors.file", edit: func(m map[string]any) {
			m["vectors"] = map[string]any{"file": "nope.safetensors", "sha256": "00"}
		}},
		{name: "truncated", raw: string(good[:len(good)/2]), field: "truncated JSON"},
		// logits_positions last claims only the last position's logits
		// were computed: all-position statistics or rows contradict it.
		{name: "last logits with all_tokens", field: "field logits.all_tokens.count", edit: func(m map[string]any) {
			m["logits_positions"] = "last"
			delete(m["logits"].(map[string]any), "positions")
		}},
		{name: "last logits with positions", field: "field logits.positions", edit: func(m map[string]any) {
			m["logits_positions"] = "last"
			m["logits"].(map[string]any)["all_tokens"] = map[string]any{"count": 0}
		}},
		{name: "logits_positions unknown", field: "field logits_positions", edit: func(m map[string]any) { m["logits_positions"] = "some" }},
		// Every position kept in every slot with vectors, or in none: a
		// slot without them (here the logits, with no logits_positions
		// field, so "all") would be compared at its last position only
		// while the rest of the trace is compared at every position.
		{name: "logits without positions in an all-positions trace", field: "field logits.positions", edit: func(m map[string]any) {
			delete(m["logits"].(map[string]any), "positions")
			m["logits"].(map[string]any)["all_tokens"] = map[string]any{"count": 0}
		}},
		{name: "a layer slot without positions", field: "field layers.1.slots.ffn_up.positions", edit: func(m map[string]any) {
			s := m["layers"].([]any)[1].(map[string]any)["slots"].(map[string]any)["ffn_up"].(map[string]any)
			delete(s, "positions")
			s["all_tokens"] = map[string]any{"count": 0}
		}},
		// Statistics that the file's own vectors contradict: a NaN the
		// counts leave out, an edited mean, a vector scaled behind them.
		{name: "NaN not counted", field: "field logits.last_token.nan_count", edit: func(m map[string]any) {
			s := m["logits"].(map[string]any)
			s["last"].([]any)[0] = "NaN"
			s["positions"].([]any)[1].([]any)[0] = "NaN"
		}},
		{name: "mean edited", field: "field embed.all_tokens.mean", edit: func(m map[string]any) {
			m["embed"].(map[string]any)["all_tokens"].(map[string]any)["mean"] = 12345
		}},
		{name: "vector scaled", field: "field layers.1.slots.ffn_up.last_token", edit: func(m map[string]any) {
			s := m["layers"].([]any)[1].(map[string]any)["slots"].(map[string]any)["ffn_up"].(map[string]any)
			for i, v := range s["last"].([]any) {
				s["last"].([]any)[i] = v.(float64) * 3
				s["positions"].([]any)[1].([]any)[i] = v.(float64) * 3
			}
		}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".json")
		data := []byte(c.raw)
		if c.edit != nil {
			var m map[string]any
			json.Unmarshal(good, &m)
			c.edit(m)
			data, _ = json.Marshal(m)
		}
		os.WriteFile(p, data, 0o644)
		_, err := trace.ReadFile(p)
		var fe *trace.FileError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want one naming %s and %q", c.name, err, p, c.field)
		}
	}
}

// TestSevenBTraceSize measures what a 7B-shaped trace of 64 positions
// (28 layers; hidden 3584, qkv 4608, ffn 18944, as Qwen2-7B) costs as JSON
// and as a safetensors side-car. It encodes one full layer of 64 positions
// and scales by 28 (every layer has the same widths); the global slots are
// measured whole with the logits at vocab 152064. The numbers are logged,
// and the side-car must be less than half the JSON (it is about a third),
// which is why the format has one.
func TestSevenBTraceSize(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes ~7 M floats")
	}
	const layers, n = 28, 64
	one := synthTrace(1, n, 3584, 4608, 18944, 8, 4)
	js, err := json.Marshal(one.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	var st bytes.Buffer
	if err := trace.WriteSafetensorsTo(&st, one); err != nil {
		t.Fatal(err)
	}
	floatsPerLayer := int64(n) * (6*3584 + 4608 + 4*18944)
	layerBin := floatsPerLayer * 4
	jsonTotal := int64(len(js)) * layers
	binTotal := layerBin * layers
	// Logits: 64 x 152064 values, at the bytes per value the layer JSON took.
	perValue := float64(len(js)) / float64(floatsPerLayer)
	logitsJSON := int64(perValue * 64 * 152064)
	jsonTotal += logitsJSON
	binTotal += 64 * 152064 * 4
	t.Logf("7B shape, 64 positions: %.1f JSON bytes per value; layer JSON %d MB, side-car %d MB per layer",
		perValue, len(js)>>20, layerBin>>20)
	t.Logf("whole trace: JSON %.2f GB, safetensors side-car %.2f GB (+ statistics JSON)", float64(jsonTotal)/1e9, float64(binTotal)/1e9)
	if binTotal*2 > jsonTotal {
		t.Errorf("side-car %d bytes is not under half of JSON %d", binTotal, jsonTotal)
	}
}
