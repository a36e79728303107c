package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfiledWritesAProfile: with a path, the command runs and leaves a
// non-empty pprof file (gzip magic); its error comes through unchanged.
func TestProfiledWritesAProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	want := errors.New("the command's own error")
	ran := false
	err := profiled(path, func() error { ran = true; return want })
	if !ran || err != want {
		t.Fatalf("profiled: ran %v, err %v; want the command to run and its error back", ran, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile %s is %d bytes, not a gzip'd pprof profile", path, len(b))
	}
}

// TestProfiledUnwritable: a profile that cannot be created is an error
// naming the variable, and the command does not run.
func TestProfiledUnwritable(t *testing.T) {
	ran := false
	err := profiled(filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.prof"), func() error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), "FALSIFY_CPUPROFILE") {
		t.Fatalf("profiled into a missing directory: ran %v, err %v; want an error naming FALSIFY_CPUPROFILE and no run", ran, err)
	}
	if code := exitCode(err, new(strings.Builder)); code != exitSetup {
		t.Fatalf("exit status %d, want %d (broken setup)", code, exitSetup)
	}
}
