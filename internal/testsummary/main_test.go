package main

import (
	"bytes"
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
	if failed, _ := summarize(strings.NewReader(`{"Action":"pass","Package":"p/a","Elapsed":1}`+"\n"), &clean); failed {
		t.Error("a passing run failed")
	}
}
