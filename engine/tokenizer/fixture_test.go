package tokenizer_test

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// vocabCase is one llama.cpp tokenizer test vector (tests/test-tokenizer-0
// and its ggml-vocab-*.gguf.inp/.out files, whose ids Hugging Face's
// tokenizers produced).
type vocabCase struct {
	input string
	want  []int32
}

// loadVectors reads a vocab fixture's .inp/.out pair: inputs separated by
// "\n__ggml_vocab_test__\n" (each one followed by it), one line of ids per
// input.
func loadVectors(t testing.TB, vocabPath string) []vocabCase {
	t.Helper()
	inp, err := os.ReadFile(vocabPath + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(vocabPath + ".out")
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	inputs := strings.Split(string(inp), sep)
	if last := inputs[len(inputs)-1]; last != "" {
		t.Fatalf("%s.inp: does not end with the separator (tail %q)", vocabPath, last)
	}
	inputs = inputs[:len(inputs)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("%s: %d inputs but %d output lines", vocabPath, len(inputs), len(lines))
	}
	cases := make([]vocabCase, len(inputs))
	for i, line := range lines {
		cases[i].input = inputs[i]
		cases[i].want = []int32{}
		for _, f := range strings.Fields(line) {
			id, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", vocabPath, i+1, err)
			}
			cases[i].want = append(cases[i].want, int32(id))
		}
	}
	return cases
}

// openTokenizer loads the tokenizer of a GGUF fixture.
func openTokenizer(t testing.TB, rel string) (*tokenizer.Tokenizer, *gguf.File) {
	t.Helper()
	path := fixture.Require(t, rel)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tok, err := tokenizer.FromGGUF(f.Metadata)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tok, f
}

// TestLlamaCppVocabVectors reproduces every vector of llama.cpp's vocab
// tests with add-special and special parsing off, as test-tokenizer-0 runs
// them.
func TestLlamaCppVocabVectors(t *testing.T) {
	for _, tc := range []struct {
		file   string
		tokens int
	}{
		{"tokenizer/ggml-vocab-qwen2.gguf", 151936},
		{"tokenizer/ggml-vocab-gpt-2.gguf", 50257},
		{"tokenizer/ggml-vocab-phi-3.gguf", 32064},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tok, f := openTokenizer(t, tc.file)
			if len(f.Tensors) != 0 {
				t.Errorf("%d tensors, want 0 (vocab-only file)", len(f.Tensors))
			}
			if tok.VocabSize() != tc.tokens {
				t.Errorf("VocabSize = %d, want %d", tok.VocabSize(), tc.tokens)
			}
			cases := loadVectors(t, f.Path)
			pass := 0
			for i, c := range cases {
				got := tok.Encode(c.input, tokenizer.EncodeOptions{})
				if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("vector %d %q (-want +got):\n%s", i, c.input, diff)
					continue
				}
				pass++
			}
			t.Logf("%s: %d/%d vectors reproduced", tc.file, pass, len(cases))
		})
	}
}

// TestQwen2TinyPrompts checks the cut Qwen2 vocabulary of the qwen2-tiny
// models against the prompts of llama.cpp's forward goldens.
func TestQwen2TinyPrompts(t *testing.T) {
	tok, _ := openTokenizer(t, "models/qwen2-tiny-q4_k_m.gguf")
	if tok.VocabSize() != 4099 {
		t.Errorf("VocabSize = %d, want 4099", tok.VocabSize())
	}

	// The prompt and tokens the fixture README and the contracts state.
	want := []int32{3838, 374, 220, 17, 10, 17, 30}
	if diff := cmp.Diff(want, tok.Encode("What is 2+2?", tokenizer.EncodeOptions{})); diff != "" {
		t.Errorf("What is 2+2? (-want +got):\n%s", diff)
	}

	t.Run("long-prompt", func(t *testing.T) {
		golden, ok := fixture.Path("golden/forward/qwen2-tiny-q4_k_m-long.json.gz")
		if !ok {
			t.Skip("golden/forward/qwen2-tiny-q4_k_m-long.json.gz is only in ../shared/fixtures (not found)")
		}
		prompt, err := os.ReadFile(fixture.Require(t, "golden/forward/long-prompt.txt"))
		if err != nil {
			t.Fatal(err)
		}
		want := goldenTokens(t, golden)
		// llama.cpp was given the file as it is, trailing newline included:
		// the last token is "])\n".
		got := tok.Encode(string(prompt), tokenizer.EncodeOptions{})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", golden, diff)
		}
		if last := tok.Piece(got[len(got)-1]); !strings.HasSuffix(last, "\n") {
			t.Errorf("last piece %q does not carry the file's trailing newline", last)
		}
	})
}

// goldenTokens reads the "tokens" field of a gzipped forward golden.
func goldenTokens(t testing.TB, path string) []int32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// The goldens are large; decode only the leading fields.
	dec := json.NewDecoder(zr)
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if key == "tokens" {
			var ids []int32
			if err := dec.Decode(&ids); err != nil {
				t.Fatalf("%s: tokens: %v", path, err)
			}
			return ids
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%s: %v: %v", path, key, err)
		}
	}
	t.Fatalf("%s: no tokens field", path)
	return nil
}

