package tokenizer

import "strings"

// bpeModel holds the merges of a byte-level BPE vocabulary over interned
// strings: every string that occurs in a merge (both parts and the result)
// and every byte's character has a small integer id, so merging compares
// integers instead of building strings. Interned strings are what
// llama.cpp compares, so the ids change nothing in the result.
type bpeModel struct {
	merges   map[uint64]bpeMerge // (left id, right id) -> merge
	byteSym  [256]int32          // intern id of each byte's character
	symToken []int32             // intern id -> token id, -1 if no token
	// byteToken is the token for a one-byte string, -1 if none: llama.cpp
	// spells out a final piece that is no token byte by byte this way.
	byteToken [256]int32
}

type bpeMerge struct {
	rank   int32
	result int32 // intern id of left+right
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// newBPEModel interns the merges. A merge is split at its first space
// after the first byte; one without such a space is the pair ("", ""), and
// of repeated pairs the first rank counts, as in llama.cpp.
func newBPEModel(merges []string, ids map[string]int32) *bpeModel {
	m := &bpeModel{merges: make(map[uint64]bpeMerge, len(merges))}
	intern := make(map[string]int32, 2*len(merges)+256)
	idOf := func(s string) int32 {
		if id, ok := intern[s]; ok {
			return id
		}
		id := int32(len(m.symToken))
		intern[s] = id
		tok, ok := ids[s]
		if !ok {
			tok = -1
		}
		m.symToken = append(m.symToken, tok)
		return id
	}
	for b := range 256 {
		m.byteSym[b] = idOf(byteChars[b])
		m.byteToken[b] = -1
		if tok, ok := ids[string([]byte{byte(b)})]; ok {
			m.byteToken[b] = tok
		}
	}
	for rank, s := range merges {
		var left, right string
		if len(s) > 0 {
			if i := strings.IndexByte(s[1:], ' '); i >= 0 {
				left, right = s[:i+1], s[i+2:]
			}
		}
		key := pairKey(idOf(left), idOf(right))
		if _, dup := m.merges[key]; dup {
			continue
		}
		m.merges[key] = bpeMerge{rank: int32(rank), result: idOf(left + right)}
	}
	return m
}

// bpeSym is one piece of a word while merging: the bytes [start, end) of
// the word (empty once merged into its left neighbour), as intern id sym.
type bpeSym struct {
	sym        int32
	start, end int32
	prev, next int32 // neighbours, -1 at the ends
}

// bpePair is a candidate merge of the pieces left and right, valid while
// both still hold the strings they held when it was queued.
type bpePair struct {
	rank, left, right, lsym, rsym, result int32
}

// bpeState is the scratch space of one word; pooled by the tokenizer.
type bpeState struct {
	syms  []bpeSym
	queue mergeQueue[bpePair] // lowest rank first, then leftmost (bpeBefore)
}

// bpeBefore orders merges: lowest rank first, then leftmost.
func bpeBefore(a, b *bpePair) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

// queuePair queues the merge of pieces left and right if there is one.
func (m *bpeModel) queuePair(st *bpeState, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := st.syms[left].sym, st.syms[right].sym
	mg, ok := m.merges[pairKey(l, r)]
	if !ok {
		return
	}
	st.queue.push(bpePair{rank: mg.rank, left: left, right: right, lsym: l, rsym: r, result: mg.result})
}

// encodeWord appends the tokens of one pre-tokenized word (raw bytes) to
// out, as llama.cpp's llm_tokenizer_bpe_session: start from one piece per
// byte, merge the best-ranked adjacent pair until none is left, then look
// each piece up. A piece that is no token is spelled byte by byte through
// one-byte tokens, and whatever has none is dropped, as llama.cpp does.
func (m *bpeModel) encodeWord(out []int32, w []byte, st *bpeState) []int32 {
	if len(w) == 0 {
		return out
	}
	st.syms = st.syms[:0]
	st.queue.reset(bpeBefore)
	for i, b := range w {
		st.syms = append(st.syms, bpeSym{sym: m.byteSym[b], start: int32(i), end: int32(i + 1), prev: int32(i - 1), next: int32(i + 1)})
	}
	st.syms[len(st.syms)-1].next = -1
	for i := 1; i < len(st.syms); i++ {
		m.queuePair(st, int32(i-1), int32(i))
	}
	for st.queue.Len() > 0 {
		p := st.queue.pop()
		l, r := &st.syms[p.left], &st.syms[p.right]
		if l.start == l.end || r.start == r.end || l.sym != p.lsym || r.sym != p.rsym {
			continue // outdated: one side has changed since it was queued
		}
		l.sym, l.end = p.result, r.end
		r.end = r.start
		l.next = r.next
		if r.next >= 0 {
			st.syms[r.next].prev = p.left
		}
		m.queuePair(st, l.prev, p.left)
		m.queuePair(st, p.left, l.next)
	}
	for i := int32(0); i >= 0; i = st.syms[i].next {
		s := &st.syms[i]
		if tok := m.symToken[s.sym]; tok >= 0 {
			out = append(out, tok)
			continue
		}
		for _, b := range w[s.start:s.end] {
			for _, c := range []byte(byteChars[b]) {
				if tok := m.byteToken[c]; tok >= 0 {
					out = append(out, tok)
				}
			}
		}
	}
	return out
}
