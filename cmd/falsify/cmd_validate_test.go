package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// falsifyCLI runs the CLI in-process and returns its output and exit code.
func falsifyCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

// wantMarker finds the line a contracts/testdata file marks with
// "# want: RULE".
func wantMarker(t *testing.T, path string) (line int, rule string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`#\s*want:\s*([a-z-]+)`)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			return n, m[1]
		}
	}
	t.Fatalf("%s has no want marker", path)
	return 0, ""
}

func TestValidateBuiltin(t *testing.T) {
	out, errs, code := falsifyCLI(t, "validate")
	if code != 0 || out != "" {
		t.Fatalf("validate (builtin): exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "6 contract(s), 0 error(s)") {
		t.Errorf("stderr %q", errs)
	}
	// The contracts directory itself validates the same way.
	if out, errs, code := falsifyCLI(t, "validate", "../../contracts"); code != 0 {
		t.Errorf("validate ../../contracts: exit %d\n%s%s", code, out, errs)
	}
}

// TestValidateCatches runs the acceptance list of issue 6: each file must
// give its rule at its marked line, as "file:line: rule: message", and
// exit 1.
func TestValidateCatches(t *testing.T) {
	for _, name := range []string{
		"duplicate-id", "unknown-gate-kind", "inverted-band", "unknown-slot", "unknown-subject",
		"dangling-requires", "requires-cycle", "near-miss-falsification_test",
		"near-miss-proofObligations", "near-miss-meta_data", "duplicate-key", "yaml-syntax",
	} {
		path := filepath.Join("..", "..", "contracts", "testdata", name+".yaml")
		line, rule := wantMarker(t, path)
		out, errs, code := falsifyCLI(t, "validate", path)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", name, code, errs)
		}
		prefix := fmt.Sprintf("%s:%d: %s: ", path, line, rule)
		if !strings.Contains(out, prefix) {
			t.Errorf("%s: output lacks %q:\n%s", name, prefix, out)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	path := filepath.Join("..", "..", "contracts", "testdata", "inverted-band.yaml")
	good := filepath.Join("..", "..", "contracts", "testdata", "valid.yaml")
	out, _, code := falsifyCLI(t, "validate", "--json", path, good)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Contracts) != 2 || rep.Errors != 1 || rep.Contracts[0].Valid || !rep.Contracts[1].Valid {
		t.Fatalf("report %+v", rep)
	}
	f := rep.Contracts[0].Findings[0]
	if line, _ := wantMarker(t, path); f.Rule != "inverted-band" || f.Line != line || f.File != path {
		t.Errorf("finding %+v", f)
	}
	if len(rep.Contracts[1].SHA256) != 64 {
		t.Errorf("sha256 %q", rep.Contracts[1].SHA256)
	}
}

func TestValidateStrictAndErrors(t *testing.T) {
	warn := filepath.Join("..", "..", "contracts", "testdata", "metric-direction.yaml")
	if _, _, code := falsifyCLI(t, "validate", warn); code != 0 {
		t.Errorf("warning only: exit %d, want 0", code)
	}
	if _, _, code := falsifyCLI(t, "validate", "--strict", warn); code != 1 {
		t.Errorf("--strict with a warning: exit %d, want 1", code)
	}
	if _, errs, code := falsifyCLI(t, "validate", "no/such/contract.yaml"); code != 3 || !strings.Contains(errs, "no/such/contract.yaml") {
		t.Errorf("missing file: exit %d, stderr %q", code, errs)
	}
	if _, errs, code := falsifyCLI(t, "validate", t.TempDir()); code != 3 || !strings.Contains(errs, "no *.yaml") {
		t.Errorf("empty dir: exit %d, stderr %q", code, errs)
	}
	if _, _, code := falsifyCLI(t, "validate", "--bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if out, _, code := falsifyCLI(t, "validate", "builtin:trace-determinism-v1"); code != 0 || out != "" {
		t.Errorf("builtin:NAME: exit %d %s", code, out)
	}
}

// TestValidateWarnsUnregisteredBackend: a subject backend this build does
// not register ("vulkn") is a warning at the subject's line with a "did you
// mean", exit 0; --strict makes it an error.
func TestValidateWarnsUnregisteredBackend(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "contracts", "cpu-vs-gpu-forward-parity-v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	line := 0
	for i, l := range lines {
		if strings.Contains(l, "backend: vulkan") {
			lines[i], line = strings.Replace(l, "backend: vulkan", "backend: vulkn", 1), i+1
			break
		}
	}
	if line == 0 {
		t.Fatal("no vulkan subject in the contract")
	}
	path := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := falsifyCLI(t, "validate", path)
	want := fmt.Sprintf("%s:%d: unknown-backend: ", path, line)
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, `did you mean "vulkan"?`) || !strings.Contains(out, "(warning)") {
		t.Fatalf("validate: exit %d, want 0 and a warning %q with a did-you-mean:\n%s%s", code, want, out, errs)
	}
	if _, errs, code := falsifyCLI(t, "validate", "--strict", path); code != 1 {
		t.Errorf("validate --strict: exit %d, want 1\n%s", code, errs)
	}
}

// TestAllowUnavailableWarnsUnregistered: --allow-unavailable names a
// backend this build does not register: a warning with a did-you-mean,
// the command goes on.
func TestAllowUnavailableWarnsUnregistered(t *testing.T) {
	_, errs, _ := falsifyCLI(t, "gate", "--allow-unavailable", "vulkn", t.TempDir())
	if !strings.Contains(errs, `--allow-unavailable: "vulkn" is not a backend this build registers`) || !strings.Contains(errs, `did you mean "vulkan"?`) {
		t.Errorf("gate --allow-unavailable vulkn: stderr lacks the warning:\n%s", errs)
	}
	_, errs, _ = falsifyCLI(t, "gate", "--allow-unavailable", "vulkan", t.TempDir())
	if strings.Contains(errs, "is not a backend this build registers") {
		t.Errorf("gate --allow-unavailable vulkan warned:\n%s", errs)
	}
}
