package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
	"github.com/google/go-cmp/cmp"
)

func tokenizeJSON(t *testing.T, args ...string) tokenizeResult {
	t.Helper()
	out, errs, code := runCLI(t, append([]string{"tokenize", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res tokenizeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return res
}

// TestTokenize checks the CLI against the fixture README's tokens for the
// contract prompt, from each text source.
func TestTokenize(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	want := tokenizeResult{IDs: []int32{3838, 374, 220, 17, 10, 17, 30}, Pieces: []string{"What", " is", " ", "2", "+", "2", "?"}}

	if diff := cmp.Diff(want, tokenizeJSON(t, model, "What is 2+2?")); diff != "" {
		t.Errorf("argument (-want +got):\n%s", diff)
	}

	path := filepath.Join(t.TempDir(), "prompt.txt")
	if err := os.WriteFile(path, []byte("What is 2+2?"), 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, tokenizeJSON(t, "--file", path, model)); diff != "" {
		t.Errorf("--file (-want +got):\n%s", diff)
	}

	// Standard input, byte for byte: the trailing newline is a token too.
	tokenizeStdin = strings.NewReader("What is 2+2?\n")
	defer func() { tokenizeStdin = os.Stdin }()
	got := tokenizeJSON(t, model)
	if !cmp.Equal(got.IDs[:6], want.IDs[:6]) || strings.Join(got.Pieces, "") != "What is 2+2?\n" {
		t.Errorf("stdin: %+v, want the prompt's tokens with the newline kept", got)
	}

	// --parse-special: <|im_start|> is id 4097 (fixture README).
	if got := tokenizeJSON(t, "--parse-special", model, "<|im_start|>"); !cmp.Equal(got.IDs, []int32{4097}) {
		t.Errorf("--parse-special: %v, want [4097]", got.IDs)
	}

	out, errs, code := runCLI(t, "tokenize", model, "What is")
	if code != 0 || out != "  3838 \"What\"\n   374 \" is\"\n" {
		t.Errorf("plain output: exit %d, %q %s", code, out, errs)
	}
}

func TestTokenizeErrors(t *testing.T) {
	model := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"tokenize"}, 2},
		{[]string{"tokenize", model, "a", "b"}, 2},
		{[]string{"tokenize", "--file", "x.txt", model, "a"}, 2},
		{[]string{"tokenize", "model.bin", "a"}, 2},
		{[]string{"tokenize", "--file", filepath.Join(t.TempDir(), "missing.txt"), model}, 3},
		{[]string{"tokenize", filepath.Join(t.TempDir(), "missing.gguf"), "a"}, 3},
	} {
		if _, errs, code := runCLI(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errs)
		}
	}
}

// TestTokenizeAPR reads the tokenizer of a converted model from its APR
// metadata and gives the same ids as the GGUF.
func TestTokenizeAPR(t *testing.T) {
	src := fixture.Require(t, "models/qwen2-tiny-q6_k.gguf")
	apr := filepath.Join(t.TempDir(), "m.apr")
	if _, errs, code := runCLI(t, "convert", src, apr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	want, _, _ := runCLI(t, "tokenize", "--json", src, "What is 2+2?")
	got, errs, code := runCLI(t, "tokenize", "--json", apr, "What is 2+2?")
	if code != 0 || got != want || !strings.Contains(got, "[3838,374,220,17,10,17,30]") {
		t.Errorf("APR tokenize: exit %d %s\ngot  %s\nwant %s", code, errs, got, want)
	}
}
