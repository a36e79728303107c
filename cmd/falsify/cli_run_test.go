package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/contracts"
)

// copyBuiltinContract writes a builtin contract into dir.
func copyBuiltinContract(t *testing.T, dir, name string) {
	t.Helper()
	b, err := contracts.BuiltinFS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunDirectoryFilterJUnit: run takes a directory of contracts, -k
// selects gates by name, --junit writes one testcase per gate run, and the
// table names the models with a SHA-256 prefix.
func TestRunDirectoryFilterJUnit(t *testing.T) {
	dir := t.TempDir()
	copyBuiltinContract(t, dir, "trace-determinism-v1.yaml")
	ev := filepath.Join(t.TempDir(), "ev")
	junit := filepath.Join(t.TempDir(), "out.xml")
	out, errs, code := runCLI(t, "run", "-t", "2", "--evidence", ev, "--junit", junit, "-k", "determinism-003", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "FALSIFY-TRACE-DETERMINISM-003") || strings.Contains(out, "FALSIFY-TRACE-DETERMINISM-001") {
		t.Errorf("-k did not select gate 003 alone:\n%s", out)
	}
	if !strings.Contains(out, "| models |") || !strings.Contains(out, "builtin:qwen2-tiny-q4_k_m.gguf a7cad5f6") {
		t.Errorf("table lacks the models column with a sha256 prefix:\n%s", out)
	}
	if !strings.Contains(errs, "[1/1]") {
		t.Errorf("no progress line on stderr:\n%s", errs)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var js junitSuites
	if err := xml.Unmarshal(b, &js); err != nil {
		t.Fatalf("JUnit XML: %v\n%s", err, b)
	}
	if js.Tests != 1 || len(js.Suites) != 1 || js.Suites[0].Name != "trace-determinism-v1" || js.Failures != 0 {
		t.Errorf("JUnit: %+v", js)
	}
	if _, errs, code := runCLI(t, "run", "--evidence", ev, "-k", "no-such-gate", dir); code != 2 || !strings.Contains(errs, "no gate") {
		t.Errorf("-k matching nothing: exit %d, %q", code, errs)
	}
}

// TestRunJUnitFailure: a FAIL verdict is a <failure> and exit 1; an
// invalid contract is exit 3 (a broken setup, not a verdict).
func TestRunJUnitFailure(t *testing.T) {
	dir := t.TempDir()
	b, _ := contracts.BuiltinFS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile("trace-determinism-v1.yaml")
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("id: [\n"), 0o644)
	if _, errs, code := runCLI(t, "run", "--evidence", t.TempDir(), dir); code != 3 || !strings.Contains(errs, "broken.yaml") {
		t.Errorf("invalid contract: exit %d, %q", code, errs)
	}
}

// TestModelWarnings: a subject left on its builtin while another was set
// is named with the variable to set; a misspelt FALSIFY_ variable is
// reported with the name it is close to.
func TestModelWarnings(t *testing.T) {
	c, err := contracts.LoadBuiltin("apr-vs-gguf-forward-parity-v1")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FALSIFY_GGUF_MODEL": "q8_0.gguf", "FALSIFY_F32_MODLE": "f32.gguf"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	ws := modelWarnings([]*contracts.Contract{c}, nil, lookup, []string{"FALSIFY_GGUF_MODEL=q8_0.gguf", "FALSIFY_F32_MODLE=f32.gguf", "HOME=/root"})
	all := strings.Join(ws, "\n")
	if !strings.Contains(all, "still run on the builtin model") || !strings.Contains(all, "FALSIFY_F32_MODEL") {
		t.Errorf("no builtin fallback warning:\n%s", all)
	}
	if !strings.Contains(all, "FALSIFY_F32_MODLE is set but nothing") || !strings.Contains(all, "did you mean FALSIFY_F32_MODEL?") {
		t.Errorf("no misspelling warning:\n%s", all)
	}
	// Nothing set: the builtins are what the user asked for, no warning.
	none := func(string) (string, bool) { return "", false }
	if ws := modelWarnings([]*contracts.Contract{c}, nil, none, nil); len(ws) != 0 {
		t.Errorf("warnings with nothing set: %q", ws)
	}
}

// TestRunProgressNamesEveryForwardPass: a deterministic gate's re-runs
// each print what runs and how long it took, not one line for five
// forward passes.
func TestRunProgressNamesEveryForwardPass(t *testing.T) {
	_, errs, code := runCLI(t, "run", "-t", "2", "--evidence", t.TempDir(), "-k", "DETERMINISM-001", "trace-determinism-v1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"run: [1/1] trace-determinism-v1 FALSIFY-TRACE-DETERMINISM-001", "forward pass 1/5 of quantized", "forward pass 5/5 done in", "ran builtin:qwen2-tiny-q4_k_m.gguf in"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// TestRunSHA256Pin: a subject pinned by sha256 runs when the file matches
// and is an ERROR naming both digests when it does not; a malformed pin
// is an invalid contract (exit 3).
func TestRunSHA256Pin(t *testing.T) {
	b, err := contracts.BuiltinFS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile("trace-determinism-v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const real = "a7cad5f606b94121ac1f6b11184a4c99c89df529b68e589abf6932ac560a37cd" // builtin:qwen2-tiny-q4_k_m.gguf
	pin := func(sum string) string {
		p := filepath.Join(t.TempDir(), "pinned.yaml")
		s := strings.Replace(string(b), "backend: cpu, matmul: quantized}", "backend: cpu, matmul: quantized, sha256: "+sum+"}", 1)
		if s == string(b) {
			t.Fatal("could not add the pin")
		}
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	if _, errs, code := runCLI(t, "run", "-t", "2", "--evidence", t.TempDir(), "-k", "DETERMINISM-003", pin(real)); code != 0 {
		t.Errorf("matching pin: exit %d: %s", code, errs)
	}
	wrong := strings.Repeat("0", 64)
	out, errs, code := runCLI(t, "run", "-t", "2", "--evidence", t.TempDir(), "-k", "DETERMINISM-003", pin(wrong))
	if code != 1 || !strings.Contains(out, "ERROR") || !strings.Contains(out, wrong) || !strings.Contains(out, real) {
		t.Errorf("wrong pin: exit %d\n%s\n%s", code, out, errs)
	}
	if _, errs, code := runCLI(t, "run", "--evidence", t.TempDir(), pin("abc")); code != 3 || !strings.Contains(errs, "sha256") {
		t.Errorf("malformed pin: exit %d, %q", code, errs)
	}
}
