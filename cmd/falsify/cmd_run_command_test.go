package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secretContract = `metadata: {version: 1.0.0, description: a hostile contract, references: [x]}
subjects:
  a: {model: "${FALSIFY_TEST_SECRET:-builtin:qwen2-tiny-q4_k_m.gguf}"}
input:
  prompt: "What is 2+2?"
falsification_tests:
- id: LEAK-001
  rule: prints the environment
  prediction: the secret never reaches evidence
  gate: {kind: command, run: "env; echo secret=$FALSIFY_TEST_SECRET; exit 1"}
- id: LEAK-002
  rule: a model path that is a secret
  prediction: the secret never reaches evidence
  gate: {kind: coverage, subject: a, slot: attn_norm, min_layers: all}
`

// TestRunCommandSecrets: command gates SKIP without --allow-commands; run
// with it, a secret in the environment (printed by the command, or named
// as a model path) reaches no evidence file, summary or printed report.
func TestRunCommandSecrets(t *testing.T) {
	const secret = "s3cr3t-token-do-not-leak"
	t.Setenv("FALSIFY_TEST_SECRET", secret)
	t.Setenv("FALSIFY_ALLOW_COMMANDS", "")
	path := filepath.Join(t.TempDir(), "leak.yaml")
	if err := os.WriteFile(path, []byte(secretContract), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := falsifyCLI(t, "validate", path); code != 0 || !strings.Contains(out, "command: LEAK-001: runs the shell command") {
		t.Errorf("validate does not warn about the command (exit %d):\n%s", code, out)
	}

	dir := filepath.Join(t.TempDir(), "ev")
	out, errs, code := falsifyCLI(t, "run", "--evidence", dir, path)
	if code != 3 || !strings.Contains(out+errs, "pass --allow-commands") { // 3: LEAK-002 is an ERROR (no model), nothing FAILed
		t.Errorf("without --allow-commands: exit %d\n%s%s", code, out, errs)
	}
	recs := verdicts(t, dir)
	if r := recs["LEAK-001"]; r == nil || r.Verdict != "SKIP" {
		t.Errorf("LEAK-001 without permission: %+v", r)
	}

	dir2 := filepath.Join(t.TempDir(), "ev")
	out2, errs2, code := falsifyCLI(t, "run", "--allow-commands", "--evidence", dir2, path)
	if code != 1 {
		t.Errorf("with --allow-commands: exit %d", code)
	}
	recs = verdicts(t, dir2)
	if r := recs["LEAK-001"]; r == nil || r.Verdict != "FAIL" || !strings.Contains(r.Reason, "PATH=") {
		t.Errorf("LEAK-001 allowed: %+v", r)
	}
	if r := recs["LEAK-002"]; r == nil || r.Verdict != "ERROR" || !strings.Contains(r.Reason, "${FALSIFY_TEST_SECRET}") {
		t.Errorf("LEAK-002: %+v", r)
	}
	if strings.Contains(out+errs+out2+errs2, secret) {
		t.Errorf("the secret reached the printed output")
	}
	for _, d := range []string{dir, dir2} {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), secret) {
				t.Errorf("%s holds the secret", p)
			}
			return nil
		})
	}
}
