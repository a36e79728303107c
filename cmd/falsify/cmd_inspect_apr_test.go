package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectAPRErrors: a corrupt APR file is an error naming the file
// and the field.
func TestInspectAPRErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.apr")
	os.WriteFile(p, append([]byte("APRN"), make([]byte, 80)...), 0o644)
	_, stderr, code := runCLI(t, "inspect", p)
	if code != 3 || !strings.Contains(stderr, p) || !strings.Contains(stderr, "header magic") || !strings.Contains(stderr, "APRN") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}

func toStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, len(a))
	for i, x := range a {
		out[i], _ = x.(string)
	}
	return out
}
