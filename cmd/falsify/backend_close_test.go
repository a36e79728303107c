package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/falsify/falsify/engine/backend"
)

// closeFailBackend is the CPU backend with a Close that fails, as the
// Vulkan backend's does when the validation layer reported messages
// (FALSIFY_VULKAN_VALIDATE=1) or an object leaked.
type closeFailBackend struct{ backend.Backend }

const closeFailName = "test-closefail"

var errCloseFail = errors.New("vulkan: 1 validation messages, first: error: test message")

func (b closeFailBackend) Name() string { return closeFailName }
func (b closeFailBackend) Close() error { return errors.Join(b.Backend.Close(), errCloseFail) }

var registerCloseFail = sync.OnceFunc(func() {
	backend.Register(closeFailName, func(cfg backend.Config) (backend.Backend, error) {
		be, err := backend.Open("cpu", cfg)
		if err != nil {
			return nil, err
		}
		return closeFailBackend{be}, nil
	})
})

// A backend's Close error (the Vulkan validation layer's messages) fails
// trace and diff with exit 3 and the message, and no result is printed:
// it is not dropped by a deferred Close.
func TestBackendCloseErrorFailsTheCommand(t *testing.T) {
	registerCloseFail()
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	for _, args := range [][]string{
		{"trace", "--json", "--backend", closeFailName, "-t", "2", "--tokens", "1,2", m},
		{"diff", "--json", "--backend-a", closeFailName, "--backend-b", "cpu", "-t", "2", "--tokens", "1,2", m, m},
	} {
		out, errs, code := runCLI(t, args...)
		if code != 3 || !strings.Contains(errs, "validation messages") || !strings.Contains(errs, m) {
			t.Errorf("%v: exit %d, want 3 with the Close error and the model\n%s", args, code, errs)
		}
		if strings.TrimSpace(out) != "" {
			t.Errorf("%v: printed a result despite the Close error:\n%.300s", args, out)
		}
	}
}

// closeFailContract has one gate on the backend whose Close fails.
const closeFailContract = `metadata:
  version: 1.0.0
  description: a gate on a backend that reports a problem at Close
  references: [falsify docs/gates.md]
equations:
  same:
    formula: trace == trace
proof_obligations:
- {id: C-1, type: equivalence, property: same}
verification_summary: {total_obligations: 1}
subjects:
  cpu: {model: "builtin:qwen2-tiny-q4_k_m.gguf", threads: 2}
  gpu: {model: "builtin:qwen2-tiny-q4_k_m.gguf", backend: ` + closeFailName + `, threads: 2}
input:
  prompt: "What is 2+2?"
falsification_tests:
- id: FALSIFY-C-001
  rule: the backend gives the CPU's bits
  prediction: bit-identical
  if_fails: broken
  gate: {kind: bit_exact, a: gpu, b: cpu}
`

// run: a backend's Close error (validation messages) makes the run exit 3
// naming it, and leaves the run report incomplete, so that falsify gate
// refuses the evidence although the gate itself PASSed.
func TestRunBackendCloseErrorFailsTheRun(t *testing.T) {
	registerCloseFail()
	dir := t.TempDir()
	contract := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(contract, []byte(closeFailContract), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(dir, "ev")
	_, errs, code := runCLI(t, "run", "--evidence", ev, contract)
	if code != 3 || !strings.Contains(errs, "validation messages") || !strings.Contains(errs, "FALSIFY-C-001 ") || !strings.Contains(errs, "PASS") {
		t.Fatalf("run: exit %d, want 3 after the gate PASSed, naming the Close error\n%s", code, errs)
	}
	if _, errs, code := runCLI(t, "gate", ev); code != 1 {
		t.Errorf("gate on that evidence: exit %d, want 1\n%s", code, errs)
	}
}
