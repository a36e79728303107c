// Command testsummary reads `go test -json` on standard input and prints
// what `make test` shows: one line per package (ok, FAIL, no test files),
// the output of every failed test, and at the end a summary of every
// skipped test with its reason (which plain `go test` shows only under
// -v), so a run where the llama.cpp oracle was missing cannot pass for
// one that checked against it. It exits 1 if any test or build failed,
// if its input held no test results at all (a run that reported
// nothing measured nothing: `go test` that died before running, an empty
// pipe, a -run pattern that matched no test), or if it ended before a
// package's result (`go test` killed mid-package: without pipefail the
// pipe's status would be this command's).
//
//	go test -json ./... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string
}

type skip struct{ pkg, test, reason string }

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if errors.Is(err, errNoTests) {
		fmt.Fprintln(os.Stderr, "testsummary: standard input:", err)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary: reading standard input:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// errNoTests is summarize's error for a stream without one test's result.
var errNoTests = errors.New("no test results")

// summarize reads the event stream and writes the report; it says whether
// anything failed. A stream without a single test's pass, fail or skip
// event fails with an error wrapping errNoTests that says how many lines
// and events it read: whatever the packages say, nothing was tested.
func summarize(r io.Reader, w io.Writer) (failed bool, err error) {
	output := map[string][]string{} // package + "\x00" + test -> its output lines
	var skips []skip
	var passed, failedTests, skipped, pkgFail, lines, events int
	// finished: every package seen, whether its own result came; running:
	// each package's tests that started and have no result yet.
	finished := map[string]bool{}
	running := map[string]map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		lines++
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintln(w, string(line)) // not JSON: a toolchain message
			continue
		}
		events++
		key := e.Package + "\x00" + e.Test
		if e.Package != "" {
			if _, ok := finished[e.Package]; !ok {
				finished[e.Package] = false
				running[e.Package] = map[string]bool{}
			}
			switch {
			case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
				finished[e.Package] = true
			case e.Test != "" && e.Action == "run":
				running[e.Package][e.Test] = true
			case e.Test != "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
				delete(running[e.Package], e.Test)
			}
		}
		switch e.Action {
		case "output":
			output[key] = append(output[key], e.Output)
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			failed = true
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(w, "ok   %s %.1fs\n", e.Package, e.Elapsed)
			} else {
				passed++
			}
			delete(output, key)
		case "skip":
			if e.Test == "" {
				fmt.Fprintf(w, "?    %s [no test files]\n", e.Package)
				break
			}
			skipped++
			skips = append(skips, skip{e.Package, e.Test, skipReason(output[key])})
			delete(output, key)
		case "fail":
			failed = true
			if e.Test == "" {
				pkgFail++
				// Package-level output holds panics and the final FAIL line.
				for _, l := range output[key] {
					fmt.Fprint(w, l)
				}
				fmt.Fprintf(w, "FAIL %s %.1fs\n", e.Package, e.Elapsed)
			} else {
				failedTests++
				fmt.Fprintf(w, "--- FAIL: %s (%s)\n", e.Test, e.Package)
				for _, l := range output[key] {
					if !strings.HasPrefix(l, "=== ") {
						fmt.Fprint(w, l)
					}
				}
			}
			delete(output, key)
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	if len(skips) > 0 {
		sort.Slice(skips, func(i, j int) bool {
			if skips[i].pkg != skips[j].pkg {
				return skips[i].pkg < skips[j].pkg
			}
			return skips[i].test < skips[j].test
		})
		fmt.Fprintf(w, "\n%d skipped tests (each checks nothing here; the reason says what would make it run):\n", len(skips))
		for _, s := range skips {
			fmt.Fprintf(w, "  SKIP %s %s: %s\n", strings.TrimPrefix(s.pkg, "github.com/falsify/falsify/"), s.test, s.reason)
		}
	}
	// A package without its own result: the stream was cut (go test
	// killed, a pipe closed), so whatever passed before says nothing
	// about the tests that never reported.
	var unfinished []string
	for pkg, done := range finished {
		if !done {
			unfinished = append(unfinished, pkg)
		}
	}
	sort.Strings(unfinished)
	for _, pkg := range unfinished {
		failed = true
		pkgFail++
		tests := make([]string, 0, len(running[pkg]))
		for t := range running[pkg] {
			tests = append(tests, t)
		}
		sort.Strings(tests)
		what := ""
		if len(tests) > 0 {
			what = "; still running: " + strings.Join(tests, ", ")
		}
		fmt.Fprintf(w, "FAIL %s: the input ended before the package's result (go test killed or its output cut off)%s\n", pkg, what)
	}
	// The last line is the plain "N passed, N failed, N skipped" that CI
	// reads; a package that failed without a failing test (a build error,
	// a panic in init) still counts as a failure there.
	fmt.Fprintf(w, "\npackages: %d failed\n", pkgFail)
	failedCount := failedTests
	if failedCount == 0 && pkgFail > 0 {
		failedCount = pkgFail
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", passed, failedCount, skipped)
	if passed+failedTests+skipped == 0 {
		return true, fmt.Errorf("%w: %d lines read, %d of them `go test -json` events, none a test's pass, fail or skip: nothing was tested (was the input `go test -json` output, and did any test run?)", errNoTests, lines, events)
	}
	return failed, nil
}

// skipReason is the message t.Skip logged: the test's output lines other
// than the === and --- markers, without the file:line prefix.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if i := strings.Index(t, ": "); i > 0 && strings.Contains(t[:i], ".go:") {
			t = t[i+2:]
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}
