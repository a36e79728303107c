package ggmlref

import (
	"errors"
	"testing"
)

// Open checks the mirrored struct layouts against ggml's own accessors
// (see checkLayout); a layout or version mismatch fails here first.
func TestOpen(t *testing.T) {
	l, err := Open()
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ggml %s (%s) from %s, CPU variant %s", l.Version, l.Commit, l.Dir, l.Variant)
	if l.Version != "0.23.0" {
		t.Errorf("ggml version %q, want 0.23.0 (node-llama-cpp 3.21.1's build)", l.Version)
	}
	// Q4_K's vec-dot type is Q8_K (15) in every ggml of this generation.
	if got := l.VecDotType(12); got != 15 {
		t.Errorf("vec_dot_type of q4_K = %d, want 15", got)
	}
	if _, err := l.Dequantize(12, make([]byte, 143), 256); err == nil {
		t.Error("Dequantize accepted a short buffer")
	}
	if _, err := l.VecDot(15, 256, make([]byte, 292), make([]byte, 292)); !errors.Is(err, ErrNoKernel) {
		t.Errorf("VecDot(q8_K) err = %v, want ErrNoKernel", err)
	}
}

func TestOpenMissing(t *testing.T) {
	t.Setenv("FALSIFY_GGML_DIR", t.TempDir())
	if _, err := Open(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}
