package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
)

func TestInspectJSON(t *testing.T) {
	path := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	out, errs, code := runCLI(t, "inspect", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got inspection
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	// 4 layers x 12 tensors + token_embd + output_norm (tied output).
	if got.Summary.Tensors != 50 || got.Summary.TensorsByType["Q4_K"] == 0 || got.Summary.TensorsByType["Q6_K"] == 0 {
		t.Errorf("summary %+v", got.Summary)
	}
	if got.Format != "gguf" || got.Version != "3" {
		t.Errorf("format %s v%s", got.Format, got.Version)
	}
}

func TestInspectErrors(t *testing.T) {
	_, errs, code := runCLI(t, "inspect", "/nonexistent/m.gguf")
	if code != 3 || !strings.Contains(errs, "/nonexistent/m.gguf") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
	_, errs, code = runCLI(t, "inspect", "model.bin")
	if code != 2 || !strings.Contains(errs, "unknown model format") {
		t.Errorf("unknown extension: exit %d, %q", code, errs)
	}
	_, _, code = runCLI(t, "inspect")
	if code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}
