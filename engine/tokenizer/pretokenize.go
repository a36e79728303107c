package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// splitter cuts one fragment of code points (with their classes) into
// words, appending each word's length in code points to out. The lengths
// add up to len(cp).
type splitter func(out []int, cp []rune, cls []class) []int

// preTokenizer is what a tokenizer.ggml.pre name selects in llama.cpp:
// the splitters applied in turn (each to every piece the previous one
// made) and the vocabulary flags llama.cpp sets with it.
type preTokenizer struct {
	name   string
	stages []splitter
	// ignoreMerges: a word that is a token as a whole is emitted without
	// running the merges (llama.cpp's ignore_merges, set for Llama 3).
	ignoreMerges bool
	// addBOS is llama.cpp's default for tokenizer.ggml.add_bos_token.
	addBOS bool
}

// preTokenizers maps tokenizer.ggml.pre values to pre-tokenizers. Only
// names whose llama.cpp behaviour is fully reproduced here are listed;
// several names share one pre-tokenizer, as they do in llama-vocab.cpp.
var preTokenizers = func() map[string]preTokenizer {
	gpt2 := []splitter{splitGPT2}
	llama3 := []splitter{splitLlama3}
	qwen2 := []splitter{splitQwen2}
	def := []splitter{splitDefaultPunct, splitGPT2, splitDefaultDigits, splitASCIITriples}
	m := map[string]preTokenizer{}
	add := func(p preTokenizer, names ...string) {
		for _, n := range names {
			p.name = n
			m[n] = p
		}
	}
	add(preTokenizer{stages: def}, "default")
	// Names llama-vocab.cpp maps to one pre-tokenizer type with the same
	// flags are listed together; flags that only affect decoding
	// (clean_spaces) or llama_vocab_get_add_sep (add_sep) do not matter
	// here.
	add(preTokenizer{stages: gpt2}, "gpt-2", "phi-2", "mpt", "olmo",
		"jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
		"jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "jais", "trillion", "granite-docling")
	add(preTokenizer{stages: llama3, ignoreMerges: true, addBOS: true}, "llama3", "llama-v3", "llama-bpe", "falcon3",
		"falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano")
	add(preTokenizer{stages: llama3}, "dbrx", "smaug-bpe")
	add(preTokenizer{stages: qwen2}, "qwen2", "deepseek-r1-qwen", "stablelm2", "kormo", "f2llmv2", "megrez", "hunyuan", "solar-open")
	// command-r differs from starcoder only in llama.cpp's clean_spaces, a
	// decoding pass Decode never applies.
	add(preTokenizer{stages: []splitter{splitEachNumber, splitGPT2}}, "starcoder", "refact", "command-r",
		"smollm", "codeshell", "exaone", "minerva-7b", "mellum2")
	add(preTokenizer{stages: []splitter{splitFalconPunct, splitGPT2, splitASCIITriples}}, "falcon")
	add(preTokenizer{stages: []splitter{splitQwen35}}, "qwen35")
	// deepseek-coder's clean_spaces = false only affects decoding.
	add(preTokenizer{stages: []splitter{splitEachNewline, splitDSCoderLetters, splitDSCoderPunct, splitCJKRuns, splitEachNumber}}, "deepseek-coder")
	return m
}()

// KnownPreTokenizers returns the tokenizer.ggml.pre values this package
// implements, sorted.
func KnownPreTokenizers() []string {
	names := make([]string, 0, len(preTokenizers))
	for n := range preTokenizers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupPreTokenizer returns the pre-tokenizer for name, read from the
// field where. An empty name is "default", as in llama.cpp (which warns
// that quality will suffer).
func lookupPreTokenizer(name, where string) (preTokenizer, error) {
	if name == "" {
		name = "default"
	}
	p, ok := preTokenizers[name]
	if !ok {
		return preTokenizer{}, fmt.Errorf("%w %q in %s (known: %s)", ErrUnknownPreTokenizer, name, where, strings.Join(KnownPreTokenizers(), ", "))
	}
	return p, nil
}

// split runs the stages over one fragment and returns the word lengths.
func (p *preTokenizer) split(cp []rune, cls []class, buf, tmp []int) (words, spare []int) {
	words = append(buf[:0], len(cp))
	for _, stage := range p.stages {
		tmp = tmp[:0]
		start := 0
		for _, n := range words {
			tmp = stage(tmp, cp[start:start+n], cls[start:start+n])
			start += n
		}
		words, tmp = tmp, words
	}
	return words, tmp
}

// cutter records word boundaries for a splitter: cut(end) closes the word
// that runs from the previous cut to end (empty words are dropped).
type cutter struct {
	out  []int
	prev int
}

func (c *cutter) cut(end int) int {
	if n := end - c.prev; n > 0 {
		c.out = append(c.out, n)
	}
	c.prev = end
	return end
}

func classAt(cls []class, i int) class {
	if i < len(cls) {
		return cls[i]
	}
	return classEnd
}

func lowerASCII(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// contraction returns the length (2 or 3) of 's 't 'm 'd 're 've 'll at the
// start of cp, or 0. fold makes it case-insensitive.
func contraction(cp []rune, fold bool) int {
	if len(cp) < 2 || cp[0] != '\'' {
		return 0
	}
	lower := func(r rune) rune { return r }
	if fold {
		// llama.cpp lowers with its Unicode table; no non-ASCII code point
		// lowers to one of these letters, so ASCII folding is the same.
		lower = lowerASCII
	}
	switch lower(cp[1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if len(cp) >= 3 {
		switch a, b := lower(cp[1]), lower(cp[2]); {
		case a == 'r' && b == 'e', a == 'v' && b == 'e', a == 'l' && b == 'l':
			return 3
		}
	}
	return 0
}

// spaceRun measures the whitespace run starting at pos: its end, and the
// end of its last \r or \n (-1 if none).
func spaceRun(cp []rune, cls []class, pos int) (end, afterNewline int) {
	afterNewline = -1
	end = pos
	for end < len(cp) && cls[end] == classSpace {
		if cp[end] == '\r' || cp[end] == '\n' {
			afterNewline = end + 1
		}
		end++
	}
	return end, afterNewline
}

// splitGPT2 is GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// as llama.cpp's unicode_regex_split_custom_gpt2 applies it.
func splitGPT2(out []int, cp []rune, cls []class) []int {
	c := cutter{out: out}
	for pos := 0; pos < len(cp); {
		if n := contraction(cp[pos:], false); n > 0 {
			pos = c.cut(pos + n)
			continue
		}
		// " ?X+" for X one of letter, number, other: the class that counts
		// is the one after an optional leading space.
		start, k := pos, cls[pos]
		if cp[pos] == ' ' {
			start, k = pos+1, classAt(cls, pos+1)
		}
		if k == classLetter || k == classNumber || k == classOther {
			end := start + 1
			for end < len(cp) && cls[end] == k {
				end++
			}
			pos = c.cut(end)
			continue
		}
		pos = c.cut(cutSpaces(cp, cls, pos))
	}
	return c.out
}

// cutSpaces is `\s+(?!\S)|\s+` at pos: a whitespace run followed by a
// non-space keeps its last character for the next word (where it becomes
// the " ?" of " ?\p{L}+" and the like). A position that is no whitespace
// (unreachable from the splitters) is a word of one code point.
func cutSpaces(cp []rune, cls []class, pos int) int {
	end, _ := spaceRun(cp, cls, pos)
	switch {
	case end-pos > 1 && end < len(cp):
		return end - 1
	case end > pos:
		return end
	}
	return pos + 1
}

// splitLlama3 is Llama 3's pattern (digits in groups of up to three).
func splitLlama3(out []int, cp []rune, cls []class) []int { return splitLlama3Like(out, cp, cls, 3) }

// splitQwen2 is Qwen2's pattern (every digit alone).
func splitQwen2(out []int, cp []rune, cls []class) []int { return splitLlama3Like(out, cp, cls, 1) }

// splitQwen35 is Qwen3.5's pattern, Qwen2's with combining marks (\p{M})
// joining letters:
//
//	(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// llama.cpp runs it with std::regex over its collapsed text, where a mark
// is its own category byte. A mark in the optional leading character is
// also caught by the letter run that must follow, so reading marks as
// letters walks the text the same way.
func splitQwen35(out []int, cp []rune, cls []class) []int {
	withMarks := make([]class, len(cls))
	for i, k := range cls {
		if k == classOther && cp[i] >= 128 && unicode.Is(unicode.M, cp[i]) {
			k = classLetter
		}
		withMarks[i] = k
	}
	return splitQwen2(out, cp, withMarks)
}

// splitLlama3Like is the pattern
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// with D = maxDigits. For D = 3 it is llama.cpp's
// unicode_regex_split_custom_llama3. For D = 1 (qwen2) llama.cpp runs the
// pattern with std::regex over its collapsed text; since every code point
// of that text is a letter, digit, whitespace or other, and each of those
// is matched by one alternative, the result is the same walk with single
// digits.
func splitLlama3Like(out []int, cp []rune, cls []class, maxDigits int) []int {
	c := cutter{out: out}
	for pos := 0; pos < len(cp); {
		r, k := cp[pos], cls[pos]
		if n := contraction(cp[pos:], true); n > 0 {
			pos = c.cut(pos + n)
			continue
		}
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if r != '\r' && r != '\n' && k != classNumber && (k == classLetter || classAt(cls, pos+1) == classLetter) {
			end := pos + 1
			for end < len(cp) && cls[end] == classLetter {
				end++
			}
			pos = c.cut(end)
			continue
		}
		// \p{N}{1,D}
		if k == classNumber {
			end := pos + 1
			for end < len(cp) && end-pos < maxDigits && cls[end] == classNumber {
				end++
			}
			pos = c.cut(end)
			continue
		}
		// " ?[^\s\p{L}\p{N}]+[\r\n]*"
		start, k2 := pos, k
		if r == ' ' {
			start, k2 = pos+1, classAt(cls, pos+1)
		}
		if k2 == classOther {
			end := start + 1
			for end < len(cp) && cls[end] == classOther {
				end++
			}
			for end < len(cp) && (cp[end] == '\r' || cp[end] == '\n') {
				end++
			}
			pos = c.cut(end)
			continue
		}
		// \s*[\r\n]+ : through the last newline of the whitespace run
		if _, nl := spaceRun(cp, cls, pos); nl > 0 {
			pos = c.cut(nl)
			continue
		}
		pos = c.cut(cutSpaces(cp, cls, pos))
	}
	return c.out
}

// splitRuns is std::regex_iterator over a pattern `[set]+`: maximal runs
// of members are words, and so is each stretch between them.
func splitRuns(out []int, cp []rune, cls []class, member func(rune, class) bool) []int {
	c := cutter{out: out}
	for pos := 0; pos < len(cp); {
		if !member(cp[pos], cls[pos]) {
			pos++
			continue
		}
		c.cut(pos)
		for pos < len(cp) && member(cp[pos], cls[pos]) {
			pos++
		}
		c.cut(pos)
	}
	c.cut(len(cp))
	return c.out
}

// splitDefaultPunct is default's first pattern, `[\p{P}\$\+<=>\^~\|]+`,
// on llama.cpp's collapsed text: every ASCII punctuation or symbol
// character except the backtick, and any non-ASCII code point of category
// P.
func splitDefaultPunct(out []int, cp []rune, cls []class) []int {
	return splitRuns(out, cp, cls, func(r rune, k class) bool {
		if r < 128 {
			return r > ' ' && r < 0x7f && r != '`' && asciiClass[r] == classOther
		}
		return k != classSpace && unicode.IsPunct(r)
	})
}

// splitFalconPunct is falcon's first pattern, `[\p{P}\$\+<=>\^~\|`]+`:
// default's with the backtick.
func splitFalconPunct(out []int, cp []rune, cls []class) []int {
	return splitRuns(out, cp, cls, func(r rune, k class) bool {
		if r < 128 {
			return r > ' ' && r < 0x7f && asciiClass[r] == classOther
		}
		return k != classSpace && unicode.IsPunct(r)
	})
}

// splitEachNumber is starcoder's and refact's `\p{N}`: every number code
// point is a word of its own.
func splitEachNumber(out []int, cp []rune, cls []class) []int {
	c := cutter{out: out}
	for pos := range cp {
		if cls[pos] == classNumber {
			c.cut(pos)
			c.cut(pos + 1)
		}
	}
	c.cut(len(cp))
	return c.out
}

// The deepseek-coder stages. llama.cpp runs the ones with a Unicode
// category through std::regex over its collapsed text, where \s is C's
// isspace on ASCII bytes and every non-ASCII whitespace code point (a
// vertical tab there); the CJK ranges run through std::wregex on the text.

// splitEachNewline is `[\r\n]`: each carriage return or line feed alone.
func splitEachNewline(out []int, cp []rune, _ []class) []int {
	c := cutter{out: out}
	for pos, r := range cp {
		if r == '\r' || r == '\n' {
			c.cut(pos)
			c.cut(pos + 1)
		}
	}
	c.cut(len(cp))
	return c.out
}

// collapsedSpace is std::regex's \s on llama.cpp's collapsed text.
func collapsedSpace(r rune, k class) bool {
	if r < 128 {
		return isCSpace(byte(r))
	}
	return k == classSpace
}

// collapsedPunct is \p{P} on the collapsed text: ASCII
// !"#%&'()*,-./:;?@[\]_{} and non-ASCII punctuation (category P).
func collapsedPunct(r rune, k class) bool {
	if r < 128 {
		return strings.ContainsRune("!\"#%&'()*,-./:;?@[\\]_{}", r)
	}
	return k != classSpace && unicode.IsPunct(r)
}

// splitSpaceThenRun is `\s?X+` for the class X given by member: leftmost
// matches, each a word, with what lies between as words.
func splitSpaceThenRun(out []int, cp []rune, cls []class, member func(rune, class) bool) []int {
	c := cutter{out: out}
	for pos := 0; pos < len(cp); {
		start := pos
		if collapsedSpace(cp[pos], cls[pos]) && pos+1 < len(cp) && member(cp[pos+1], cls[pos+1]) {
			pos++
		} else if !member(cp[pos], cls[pos]) {
			pos++
			continue
		}
		c.cut(start)
		for pos < len(cp) && member(cp[pos], cls[pos]) {
			pos++
		}
		c.cut(pos)
	}
	c.cut(len(cp))
	return c.out
}

// splitDSCoderLetters is `\s?\p{L}+`.
func splitDSCoderLetters(out []int, cp []rune, cls []class) []int {
	return splitSpaceThenRun(out, cp, cls, func(_ rune, k class) bool { return k == classLetter })
}

// splitDSCoderPunct is `\s?\p{P}+`.
func splitDSCoderPunct(out []int, cp []rune, cls []class) []int {
	return splitSpaceThenRun(out, cp, cls, collapsedPunct)
}

// splitCJKRuns is `[一-龥ࠀ-一가-퟿]+`: runs of U+4E00..U+9FA5,
// U+0800..U+4E00 and U+AC00..U+D7FF.
func splitCJKRuns(out []int, cp []rune, cls []class) []int {
	return splitRuns(out, cp, cls, func(r rune, _ class) bool {
		return (r >= 0x0800 && r <= 0x9FA5) || (r >= 0xAC00 && r <= 0xD7FF)
	})
}

// splitDefaultDigits is default's `\p{N}+`.
func splitDefaultDigits(out []int, cp []rune, cls []class) []int {
	return splitRuns(out, cp, cls, func(_ rune, k class) bool { return k == classNumber })
}

// splitASCIITriples is default's `[0-9][0-9][0-9]`: three ASCII digits at
// a time from the left; whatever lies between matches is a word.
func splitASCIITriples(out []int, cp []rune, _ []class) []int {
	c := cutter{out: out}
	digit := func(i int) bool { return i < len(cp) && cp[i] >= '0' && cp[i] <= '9' }
	for pos := 0; pos < len(cp); {
		if digit(pos) && digit(pos+1) && digit(pos+2) {
			c.cut(pos)
			pos = c.cut(pos + 3)
			continue
		}
		pos++
	}
	c.cut(len(cp))
	return c.out
}
