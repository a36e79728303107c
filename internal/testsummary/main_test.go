package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestSummarizeListsSkipsWithReasons(t *testing.T) {
	in := `{"Action":"run","Package":"p/a","Test":"TestOracle"}
{"Action":"output","Package":"p/a","Test":"TestOracle","Output":"=== RUN   TestOracle\n"}
{"Action":"output","Package":"p/a","Test":"TestOracle","Output":"    oracle_test.go:12: node-llama-cpp not installed (make oracles)\n"}
{"Action":"output","Package":"p/a","Test":"TestOracle","Output":"--- SKIP: TestOracle (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestOracle"}
{"Action":"pass","Package":"p/a","Test":"TestOK"}
{"Action":"pass","Package":"p/a","Elapsed":0.5}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:3: want 1, got 2\n"}
{"Action":"fail","Package":"p/b","Test":"TestBad"}
{"Action":"fail","Package":"p/b","Elapsed":0.1}
`
	var out bytes.Buffer
	failed, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("a failed test did not make the summary fail")
	}
	for _, want := range []string{"ok   p/a", "--- FAIL: TestBad (p/b)", "want 1, got 2", "FAIL p/b",
		"1 skipped tests", "SKIP p/a TestOracle: node-llama-cpp not installed (make oracles)",
		"packages: 1 failed", "tests: 1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	var clean bytes.Buffer
	in = `{"Action":"pass","Package":"p/a","Test":"TestOK"}` + "\n" + `{"Action":"pass","Package":"p/a","Elapsed":1}` + "\n"
	if failed, err := summarize(strings.NewReader(in), &clean); failed || err != nil {
		t.Errorf("a passing run failed (%v):\n%s", err, clean.String())
	}
}

// TestSummarizeFailsWithoutTests: input with no test's result (nothing,
// only toolchain text, or packages that ran no test) fails, saying that
// nothing was tested, whatever the package lines say.
func TestSummarizeFailsWithoutTests(t *testing.T) {
	for name, in := range map[string]string{
		"empty":             "",
		"not json":          "go: cannot find main module\n",
		"no test ran":       `{"Action":"output","Package":"p/a","Output":"testing: warning: no tests to run\n"}` + "\n" + `{"Action":"pass","Package":"p/a","Elapsed":0.1}` + "\n",
		"no test files":     `{"Action":"skip","Package":"p/a","Elapsed":0}` + "\n",
		"only a build fail": `{"ImportPath":"p/a","Action":"build-fail"}` + "\n",
	} {
		var out bytes.Buffer
		failed, err := summarize(strings.NewReader(in), &out)
		if !failed || !errors.Is(err, errNoTests) {
			t.Errorf("%s: failed %v, err %v; want a failure wrapping errNoTests", name, failed, err)
			continue
		}
		if !strings.Contains(err.Error(), "nothing was tested") {
			t.Errorf("%s: the error does not say nothing was tested: %v", name, err)
		}
	}
}

// TestMainExitsNonZeroWithoutTests: the command, fed no test events on
// standard input, exits 1 and says why on stderr (make test runs it as
// the last command of a pipe, so its status is the target's).
func TestMainExitsNonZeroWithoutTests(t *testing.T) {
	if os.Getenv("TESTSUMMARY_RUN_MAIN") == "1" {
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainExitsNonZeroWithoutTests$")
	cmd.Env = append(os.Environ(), "TESTSUMMARY_RUN_MAIN=1")
	cmd.Stdin = strings.NewReader("")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("testsummary on empty input: %v, want exit status 1; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "standard input: no test results") {
		t.Errorf("stderr does not name the input and say no test results were seen:\n%s", stderr.String())
	}
}

// TestSummarizeFailsOnCutStream: input that ends before a package's own
// result (go test killed mid-package; without pipefail the pipe's status
// is testsummary's) fails, naming the package and the test that was
// running, even though every test that reported passed.
func TestSummarizeFailsOnCutStream(t *testing.T) {
	in := `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"pass","Package":"p/a","Test":"TestOK"}
{"Action":"run","Package":"p/a","Test":"TestSlow"}
{"Action":"output","Package":"p/a","Test":"TestSlow","Output":"=== RUN   TestSlow\n"}
`
	var out bytes.Buffer
	failed, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Fatalf("a stream cut before p/a's result passed:\n%s", out.String())
	}
	for _, want := range []string{"FAIL p/a: the input ended before the package's result", "still running: TestSlow", "packages: 1 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	// The same package finished (its own pass) is a pass.
	var done bytes.Buffer
	in += `{"Action":"pass","Package":"p/a","Test":"TestSlow"}` + "\n" + `{"Action":"pass","Package":"p/a","Elapsed":2}` + "\n"
	if failed, err := summarize(strings.NewReader(in), &done); failed || err != nil {
		t.Errorf("a finished run failed (%v):\n%s", err, done.String())
	}
}
