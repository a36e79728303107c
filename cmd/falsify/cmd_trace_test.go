package main

import (
	"encoding/json"
	"strings"
	"testing"

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
