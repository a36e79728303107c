package tokenizer_test

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/falsify/falsify/internal/fixture"
)

// mixedText returns n bytes of mixed text: the llama.cpp vocab test
// inputs, then generated prose, code, numbers, Cyrillic, CJK and emoji
// (deterministic), cut at a character boundary.
func mixedText(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	if p, ok := fixture.Path("tokenizer/ggml-vocab-gpt-2.gguf.inp"); ok {
		inp, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		b.WriteString(strings.ReplaceAll(string(inp), "__ggml_vocab_test__", ""))
	}
	words := []string{
		"the", "model", "tokenizer", "of", "and", "a", "contract", "falsification", "isn't", "we'll",
		"Hello", "World", "llama.cpp", "GGUF", "quantized", "3.14159", "2024", "1234567", "x=y+1;",
		"func", "return", "if", "(x)", "{", "}", "[i]", "->", "==", "//", "#", "\"quoted\"",
		"привет", "мир", "日本語", "中文字符", "한국어", "ελληνικά", "café", "naïve", "😀", "🦙", "✅",
	}
	seps := []string{" ", " ", " ", " ", ", ", ". ", "\n", "\n\n", "    ", "\t", "  "}
	r := rand.New(rand.NewPCG(7, 11))
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(seps[r.IntN(len(seps))])
	}
	s := b.String()[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func benchmarkEncode(b *testing.B, file, pre string) {
	tok, f := openTokenizer(b, file)
	if pre != "" {
		v, err := tokenizer.VocabFromGGUF(f.Metadata)
		if err != nil {
			b.Fatal(err)
		}
		v.Pre = pre
		if tok, err = tokenizer.New(v); err != nil {
			b.Fatal(err)
		}
	}
	text := mixedText(b, 1<<20)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	var n int
	for b.Loop() {
		n = len(tok.Encode(text, tokenizer.EncodeOptions{}))
	}
	b.ReportMetric(float64(n), "tokens")
}

// BenchmarkEncode tokenizes 1 MB of mixed text (MB/s is the throughput).
func BenchmarkEncode(b *testing.B) {
	b.Run("qwen2", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-qwen2.gguf", "") })
	b.Run("gpt-2", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-gpt-2.gguf", "") })
	// GPT-2's vocabulary under the other pre-tokenizers: their splitters'
	// cost (the ids are not those of any real model).
	b.Run("gpt-2-vocab/llama-bpe", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-gpt-2.gguf", "llama-bpe") })
	b.Run("gpt-2-vocab/default", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-gpt-2.gguf", "default") })
	b.Run("qwen2-tiny", func(b *testing.B) { benchmarkEncode(b, "models/qwen2-tiny-q4_k_m.gguf", "") })
}

// BenchmarkLoad is the cost of building a tokenizer from GGUF metadata.
func BenchmarkLoad(b *testing.B) {
	_, f := openTokenizer(b, "tokenizer/ggml-vocab-qwen2.gguf")
	b.ResetTimer()
	for b.Loop() {
		if _, err := tokenizer.FromGGUF(f.Metadata); err != nil {
			b.Fatal(err)
		}
	}
}
