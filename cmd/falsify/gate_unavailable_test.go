package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/evidence"
)

// unavailableContract has one gate that runs on the CPU (PASS) and one
// whose subject names a backend this build lacks (SKIP, unavailable).
const unavailableContract = `metadata:
  version: 1.0.0
  description: a gate on a backend that is not here
  references: [falsify docs/gates.md]
equations:
  same:
    formula: trace == trace
proof_obligations:
- {id: U-1, type: equivalence, property: same}
verification_summary: {total_obligations: 1}
subjects:
  cpu: {model: "builtin:qwen2-tiny-q4_k_m.gguf", threads: 2}
  cpu1: {model: "builtin:qwen2-tiny-q4_k_m.gguf", threads: 1}
  gpu: {model: "builtin:qwen2-tiny-q4_k_m.gguf", backend: nosuchgpu}
input:
  prompt: "What is 2+2?"
falsification_tests:
- id: FALSIFY-U-001
  rule: the CPU gives the same bits on 1 and 2 threads
  prediction: bit-identical
  if_fails: broken
  gate: {kind: bit_exact, a: cpu1, b: cpu}
- id: FALSIFY-U-002
  rule: the missing backend agrees with the CPU
  prediction: bit-identical
  if_fails: broken
  gate: {kind: bit_exact, a: gpu, b: cpu}
`

// A SKIP because a subject's backend is missing here records that
// backend; gate and run count such SKIPs as passing only with
// --allow-unavailable naming it, and still need a PASS.
func TestAllowUnavailableBackend(t *testing.T) {
	dir := t.TempDir()
	contract := filepath.Join(dir, "u.yaml")
	if err := os.WriteFile(contract, []byte(unavailableContract), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(dir, "ev")
	_, errs, code := runCLI(t, "run", "--evidence", ev, contract)
	if code != 1 {
		t.Fatalf("run without --allow-unavailable: exit %d, want 1\n%s", code, errs)
	}
	var rec evidence.GateRecord
	readJSON(t, filepath.Join(ev, "u", "FALSIFY-U-002.json"), &rec)
	if rec.Verdict != evidence.Skip || rec.UnavailableBackend != "nosuchgpu" || !strings.Contains(rec.Reason, "backend nosuchgpu not registered/available") {
		t.Fatalf("FALSIFY-U-002: verdict %s, unavailable_backend %q, reason %q; want SKIP, nosuchgpu and the registry's reason", rec.Verdict, rec.UnavailableBackend, rec.Reason)
	}
	if _, errs, code := runCLI(t, "run", "--allow-unavailable", "nosuchgpu", "--evidence", filepath.Join(dir, "ev2"), contract); code != 0 {
		t.Fatalf("run --allow-unavailable nosuchgpu: exit %d, want 0\n%s", code, errs)
	}
	for _, tt := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"gate", ev}, 1, "--allow-unavailable nosuchgpu"},
		{[]string{"gate", "--allow-unavailable", "nosuchgpu", ev}, 0, "gate: pass"},
		{[]string{"gate", "--allow-unavailable", "vulkan,nosuchgpu", ev}, 0, "gate: pass"},
		{[]string{"gate", "--allow-unavailable", "vulkan", ev}, 1, "did not pass"},
		{[]string{"gate", "--allow-unavailable", "Vulkan!", ev}, 2, `--allow-unavailable "Vulkan!"`},
		{[]string{"run", "--allow-unavailable", ",", contract}, 2, "--allow-unavailable"},
	} {
		_, errs, code := runCLI(t, tt.args...)
		if code != tt.want || !strings.Contains(errs, tt.msg) {
			t.Errorf("%v: exit %d, want %d with %q in stderr:\n%s", tt.args, code, tt.want, tt.msg, errs)
		}
	}
	// Only SKIPs of the missing backend and nothing else: still no pass.
	only := filepath.Join(dir, "only.yaml")
	text := strings.Replace(unavailableContract, "  gate: {kind: bit_exact, a: cpu1, b: cpu}", "  gate: {kind: coverage, subject: gpu, slot: qkv, min_layers: all}", 1)
	if err := os.WriteFile(only, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := runCLI(t, "run", "--allow-unavailable", "nosuchgpu", "--evidence", filepath.Join(dir, "ev3"), only); code != 1 {
		t.Errorf("run of SKIPs only with --allow-unavailable: exit %d, want 1\n%s", code, errs)
	}
}
