package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/llamalib"
	"github.com/falsify/falsify/trace"
)

// TestTraceFileRoundTrips: `trace --json` output, `trace --out` (inline)
// and `trace --out --sidecar` read back through the one trace-file reader
// to the same trace, and `diff` of the two files finds no difference.
func TestTraceFileRoundTrips(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	dir := t.TempDir()
	args := []string{"trace", model, "--tokens", "3838,374,220", "--positions", "all", "-t", "2"}
	out, errs, code := runCLI(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	stdout := filepath.Join(dir, "stdout.json")
	os.WriteFile(stdout, []byte(out), 0o644)
	inline, side := filepath.Join(dir, "inline.json"), filepath.Join(dir, "side.json")
	if _, errs, code := runCLI(t, append(args, "--out", inline)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, errs, code := runCLI(t, append(args, "--out", side, "--sidecar", "side.safetensors")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var traces []*trace.Trace
	for _, p := range []string{stdout, inline, side} {
		tr, err := trace.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		tr.Vectors = nil
		tr.Provenance.Seconds, tr.Provenance.StartedAt = 0, ""
		traces = append(traces, tr)
	}
	a, _ := json.Marshal(traces[0])
	for i, tr := range traces[1:] {
		if b, _ := json.Marshal(tr); !bytes.Equal(a, b) {
			t.Errorf("file %d differs from the --json output after reading back", i+1)
		}
	}
	out, errs, code = runCLI(t, "diff", inline, side, "--json")
	if code != 0 || !strings.Contains(out, `"first_divergence": null`) {
		t.Errorf("diff inline side-car: exit %d: %s %.300s", code, errs, out)
	}
	if _, errs, code := runCLI(t, "trace", model, "--tokens", "1", "--sidecar", "x.safetensors"); code != 2 || !strings.Contains(errs, "--out") {
		t.Errorf("--sidecar without --out: exit %d: %s", code, errs)
	}
}

// TestTraceRuntimeLlamaCpp: `trace --runtime llamacpp` writes a trace file
// with llama.cpp's provenance that the reader accepts, and refuses engine-
// only flags.
func TestTraceRuntimeLlamaCpp(t *testing.T) {
	if _, err := llamalib.Version(); err != nil {
		t.Skipf("llama.cpp: %v", err)
	}
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	p := filepath.Join(t.TempDir(), "ll.json")
	_, errs, code := runCLI(t, "trace", model, "-p", "What is 2+2?", "--runtime", "llamacpp", "--kv-type", "f32", "-t", "2", "--positions", "all", "--out", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	tr, err := trace.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pv := tr.Provenance
	if !strings.HasPrefix(pv.Backend, "llama.cpp") || pv.Options["kv_type"] != "f32" || len(pv.Libraries) < 3 || pv.Arch != "qwen2" || !tr.HasAllPositions() {
		t.Errorf("provenance %+v", pv)
	}
	if _, errs, code := runCLI(t, "trace", model, "--tokens", "1", "--kv-type", "f32"); code != 2 || !strings.Contains(errs, "--runtime llamacpp") {
		t.Errorf("--kv-type without llamacpp: exit %d: %s", code, errs)
	}
}
