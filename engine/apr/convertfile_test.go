package apr_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/internal/fixture"
)

// TestConvertFile: the file ConvertFile writes opens as APR with the
// tensors the report counted; an unreadable source leaves no file.
func TestConvertFile(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "m.apr")
	rep, err := apr.ConvertFile(fixture.Require(t, "models/qwen2-tiny-q8_0.gguf"), dst)
	if err != nil {
		t.Fatal(err)
	}
	f, err := apr.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for _, c := range rep.OutputTypes {
		n += c
	}
	if n == 0 || len(f.Tensors) != n || rep.Arch != "qwen2" {
		t.Errorf("%d tensors in the file, report counts %d (%+v)", len(f.Tensors), n, rep)
	}
	bad := filepath.Join(t.TempDir(), "bad.apr")
	if _, err := apr.ConvertFile(filepath.Join(t.TempDir(), "none.gguf"), bad); err == nil {
		t.Error("missing source: no error")
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("missing source left a file")
	}
}
