package tokenizer_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/llamacpp"
)

// llamaCppVocabDir returns a directory holding llama.cpp's
// models/ggml-vocab-*.gguf files with their .inp/.out vectors:
// $FALSIFY_LLAMA_VOCAB_DIR, or the models/ folder of the llama.cpp source
// that node-llama-cpp bundles (llama/gitRelease.bundle), checked out once
// into the user cache. Skips with the reason when neither is there.
func llamaCppVocabDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("FALSIFY_LLAMA_VOCAB_DIR"); d != "" {
		return d
	}
	bundle := filepath.Join(llamacpp.Dir(), "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle")
	st, err := os.Stat(bundle)
	if err != nil {
		t.Skipf("llama.cpp vocab files unavailable: set FALSIFY_LLAMA_VOCAB_DIR or install the oracle (%v)", err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("llama.cpp vocab files: git is needed to read the oracle's source bundle")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no cache dir: %v", err)
	}
	// One checkout per bundle (named by its time and size).
	dir := filepath.Join(cache, "falsify", "llama-vocab", fmt.Sprintf("%s-%d", st.ModTime().UTC().Format("20060102T150405"), st.Size()))
	models := filepath.Join(dir, "models")
	if _, err := os.Stat(filepath.Join(models, "ggml-vocab-gpt-2.gguf.out")); err == nil {
		return models
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	cmd := exec.Command("git", "clone", "--quiet", "--no-checkout", bundle, tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone %s: %v\n%s", bundle, err, out)
	}
	cmd = exec.Command("git", "-C", tmp, "checkout", "--quiet", "HEAD", "--", "models")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git checkout models: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(tmp, ".git"))
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return models
}

// TestAllLlamaCppVocabVectors runs every vocab-only file llama.cpp ships
// with test vectors, as test-tokenizer-0 does (no BOS/EOS, no special
// parsing), and reports the pass rate of each. Vocabularies whose
// tokenizer model or pre-tokenizer the package refuses are listed as
// refused (by name, in the error), and must stay refused rather than
// tokenize wrongly; every vocabulary it loads must pass every vector.
func TestAllLlamaCppVocabVectors(t *testing.T) {
	dir := llamaCppVocabDir(t)
	inps, _ := filepath.Glob(filepath.Join(dir, "ggml-vocab-*.gguf.inp"))
	if len(inps) == 0 {
		t.Fatalf("no ggml-vocab-*.gguf.inp in %s", dir)
	}
	slices.Sort(inps)
	for _, inp := range inps {
		path := strings.TrimSuffix(inp, ".inp")
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tok, err := tokenizer.FromGGUF(f.Metadata)
			if err != nil {
				t.Logf("%s: refused: %v", name, err)
				return
			}
			cases := loadVectors(t, path)
			pass := 0
			for i, c := range cases {
				got := tok.Encode(c.input, tokenizer.EncodeOptions{})
				if slices.Equal(got, c.want) || (len(got) == 0 && len(c.want) == 0) {
					pass++
					continue
				}
				if i-pass < 5 { // the first few failures are enough to debug
					t.Errorf("vector %d %q: got %v, want %v", i, c.input, got, c.want)
				}
			}
			t.Logf("%s: %d/%d vectors reproduced", name, pass, len(cases))
			if pass != len(cases) {
				t.Errorf("%s: %d of %d vectors differ", name, len(cases)-pass, len(cases))
			}
		})
	}
}

// TestPhi3SpecialTokensStripWhitespace: llama.cpp marks Phi-3's special
// tokens rstrip (by the model name), so the newline after <|user|> and
// <|end|> is dropped: `<|user|>\nhi<|end|>\n<|assistant|>` with special
// parsing is [32010, 7251, 32007, 32001] (llama-tokenize --parse-special).
func TestPhi3SpecialTokensStripWhitespace(t *testing.T) {
	path := fixture.Require(t, "tokenizer/ggml-vocab-phi-3.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	got := tok.Encode("<|user|>\nhi<|end|>\n<|assistant|>", tokenizer.EncodeOptions{ParseSpecial: true})
	if want := []int32{32010, 7251, 32007, 32001}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestGptOssTokensAlwaysUserDefined: llama.cpp makes <|start|>,
// <|channel|>, <|message|> and <|constrain|> user-defined whatever their
// stored type, so they are matched in text without special parsing, while
// a control token is not.
func TestGptOssTokensAlwaysUserDefined(t *testing.T) {
	tok, err := tokenizer.New(tokenizer.Vocab{
		Model:  tokenizer.ModelGPT2,
		Tokens: []string{"<|start|>", "<|end|>", "<", "|", "e", "n", "d", ">"},
		Types:  []int32{tokenizer.TypeControl, tokenizer.TypeControl, 1, 1, 1, 1, 1, 1},
		BOS:    -1, EOS: -1, UNK: -1, PAD: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("<|start|>", tokenizer.EncodeOptions{}); !slices.Equal(got, []int32{0}) {
		t.Errorf("<|start|> without special parsing: %v, want [0]", got)
	}
	if got := tok.Encode("<|end|>", tokenizer.EncodeOptions{}); slices.Equal(got, []int32{1}) {
		t.Errorf("<|end|> (control) matched without special parsing: %v", got)
	}
}
