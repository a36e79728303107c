package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// TestConvertJSON: converting the Q4_K_M fixture copies every tensor (the
// file holds only Q4_K, Q6_K and F32), adds lm_head.weight for the tied
// embedding, and the --json summary counts the GGUF file's types.
func TestConvertJSON(t *testing.T) {
	in := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	out := filepath.Join(t.TempDir(), "m.apr")
	stdout, stderr, code := runCLI(t, "convert", "--json", in, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum convertSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	r := sum.Report
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.OutputBytes != st.Size() || r.Fallback || !r.TiedEmbeddings || len(r.Tensors) != 51 {
		t.Errorf("summary: %d bytes (file %d), fallback %v, tied %v, %d tensors", sum.OutputBytes, st.Size(), r.Fallback, r.TiedEmbeddings, len(r.Tensors))
	}
	// inspect of the GGUF file counts the same types.
	gout, _, _ := runCLI(t, "inspect", "--json", in)
	var gi inspection
	if err := json.Unmarshal([]byte(gout), &gi); err != nil {
		t.Fatal(err)
	}
	for typ, n := range gi.Summary.TensorsByType {
		if r.SourceTypes[typ] != n {
			t.Errorf("source %s: %d, inspect says %d", typ, r.SourceTypes[typ], n)
		}
		want := n
		if typ == "Q6_K" {
			want++ // lm_head.weight, a copy of the Q6_K embedding
		}
		if r.OutputTypes[typ] != want {
			t.Errorf("output %s: %d, want %d", typ, r.OutputTypes[typ], want)
		}
	}
}

// TestConvertFallbackText: the Q8_0 fixture is dequantized to F32, and the
// text output says so with the per-type counts.
func TestConvertFallbackText(t *testing.T) {
	in := fixture.Require(t, "models/qwen2-tiny-q8_0.gguf")
	out := filepath.Join(t.TempDir(), "m.apr")
	stdout, stderr, code := runCLI(t, "convert", "--progress", "always", in, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"GGUF types: F32 21, Q8_0 29", "APR types:  F32 51", "F32 fallback: APR cannot store Q8_0", "names: Hugging Face (qwen2)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "dequantizing every tensor to F32") || !strings.Contains(stderr, "tensor 51/51") {
		t.Errorf("stderr lacks the fallback note or progress:\n%s", stderr)
	}
}

// TestConvertThenInspectAndTrace: the converted file inspects as APR with
// valid checksums, and `falsify trace` runs on it unchanged, giving the
// GGUF model's logits (Q4_K_M is copied byte for byte).
func TestConvertThenInspectAndTrace(t *testing.T) {
	in := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	out := filepath.Join(t.TempDir(), "m.apr")
	if _, stderr, code := runCLI(t, "convert", in, out); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := runCLI(t, "inspect", "--json", out)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var info inspection
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Format != "apr" || info.Version != "2.0" || info.Summary.Tensors != 51 ||
		info.Extra["header_crc_valid"] != true || info.Extra["footer_crc_valid"] != true ||
		!slices.Equal(toStrings(info.Extra["flags"]), []string{"LAYOUT_ROW_MAJOR"}) {
		t.Errorf("inspection: format %s v%s, %d tensors, extra %v", info.Format, info.Version, info.Summary.Tensors, info.Extra)
	}
	var vocab *inspectKV
	for i := range info.Metadata {
		if info.Metadata[i].Key == "tokenizer.vocabulary" {
			vocab = &info.Metadata[i]
		}
	}
	if vocab == nil || vocab.Length == nil || *vocab.Length != 4099 || len(vocab.Value.([]any)) != previewLen {
		t.Errorf("tokenizer.vocabulary entry %+v", vocab)
	}
	if text, _, code := runCLI(t, "inspect", out); code != 0 || !strings.Contains(text, "APR v2.0") || !strings.Contains(text, "model.layers.0.self_attn.q_proj.weight") {
		t.Errorf("inspect text: exit %d\n%.400s", code, text)
	}
	logits := func(path string) []float32 {
		stdout, stderr, code := runCLI(t, "trace", "--json", "-p", "What is 2+2?", path)
		if code != 0 {
			t.Fatalf("trace %s: exit %d: %s", path, code, stderr)
		}
		var tr trace.Trace
		if err := json.Unmarshal([]byte(stdout), &tr); err != nil {
			t.Fatal(err)
		}
		if tr.Provenance.Format != strings.TrimPrefix(filepath.Ext(path), ".") {
			t.Errorf("%s: provenance format %q", path, tr.Provenance.Format)
		}
		return tr.Logits.Last
	}
	if a, g := logits(out), logits(in); len(a) == 0 || !slices.Equal(a, g) {
		t.Errorf("APR logits differ from the GGUF model's")
	}
}

// TestConvertErrors: usage mistakes exit 2; a missing or non-GGUF input
// exits 1 naming the file; no output file is left behind.
func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.apr")
	if _, _, code := runCLI(t, "convert", "only-one.gguf"); code != 2 {
		t.Errorf("one argument: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "convert", "--progress", "sometimes", "a.gguf", out); code != 2 {
		t.Errorf("bad --progress: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "convert", "same.gguf", "./same.gguf"); code != 2 {
		t.Errorf("output = input: exit %d, want 2", code)
	}
	missing := filepath.Join(dir, "missing.gguf")
	if _, stderr, code := runCLI(t, "convert", missing, out); code != 3 || !strings.Contains(stderr, missing) {
		t.Errorf("missing input: exit %d, %q", code, stderr)
	}
	notGGUF := filepath.Join(dir, "x.gguf")
	os.WriteFile(notGGUF, []byte("APR\x00 is not GGUF"), 0o644)
	if _, stderr, code := runCLI(t, "convert", notGGUF, out); code != 3 || !strings.Contains(stderr, notGGUF) || !strings.Contains(stderr, "magic") {
		t.Errorf("non-GGUF input: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after failed conversions: %v", err)
	}
}
