package tokenizer

import (
	"strings"
	"sync"
)

// EncodeOptions are the two switches of llama_tokenize.
type EncodeOptions struct {
	// AddSpecial adds BOS and/or EOS where the vocabulary asks for them
	// (Vocab.AddBOS, Vocab.AddEOS).
	AddSpecial bool
	// ParseSpecial recognizes the text of control and unknown tokens
	// (e.g. "<|im_start|>") in the input. User-defined tokens are always
	// recognized, as in llama.cpp and Hugging Face tokenizers.
	ParseSpecial bool
}

// fragment is a stretch of the input: raw text [start, end) or, if tok is
// not -1, one special token.
type fragment struct {
	tok        int32
	start, end int
}

// Encode returns the token ids of text, as llama.cpp's llama_tokenize with
// the same options. It never fails: bytes that are not valid UTF-8 are
// tokenized as U+FFFD, as llama.cpp does.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) []int32 {
	var out []int32
	if opts.AddSpecial && t.addBOS {
		out = append(out, t.bos)
	}
	isPrevSpecial := true // llama: a space goes before the text and after specials
	for _, f := range t.partition(text, opts.ParseSpecial) {
		if f.tok >= 0 {
			out = append(out, f.tok)
			isPrevSpecial = true
			continue
		}
		switch t.model {
		case ModelGPT2:
			out = t.encodeBPE(out, text[f.start:f.end])
		case ModelLlama:
			s := text[f.start:f.end]
			if t.addSpace && isPrevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(out, strings.ReplaceAll(s, " ", spmSpace))
		}
		isPrevSpecial = false
	}
	if opts.AddSpecial && t.addEOS {
		out = append(out, t.eos)
	}
	return out
}

// partition cuts text at special tokens, as llama.cpp's
// tokenizer_st_partition: each special token in turn (longest first) is
// searched for in every stretch of raw text left, left to right. Control
// and unknown tokens take part only when parseSpecial is set.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{tok: -1, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.special {
		if !parseSpecial && t.attrs[id]&(attrControl|attrUnknown) != 0 {
			continue
		}
		word := t.tokens[id]
		if !strings.Contains(text, word) {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.tok >= 0 {
				next = append(next, f)
				continue
			}
			lstrip, rstrip := t.attrs[id]&attrLStrip != 0, t.attrs[id]&attrRStrip != 0
			for f.start < f.end {
				i := strings.Index(text[f.start:f.end], word)
				if i < 0 {
					break
				}
				left := f.start + i
				if lstrip {
					for left > f.start && isCSpace(text[left-1]) {
						left--
					}
				}
				if left > f.start {
					next = append(next, fragment{tok: -1, start: f.start, end: left})
				}
				next = append(next, fragment{tok: id})
				f.start += i + len(word)
				if rstrip {
					for f.start < f.end && isCSpace(text[f.start]) {
						f.start++
					}
				}
			}
			if f.start < f.end {
				next = append(next, f)
			}
		}
		frags, next = next, frags
	}
	return frags
}

// isCSpace is C's isspace in the "C" locale, which llama.cpp's lstrip and
// rstrip test byte by byte.
func isCSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r'
}

// bpeScratch is the per-call scratch space of encodeBPE.
type bpeScratch struct {
	cp       []rune
	cls      []class
	words    []int
	tmp      []int
	word     []byte
	mapped   []byte
	bpeState bpeState
}

var bpeScratchPool = sync.Pool{New: func() any { return new(bpeScratch) }}

// encodeBPE tokenizes one fragment of raw text with the byte-level BPE:
// pre-tokenize into words, then merge each word's bytes.
func (t *Tokenizer) encodeBPE(out []int32, text string) []int32 {
	sc := bpeScratchPool.Get().(*bpeScratch)
	defer bpeScratchPool.Put(sc)

	sc.cp = decodeRunes(sc.cp[:0], text)
	sc.cls = sc.cls[:0]
	for _, r := range sc.cp {
		sc.cls = append(sc.cls, classify(r))
	}
	sc.words, sc.tmp = t.pre.split(sc.cp, sc.cls, sc.words, sc.tmp)

	start := 0
	for _, n := range sc.words {
		// Words are rebuilt from the code points, as in llama.cpp, so
		// invalid UTF-8 reaches the merges as U+FFFD.
		sc.word = sc.word[:0]
		for _, r := range sc.cp[start : start+n] {
			sc.word = appendRune(sc.word, r)
		}
		start += n
		if t.pre.ignoreMerges {
			sc.mapped = sc.mapped[:0]
			for _, b := range sc.word {
				sc.mapped = append(sc.mapped, byteChars[b]...)
			}
			if tok, ok := t.ids[string(sc.mapped)]; ok {
				out = append(out, tok)
				continue
			}
		}
		out = t.bpe.encodeWord(out, sc.word, &sc.bpeState)
	}
	return out
}