// TestRoundTrip decodes the tokens of every test input back to the input.
// Every one is representable: these vocabularies are byte-level, with a
// token for each of the 256 byte characters.
func TestRoundTrip(t *testing.T) {
	var inputs []string
	if p, ok := fixture.Path("tokenizer/ggml-vocab-gpt-2.gguf.inp"); ok {
		for _, c := range loadVectors(t, strings.TrimSuffix(p, ".inp")) {
			inputs = append(inputs, c.input)
		}
	}
	inputs = append(inputs, "What is 2+2?", "tab\there,\r\nnew line  ", "ünïcödé 中文 🦙 ½²")
	if p, ok := fixture.Path("golden/forward/long-prompt.txt"); ok {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	for _, file := range []string{"tokenizer/ggml-vocab-qwen2.gguf", "tokenizer/ggml-vocab-gpt-2.gguf", "models/qwen2-tiny-q4_k_m.gguf"} {
		t.Run(file, func(t *testing.T) {
			tok, _ := openTokenizer(t, file)
			for _, in := range inputs {
				if got := tok.Decode(tok.Encode(in, tokenizer.EncodeOptions{})); got != in {
					t.Errorf("Decode(Encode(%q)) = %q", in, got)
				}
			}
			t.Logf("%d inputs round-trip", len(inputs))
		})
	}
}

// TestQwen2ChatTemplate: with ParseSpecial the ChatML markers of Qwen2 are
// single control tokens (ids from the vocabulary file), without it they
// are plain text.
func TestQwen2ChatTemplate(t *testing.T) {
	tok, _ := openTokenizer(t, "models/qwen2-tiny-q4_k_m.gguf")
	text := "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
	got := tok.Encode(text, tokenizer.EncodeOptions{ParseSpecial: true})
	// The fixture README: <|endoftext|>, <|im_start|>, <|im_end|> are ids
	// 4096-4098; the prompt's own tokens are the contract's.
	want := []int32{4097}
	want = append(want, tok.Encode("user\nWhat is 2+2?", tokenizer.EncodeOptions{})...)
	want = append(want, 4098)
	want = append(want, tok.Encode("\n", tokenizer.EncodeOptions{})...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parse special (-want +got):\n%s", diff)
	}
	if back := tok.Decode(got); back != text {
		t.Errorf("Decode = %q, want %q", back, text)
	}
	plain := tok.Encode(text, tokenizer.EncodeOptions{})
	for _, id := range plain {
		if id >= 4096 {
			t.Errorf("special token %d without ParseSpecial: %v", id, plain)
		}
	}
}

// TestFromGGUFErrors: metadata naming an unknown model or pre-tokenizer,
// or lacking what the model needs, is an error naming the key.
func TestFromGGUFErrors(t *testing.T) {
	_, f := openTokenizer(t, "models/qwen2-tiny-q4_k_m.gguf")
	for _, tc := range []struct {
		key    string
		value  any // nil deletes the key
		want   error
		inText string
	}{
		{gguf.KeyTokenizerPre, "no-such-pre", tokenizer.ErrUnknownPreTokenizer, gguf.KeyTokenizerPre},
		{gguf.KeyTokenizerModel, "rwkv", tokenizer.ErrUnknownModel, gguf.KeyTokenizerModel},
		{gguf.KeyTokenizerMerges, nil, tokenizer.ErrBadVocab, gguf.KeyTokenizerMerges},
		{gguf.KeyTokenizerTokens, nil, gguf.ErrKeyNotFound, gguf.KeyTokenizerTokens},
		{gguf.KeyTokenizerBOS, "one", gguf.ErrWrongType, gguf.KeyTokenizerBOS},
	} {
		md := gguf.NewMetadata()
		for _, kv := range f.Metadata.KVs() {
			if kv.Key == tc.key && tc.value == nil {
				continue
			}
			if err := md.Set(kv.Key, kv.Value); err != nil {
				t.Fatal(err)
			}
		}
		if tc.value != nil {
			if err := md.Set(tc.key, tc.value); err != nil {
				t.Fatal(err)
			}
		}
		_, err := tokenizer.FromGGUF(md)
		if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.inText) {
			t.Errorf("%s = %v: error %v, want %v naming %s", tc.key, tc.value, err, tc.want, tc.inText)
		}
	}
}

// FuzzEncode tokenizes arbitrary bytes with the qwen2-tiny vocabulary:
// never a panic, and valid UTF-8 comes back from Decode unchanged (with
// and without special-token parsing).
//
//	go test ./engine/tokenizer -run '^$' -fuzz FuzzEncode -fuzztime 60s -parallel 1
func FuzzEncode(f *testing.F) {
	tok, _ := openTokenizer(f, "models/qwen2-tiny-q4_k_m.gguf")
	for _, s := range []string{"What is 2+2?", "<|im_start|>user\nhi<|im_end|>", "\xff\xfe a \xe2\x96", "  \n\t 333 'll"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, parse bool) {
		ids := tok.Encode(text, tokenizer.EncodeOptions{ParseSpecial: parse, AddSpecial: true})
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("id %d out of range", id)
			}
		}
		if utf8.ValidString(text) {
			if got := tok.Decode(ids); got != text {
				t.Errorf("Decode(Encode(%q)) = %q", text, got)
			}
		}
	})
}

// TestConcurrentEncode: one tokenizer used from several goroutines gives
// every one of them the result it gives alone (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok, _ := openTokenizer(t, "models/qwen2-tiny-q4_k_m.gguf")
	texts := []string{"What is 2+2?", "def f(x):\n    return x * 2\n", "ünïcödé 中文 🦙"}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s, tokenizer.EncodeOptions{})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 50 {
				i := (g + k) % len(texts)
				if got := tok.Encode(texts[i], tokenizer.EncodeOptions{}); !cmp.Equal(got, want[i]) {
					t.Errorf("goroutine %d: %q = %v, want %v", g, texts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
