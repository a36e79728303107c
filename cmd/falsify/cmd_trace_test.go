package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

func TestTraceTableAndJSON(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	out, errs, code := runCLI(t, "trace", model, "--tokens", "3838,374,220", "--sample", "all_tokens", "-t", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"ffn_swiglu_inner", "final_norm", "logits", "all_tokens"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// 3 tokens x 512 = 1536 elements in the all_tokens sample of qkv.
	if !strings.Contains(out, "1536") {
		t.Errorf("table does not show the all_tokens count 1536:\n%s", out)
	}
	out, errs, code = runCLI(t, "trace", model, "--tokens", "3838,374", "--json", "--positions", "all", "--matmul", "f32")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tr trace.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Layers) != 4 || len(tr.Layers[0].Slot(trace.SlotQKV).Positions) != 2 || tr.Provenance.Matmul != "f32" {
		t.Errorf("trace JSON: %d layers, %d positions, matmul %q", len(tr.Layers), len(tr.Layers[0].Slot(trace.SlotQKV).Positions), tr.Provenance.Matmul)
	}
}

func TestTracePromptUsesTokenizer(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	out, errs, code := runCLI(t, "trace", model, "-p", "What is 2+2?", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tr trace.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	want := []int32{3838, 374, 220, 17, 10, 17, 30}
	if len(tr.Tokens) != len(want) {
		t.Fatalf("tokens %v, want %v", tr.Tokens, want)
	}
	for i := range want {
		if tr.Tokens[i] != want[i] {
			t.Fatalf("tokens %v, want %v", tr.Tokens, want)
		}
	}
}

func TestTraceUsageErrors(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	for _, args := range [][]string{
		{"trace", model},
		{"trace", model, "--tokens", "1", "--matmul", "int4"},
		{"trace", model, "--tokens", "1", "--sample", "some"},
		{"trace", model, "--tokens", "x"},
	} {
		if _, _, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, errs, code := runCLI(t, "trace", model, "--tokens", "1,99999"); code != 3 || !strings.Contains(errs, "99999") {
		t.Errorf("bad token: exit %d, %s", code, errs)
	}
}

// TestTracePrefillDecode: --prefill 1 traces the prompt one token at a
// time through the KV cache and gives the same trace JSON as one batch
// (provenance timing aside); a prefill beyond the prompt is a usage error.
func TestTracePrefillDecode(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q8_0.gguf")
	numbers := func(args ...string) string {
		t.Helper()
		out, errs, code := runCLI(t, append([]string{"trace", model, "--tokens", "3838,374,220,17", "--json", "--positions", "all", "-t", "2"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var tr trace.Trace
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatal(err)
		}
		tr.Provenance = trace.Provenance{}
		b, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if numbers() != numbers("--prefill", "1") {
		t.Error("--prefill 1 trace differs from the one-batch trace")
	}
	if _, errs, code := runCLI(t, "trace", model, "--tokens", "1,2", "--prefill", "3"); code != 2 || !strings.Contains(errs, "--prefill 3") {
		t.Errorf("prefill beyond the prompt: exit %d, %s", code, errs)
	}
}

// TestTraceLogitsFlag: the trace computes the last position's logits by
// default and says so; --positions all implies every position's logits,
// --logits overrides either way; a comparison of every position over a
// trace with the last position's logits is refused by name.
func TestTraceLogitsFlag(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	get := func(args ...string) *trace.Trace {
		t.Helper()
		out, errs, code := runCLI(t, append([]string{"trace", model, "--tokens", "3838,374,220", "--json", "-t", "2"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		var tr trace.Trace
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatal(err)
		}
		return &tr
	}
	for _, c := range []struct {
		args                       []string
		logits                     trace.Positions
		allTokens, logitsPositions int
		layerPositions             int
	}{
		{nil, trace.PositionsLast, 0, 0, 0},
		{[]string{"--positions", "all"}, trace.PositionsAll, 3 * 4099, 3, 3},
		{[]string{"--positions", "all", "--logits", "last"}, trace.PositionsLast, 0, 0, 3},
		{[]string{"--logits", "all"}, trace.PositionsAll, 3 * 4099, 0, 0},
	} {
		tr := get(c.args...)
		lg := &tr.Logits
		if tr.LogitsPositions != c.logits || lg.AllTokens.Count != c.allTokens || len(lg.Positions) != c.logitsPositions ||
			len(tr.Layers[0].Slot(trace.SlotQKV).Positions) != c.layerPositions || len(lg.Last) != 4099 {
			t.Errorf("%v: logits_positions %q, all_tokens count %d, %d logits positions, %d qkv positions, last %d",
				c.args, tr.LogitsPositions, lg.AllTokens.Count, len(lg.Positions), len(tr.Layers[0].Slot(trace.SlotQKV).Positions), len(lg.Last))
		}
	}
	if _, _, code := runCLI(t, "trace", model, "--tokens", "1", "--logits", "some"); code != 2 {
		t.Errorf("--logits some: exit %d, want 2", code)
	}

	dir := t.TempDir()
	last, all := filepath.Join(dir, "last.json"), filepath.Join(dir, "all.json")
	for p, logits := range map[string]string{last: "last", all: "all"} {
		if _, errs, code := runCLI(t, "trace", model, "--tokens", "3838,374,220", "-t", "2", "--positions", "all", "--logits", logits, "--out", p); code != 0 {
			t.Fatalf("--out %s: exit %d: %s", p, code, errs)
		}
	}
	for _, args := range [][]string{{last, all}, {all, last}} {
		_, errs, code := runCLI(t, "diff", "--positions", "all", args[0], args[1])
		side := map[string]string{last: "a", all: "b"}
		if args[0] == all {
			side[last] = "b"
		}
		if code != 3 || !strings.Contains(errs, "logits of "+side[last]+": traced with last-position logits") {
			t.Errorf("diff --positions all %v: exit %d: %s", args, code, errs)
		}
	}
	// auto compares the last position when a side lacks the logits of every position.
	out, errs, code := runCLI(t, "diff", last, all)
	if code != 0 || !strings.Contains(out, "positions last") {
		t.Errorf("diff (auto) of a last-logits trace: exit %d: %s\n%s", code, errs, out)
	}
}

// TestTraceTime: --time runs the forward untraced and traced and prints
// both times and their ratio; --json has every run, the best of each and
// their ratio, consistent with each other; --out still writes the trace.
func TestTraceTime(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	out, errs, code := runCLI(t, "trace", model, "--tokens", "3838,374,220", "-t", "2", "--time")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"untraced", "traced", "ratio", "x traced / untraced", "identical bits", "3 tokens"} {
		if !strings.Contains(out, want) {
			t.Errorf("--time output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ffn_swiglu_inner") {
		t.Errorf("--time printed the table too:\n%s", out)
	}
	p := filepath.Join(t.TempDir(), "t.json")
	out, errs, code = runCLI(t, "trace", model, "--tokens", "3838,374,220", "-t", "2", "--time", "--time-runs", "3", "--json", "--prefill", "1", "--logits", "all", "--out", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tm struct {
		Tokens, Prefill, Threads int
		Positions, Logits        string
		WarmupMS                 float64   `json:"warmup_ms"`
		UntracedMS               []float64 `json:"untraced_ms"`
		TracedMS                 []float64 `json:"traced_ms"`
		BestUntraced             float64   `json:"best_untraced_ms"`
		BestTraced               float64   `json:"best_traced_ms"`
		Ratio                    float64
		LogitsIdentical          bool `json:"logits_identical"`
	}
	if err := json.Unmarshal([]byte(out), &tm); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if tm.Tokens != 3 || tm.Prefill != 1 || tm.Threads != 2 || tm.Positions != "last" || tm.Logits != "all" || !tm.LogitsIdentical {
		t.Errorf("--time --json: %+v", tm)
	}
	if len(tm.UntracedMS) != 3 || len(tm.TracedMS) != 3 || tm.WarmupMS <= 0 ||
		tm.BestUntraced != slices.Min(tm.UntracedMS) || tm.BestTraced != slices.Min(tm.TracedMS) || tm.BestUntraced <= 0 {
		t.Errorf("--time --json runs: %+v", tm)
	}
	if want := tm.BestTraced / tm.BestUntraced; math.Abs(tm.Ratio-want) > 1e-3*want+1e-3 {
		t.Errorf("ratio %g, best traced / best untraced %g", tm.Ratio, want)
	}
	if tr, err := trace.ReadFile(p); err != nil || !tr.HasAllLogits() || len(tr.Tokens) != 3 {
		t.Errorf("--time --out: %v", err)
	}
	for _, args := range [][]string{
		{"--time-runs", "2"},
		{"--time", "--time-runs", "0"},
		{"--time", "--runtime", "llamacpp"},
	} {
		if _, _, code := runCLI(t, append([]string{"trace", model, "--tokens", "1"}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestTraceTimeInterrupted: an interrupted --time says so, with how many
// rounds finished, instead of a bare "context canceled".
func TestTraceTimeInterrupted(t *testing.T) {
	m, err := engine.Load(fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = timeTrace(ctx, m, []int32{3838, 374}, engine.Options{Threads: 1}, traceOptions{timeRuns: 3}, io.Discard)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted after 0 of 3 rounds") {
		t.Errorf("cancelled --time: %v", err)
	}
}
