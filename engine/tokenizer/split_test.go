package tokenizer

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/google/go-cmp/cmp"
)

// The pre-tokenizer patterns as the models' tokenizer.json files state
// them (and llama-vocab.cpp quotes them). regexp2 runs them with
// backtracking and lookahead; the hand-written splitters must cut text at
// the same places.
var referencePatterns = map[string][]string{
	"gpt-2":     {`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`},
	"llama-bpe": {`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"qwen2":     {`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	// llama.cpp's default: four patterns applied in turn, each to the
	// pieces the one before made.
	"default": {
		`[\p{P}\$\+<=>\^~\|]+`,
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
		`\p{N}+`,
		`[0-9][0-9][0-9]`,
	},
	"qwen35": {`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"deepseek-coder": {
		`[\r\n]`,
		`\s?\p{L}+`,
		`\s?\p{P}+`,
		`[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+`,
		`\p{N}`,
	},
	"starcoder": {
		`\p{N}`,
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
	},
	"falcon": {
		"[\\p{P}\\$\\+<=>\\^~\\|`]+",
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
		`[0-9][0-9][0-9]`,
	},
}

// regexWords splits text the way llama.cpp's unicode_regex_split_stl does
// with std::regex_iterator: every match is a word, and so is every
// stretch between matches.
func regexWords(t testing.TB, patterns []*regexp2.Regexp, text string) []string {
	t.Helper()
	words := []string{text}
	if text == "" {
		return nil
	}
	for _, re := range patterns {
		var next []string
		for _, w := range words {
			runes := []rune(w)
			prev := 0
			m, err := re.FindRunesMatch(runes)
			for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
				if m.RuneIndex > prev {
					next = append(next, string(runes[prev:m.RuneIndex]))
				}
				next = append(next, string(runes[m.RuneIndex:m.RuneIndex+m.RuneLength]))
				prev = m.RuneIndex + m.RuneLength
			}
			if err != nil {
				t.Fatal(err)
			}
			if prev < len(runes) {
				next = append(next, string(runes[prev:]))
			}
		}
		words = next
	}
	return words
}

// splitterWords runs a pre-tokenizer and returns its words.
func splitterWords(p preTokenizer, text string) []string {
	cp := decodeRunes(nil, text)
	cls := make([]class, len(cp))
	for i, r := range cp {
		cls[i] = classify(r)
	}
	lens, _ := p.split(cp, cls, nil, nil)
	var words []string
	start := 0
	for _, n := range lens {
		words = append(words, string(cp[start:start+n]))
		start += n
	}
	return words
}

func compilePatterns(t testing.TB) map[string][]*regexp2.Regexp {
	out := map[string][]*regexp2.Regexp{}
	for name, pats := range referencePatterns {
		for _, p := range pats {
			re, err := regexp2.Compile(p, regexp2.None)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = append(out[name], re)
		}
	}
	return out
}

// comparable reports whether text is one the reference can judge: valid
// UTF-8 (regexp2 and llama.cpp replace bad bytes differently), without
// the few code points where regexp2's case folding or Unicode version
// differs from llama.cpp's tables (long s and Kelvin sign fold to s and
// k; CJK Ext. I is unassigned in Go's tables).
func comparable(text string) bool {
	if !utf8.ValidString(text) {
		return false
	}
	for _, r := range text {
		if r == 'ſ' || r == 'K' || r == 'İ' || r == 'ı' || (r >= 0x2EBF0 && r <= 0x2EE5D) {
			return false
		}
	}
	return true
}

func checkAgainstRegex(t *testing.T, res map[string][]*regexp2.Regexp, text string) {
	t.Helper()
	for name, pats := range res {
		want := regexWords(t, pats, text)
		got := splitterWords(preTokenizers[name], text)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: %q (-regexp2 +splitter):\n%s", name, text, diff)
		}
	}
}

// testAlphabet mixes the classes the patterns tell apart: ASCII and
// non-ASCII letters, digits and other numbers, every kind of whitespace
// (newlines, NEL, no-break and ideographic spaces), punctuation and
// symbols, marks, controls, emoji and the apostrophe contractions.
var testAlphabet = []rune{
	' ', ' ', ' ', '\t', '\n', '\n', '\r', '\v', '\f', 0x85, 0xA0, 0x2009, 0x3000, 0x1C, 0x1F,
	'a', 'Z', 's', 'S', 't', 'T', 'r', 'e', 'E', 'v', 'm', 'l', 'L', 'd', 'é', 'ß', 'Ж', '中', 'ㄱ', 'ʰ',
	'0', '3', '7', '9', '½', '²', 'Ⅻ', '٣',
	'\'', '\'', '!', '?', '.', ',', '"', '(', ')', '-', '_', '$', '+', '<', '=', '^', '`', '|', '~', '@', '¿', '«', '—', '…',
	0x301, 0x200D, 0xFE0F, 0x01, 0x7F, 0xE000, '🦙', '😀', '€',
}

func randomText(r *rand.Rand) string {
	n := r.IntN(24)
	var b strings.Builder
	for range n {
		b.WriteRune(testAlphabet[r.IntN(len(testAlphabet))])
	}
	return b.String()
}

// TestSplittersMatchPatterns checks every pre-tokenizer against its
// original pattern(s) on the llama.cpp vocab test inputs and on random
// text.
func TestSplittersMatchPatterns(t *testing.T) {
	res := compilePatterns(t)
	var inputs []string
	if p, ok := fixture.Path("tokenizer/ggml-vocab-gpt-2.gguf.inp"); ok {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = strings.Split(string(b), "\n__ggml_vocab_test__\n")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		inputs = append(inputs, randomText(r))
	}
	for _, in := range inputs {
		if comparable(in) {
			checkAgainstRegex(t, res, in)
		}
	}
}

// FuzzSplitters compares the splitters with the patterns on any text:
//
//	go test ./engine/tokenizer -run '^$' -fuzz FuzzSplitters -fuzztime 60s -parallel 1
func FuzzSplitters(f *testing.F) {
	for _, s := range []string{"Hello world", "  a\n\n b", "3333 'S 'll", "\u00a0 x", "a\r\n\r\n  \tb"} {
		f.Add(s)
	}
	res := compilePatterns(f)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 256 || !comparable(text) {
			return
		}
		checkAgainstRegex(t, res, text)
	})
}

// BenchmarkSplit compares the qwen2 splitter with regexp2 running the
// original pattern, on 64 KB of the same kind of text.
func BenchmarkSplit(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var sb strings.Builder
	for sb.Len() < 64<<10 {
		sb.WriteString(randomText(r))
		sb.WriteString(" the quick brown fox, isn't it? 12345\n")
	}
	text := sb.String()
	b.Run("splitter", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			splitterWords(preTokenizers["qwen2"], text)
		}
	})
	b.Run("regexp2", func(b *testing.B) {
		res := compilePatterns(b)["qwen2"]
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			regexWords(b, res, text)
		}
	})
}
