package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// runCLI runs the falsify CLI in-process and returns what it printed and
// its exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func TestMain(m *testing.M) {
	// Builtin models are materialized into a private cache, not the user's.
	dir, err := os.MkdirTemp("", "falsify-cli-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("FALSIFY_CACHE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
