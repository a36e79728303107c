package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/falsify/falsify/evidence"
)

// Cases a new user found by trying to break the gate: each must answer at
// once (a named pipe must never be opened for reading: that blocks until a
// writer comes) and never pass.

func TestGateRefusesFIFOInEvidence(t *testing.T) {
	const g1, g2 = "FALSIFY-APR-GGUF-PARITY-001", "FALSIFY-APR-GGUF-PARITY-002"
	for _, where := range []string{"run-zz.json", filepath.Join("apr-vs-gguf-forward-parity-v1", "zz.json")} {
		dir := t.TempDir()
		writeEvidence(t, dir, "r1", gateT0, map[string]evidence.Verdict{g1: evidence.Pass, g2: evidence.Pass})
		if err := syscall.Mkfifo(filepath.Join(dir, where), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		wantGateFails(t, []string{dir}, "not a regular file")
	}
}

func TestGateRefusesFIFOKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	if err := syscall.Mkfifo(key, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, errs, code := falsifyCLI(t, "gate", "--verify-key", key, dir)
	if code != 3 || !strings.Contains(errs, "not a regular file") {
		t.Errorf("gate --verify-key FIFO: exit %d, %q (want 3, not a regular file)", code, errs)
	}
}

// TestAllowSkipNeedsAPass: --allow-skip lets SKIPs through beside PASSes,
// never a directory in which nothing was measured.
func TestAllowSkipNeedsAPass(t *testing.T) {
	const g1, g2 = "FALSIFY-APR-GGUF-PARITY-001", "FALSIFY-APR-GGUF-PARITY-002"
	dir := t.TempDir()
	writeEvidence(t, dir, "r1", gateT0, map[string]evidence.Verdict{g1: evidence.Skip, g2: evidence.Skip})
	_, errs, code := falsifyCLI(t, "gate", "--allow-skip", dir)
	if code != 1 || !strings.Contains(errs, "every gate SKIPped") {
		t.Errorf("gate --allow-skip over only SKIPs: exit %d, %q", code, errs)
	}
}

// TestContractIDsThatCollide: a contract id that is empty or names a file
// the evidence directory holds (summary.md) is refused by validate, before
// anything runs.
func TestContractIDsThatCollide(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "first-failure.yaml"))
	if err != nil {
		t.Skipf("example contract: %v", err)
	}
	for _, name := range []string{"summary.md.yaml", ".yaml"} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		out, errs, code := falsifyCLI(t, "validate", path)
		if code == 0 || !strings.Contains(out+errs, "contract id") {
			t.Errorf("validate %s: exit %d\n%s%s", name, code, out, errs)
		}
	}
}

// TestReportFlagsEvidenceThatDoesNotVerify: report renders what the
// records say, and says when `falsify gate` would refuse them.
func TestReportFlagsEvidenceThatDoesNotVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	if _, errs, code := runCLI(t, "run", "--evidence", dir, "trace-determinism-v1"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errs)
	}
	rec := filepath.Join(dir, "trace-determinism-v1", "FALSIFY-TRACE-DETERMINISM-001.json")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, _ := runCLI(t, "report", dir)
	if !strings.Contains(out, "DOES NOT VERIFY") || !strings.Contains(errs, "edited or replaced") {
		t.Errorf("report over an edited record says nothing:\n%s\n%s", out, errs)
	}
}

// TestTraceOutputFlagsCheckedFirst: mistakes in where a trace goes are
// usage errors before any model runs, not failures after the forward.
func TestTraceOutputFlagsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", out, "--sidecar", "t.json"}, "same file as --out"},
		{[]string{"--out", out, "--sidecar", "../x"}, "not a path"},
		{[]string{"--out", dir}, "is a directory"},
		{[]string{"--runtime", "llamacpp", "--kv-type", "bogus"}, "want f32, f16 or q8_0"},
	} {
		args := append([]string{"trace", "builtin:qwen2-tiny-q4_k_m.gguf", "--tokens", "1,2"}, tc.args...)
		_, errs, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(errs, tc.want) || strings.Contains(errs, "tracing ") {
			t.Errorf("%q: exit %d, %q (want 2, %q, before tracing)", tc.args, code, errs, tc.want)
		}
	}
}
