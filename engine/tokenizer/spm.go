package tokenizer

import "fmt"

// spmSpace is SentencePiece's stand-in for a space (U+2581).
const spmSpace = "\u2581"

// spmSym is one piece of the text while merging: text[start:start+n].
type spmSym struct {
	start, n   int
	prev, next int
}

// spmPair is a candidate merge of the pieces left and right whose joined
// text is a token with the given score; valid while the pieces still have
// the lengths they had when it was queued (size is their sum).
type spmPair struct {
	left, right int
	score       float32
	size        int
}

// spmSession is llama.cpp's llm_tokenizer_spm_session for one fragment.
type spmSession struct {
	t        *Tokenizer
	text     string
	syms     []spmSym
	queue    mergeQueue[spmPair] // highest score first, then leftmost (spmBefore)
	revMerge map[string][2]int
}

// encodeSPM appends the tokens of one fragment (spaces already replaced by
// U+2581) to out. The text is cut into UTF-8 characters by their lead byte
// (without validation, as llama.cpp does), adjacent pieces whose join is a
// token are merged best score first, and pieces that are no token are
// taken apart again along the merges that made them or, failing that,
// written as <0xNN> byte tokens.
func (t *Tokenizer) encodeSPM(out []int32, text string) []int32 {
	s := &spmSession{t: t, text: text, revMerge: map[string][2]int{}, queue: mergeQueue[spmPair]{before: spmBefore}}
	for offs := 0; offs < len(text); {
		n := min(utf8Len(text[offs]), len(text)-offs)
		s.syms = append(s.syms, spmSym{start: offs, n: n, prev: len(s.syms) - 1, next: len(s.syms) + 1})
		offs += n
	}
	if len(s.syms) == 0 {
		return out
	}
	s.syms[len(s.syms)-1].next = -1
	for i := 1; i < len(s.syms); i++ {
		s.tryPair(i-1, i)
	}
	for s.queue.Len() > 0 {
		p := s.queue.pop()
		l, r := &s.syms[p.left], &s.syms[p.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != p.size {
			continue // one side has changed since it was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = p.left
		}
		s.tryPair(l.prev, p.left)
		s.tryPair(p.left, l.next)
	}
	for i := 0; i != -1; i = s.syms[i].next {
		out = s.resegment(out, i, 0)
	}
	return out
}

// utf8Len is the length of a UTF-8 sequence by its lead byte alone.
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

func (s *spmSession) symText(i int) string {
	return s.text[s.syms[i].start : s.syms[i].start+s.syms[i].n]
}

func (s *spmSession) tryPair(left, right int) {
	if left < 0 || right < 0 {
		return
	}
	joined := s.text[s.syms[left].start : s.syms[right].start+s.syms[right].n]
	tok, ok := s.t.ids[joined]
	if !ok {
		return
	}
	s.queue.push(spmPair{left: left, right: right, score: s.t.scores[tok], size: len(joined)})
	s.revMerge[joined] = [2]int{left, right}
}

// maxResegmentDepth bounds the walk back along merges; llama.cpp has no
// bound, but a legitimate walk is never deeper than the text is long.
const maxResegmentDepth = 1 << 12

func (s *spmSession) resegment(out []int32, i, depth int) []int32 {
	text := s.symText(i)
	if tok, ok := s.t.ids[text]; ok {
		return append(out, tok)
	}
	if p, ok := s.revMerge[text]; ok && depth < maxResegmentDepth {
		out = s.resegment(out, p[0], depth+1)
		return s.resegment(out, p[1], depth+1)
	}
	for j := 0; j < len(text); j++ {
		if tok := s.t.byteToken(text[j]); tok >= 0 {
			out = append(out, tok)
		}
	}
	return out
}

// byteToken is llama.cpp's byte_to_token for SentencePiece vocabularies:
// the <0xNN> token, else the one-byte token. llama.cpp aborts when neither
// exists; the unknown token (or nothing) stands in here.
func (t *Tokenizer) byteToken(b byte) int32 {
	if tok, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
		return tok
	}
	if tok, ok := t.ids[string([]byte{b})]; ok {
		return tok
	}
	return t.unk
}

// spmBefore orders merges: highest score first, then leftmost.
func spmBefore(a, b *spmPair) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}
