package tokenizer_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/google/go-cmp/cmp"
)

// gpt2ByteChar is GPT-2's bytes_to_unicode (encoder.py): printable Latin-1
// bytes stand for themselves, the others map to U+0100 on in byte order.
func gpt2ByteChar(b byte) string {
	printable := func(c int) bool {
		return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)
	}
	if printable(int(b)) {
		return string(rune(b))
	}
	n := 0
	for c := 0; c < int(b); c++ {
		if !printable(c) {
			n++
		}
	}
	return string(rune(256 + n))
}

// bpeVocab builds a byte-level BPE vocabulary: the 256 byte characters
// (ids 0-255 in byte order), then extra tokens with their types, and the
// merges in rank order.
type bpeVocab struct {
	v   tokenizer.Vocab
	ids map[string]int32
}

func newBPEVocab(pre string, merges []string, extra ...string) *bpeVocab {
	bv := &bpeVocab{v: tokenizer.Vocab{Model: "gpt2", Pre: pre, Merges: merges, BOS: -1, EOS: -1, UNK: -1, PAD: -1}, ids: map[string]int32{}}
	for b := range 256 {
		bv.add(gpt2ByteChar(byte(b)), tokenizer.TypeNormal)
	}
	for _, s := range extra {
		bv.add(s, tokenizer.TypeNormal)
	}
	return bv
}

func (bv *bpeVocab) add(s string, typ int32) int32 {
	id := int32(len(bv.v.Tokens))
	bv.v.Tokens = append(bv.v.Tokens, s)
	bv.v.Types = append(bv.v.Types, typ)
	bv.ids[s] = id
	return id
}

// id returns the id of a token given in plain text (spaces as Ġ etc.).
func (bv *bpeVocab) id(t *testing.T, plain string) int32 {
	t.Helper()
	var enc strings.Builder
	for _, b := range []byte(plain) {
		enc.WriteString(gpt2ByteChar(b))
	}
	id, ok := bv.ids[enc.String()]
	if !ok {
		if id, ok = bv.ids[plain]; !ok {
			t.Fatalf("no token %q", plain)
		}
	}
	return id
}

func (bv *bpeVocab) plainIDs(t *testing.T, plain ...string) []int32 {
	out := []int32{}
	for _, p := range plain {
		out = append(out, bv.id(t, p))
	}
	return out
}

func mustNew(t *testing.T, v tokenizer.Vocab) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBPEMerges follows the byte-level BPE definition (Sennrich et al.;
// GPT-2's encoder.py bpe()): the adjacent pair with the lowest merge rank
// is merged first, the leftmost of equal pairs first, until no pair has a
// rank.
func TestBPEMerges(t *testing.T) {
	bv := newBPEVocab("gpt-2",
		[]string{"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "a a", "b c", "a b", "x y"},
		"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "aa", "bc", "ab")
	tok := mustNew(t, bv.v)
	for _, tc := range []struct {
		text string
		want []string
	}{
		// hello: h+e, l+l, he+ll, hell+o. " world": Ġ+w, o+r, Ġw+or, l+d;
		// "Ġwor"+"ld" has no merge.
		{"hello world", []string{"hello", " wor", "ld"}},
		// Equal pairs: the leftmost merges first.
		{"aaa", []string{"aa", "a"}},
		// Rank, not position: b+c (rank 9) before a+b (rank 10).
		{"abc", []string{"a", "bc"}},
		// "x y" merges, but "xy" is no token: llama.cpp spells the piece
		// out through one-byte tokens.
		{"xy", []string{"x", "y"}},
	} {
		got := tok.Encode(tc.text, tokenizer.EncodeOptions{})
		if diff := cmp.Diff(bv.plainIDs(t, tc.want...), got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.text, diff)
		}
		if back := tok.Decode(got); back != tc.text {
			t.Errorf("Decode(Encode(%q)) = %q", tc.text, back)
		}
	}
}

// TestBPEPieceWithoutToken: a merged piece that is no token is spelled out
// byte by byte through one-byte token strings (llama.cpp's
// llm_tokenizer_bpe_session::tokenize); the byte-level characters of "é"
// are two bytes each, so nothing matches and llama.cpp emits nothing.
func TestBPEPieceWithoutToken(t *testing.T) {
	bv := newBPEVocab("gpt-2", []string{gpt2ByteChar(0xC3) + " " + gpt2ByteChar(0xA9)})
	tok := mustNew(t, bv.v)
	if got := tok.Encode("é", tokenizer.EncodeOptions{}); len(got) != 0 {
		t.Errorf("Encode(é) = %v, want none", got)
	}
}

// TestSpecialTokens follows llama.cpp's tokenizer_st_partition: control
// tokens are recognized only with ParseSpecial, user-defined tokens always,
// longer ones before shorter ones.
func TestSpecialTokens(t *testing.T) {
	bv := newBPEVocab("gpt-2", nil)
	imStart := bv.add("<|im_start|>", tokenizer.TypeControl)
	tool := bv.add("<tool>", tokenizer.TypeUserDefined)
	toolCall := bv.add("<tool><call>", tokenizer.TypeUserDefined)
	tok := mustNew(t, bv.v)

	plain := func(s string) []int32 {
		var ids []int32
		for _, b := range []byte(s) {
			ids = append(ids, bv.ids[gpt2ByteChar(b)])
		}
		return ids
	}
	cat := func(parts ...[]int32) []int32 {
		out := []int32{}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		text  string
		parse bool
		want  []int32
	}{
		{"<|im_start|>hi", false, plain("<|im_start|>hi")},
		{"<|im_start|>hi", true, cat([]int32{imStart}, plain("hi"))},
		{"a<tool>b", false, cat(plain("a"), []int32{tool}, plain("b"))},
		{"<tool><call><tool>", false, []int32{toolCall, tool}},
	} {
		got := tok.Encode(tc.text, tokenizer.EncodeOptions{ParseSpecial: tc.parse})
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q parse=%v (-want +got):\n%s", tc.text, tc.parse, diff)
		}
		if back := tok.Decode(got); back != tc.text {
			t.Errorf("Decode(Encode(%q)) = %q", tc.text, back)
		}
	}
}

// TestIgnoreMerges: Llama 3's pre-tokenizer takes a word that is a token
// as it is, without merging (llama.cpp's ignore_merges); gpt-2's merges it.
func TestIgnoreMerges(t *testing.T) {
	for _, tc := range []struct {
		pre  string
		want []string
	}{
		{"gpt-2", []string{"h", "i"}},
		{"llama-bpe", []string{"hi"}},
	} {
		bv := newBPEVocab(tc.pre, nil, "hi")
		tok := mustNew(t, bv.v)
		if diff := cmp.Diff(bv.plainIDs(t, tc.want...), tok.Encode("hi", tokenizer.EncodeOptions{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.pre, diff)
		}
	}
}

func TestAddSpecial(t *testing.T) {
	bv := newBPEVocab("gpt-2", nil)
	bos := bv.add("<s>", tokenizer.TypeControl)
	eos := bv.add("</s>", tokenizer.TypeControl)
	bv.v.BOS, bv.v.EOS, bv.v.AddBOS, bv.v.AddEOS = bos, eos, true, true
	tok := mustNew(t, bv.v)
	a := bv.ids[gpt2ByteChar('a')]
	if diff := cmp.Diff([]int32{bos, a, eos}, tok.Encode("a", tokenizer.EncodeOptions{AddSpecial: true})); diff != "" {
		t.Errorf("AddSpecial (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{a}, tok.Encode("a", tokenizer.EncodeOptions{})); diff != "" {
		t.Errorf("no AddSpecial (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	base := func() tokenizer.Vocab { return newBPEVocab("gpt-2", nil).v }
	for _, tc := range []struct {
		name   string
		edit   func(*tokenizer.Vocab)
		want   error
		inText string
	}{
		{"unknown pre", func(v *tokenizer.Vocab) { v.Pre = "no-such-pre" }, tokenizer.ErrUnknownPreTokenizer, "qwen2"},
		{"unknown model", func(v *tokenizer.Vocab) { v.Model = "rwkv" }, tokenizer.ErrUnknownModel, "rwkv"},
		{"duplicate", func(v *tokenizer.Vocab) { v.Tokens[1] = v.Tokens[0] }, tokenizer.ErrBadVocab, "ids 0 and 1"},
		{"short types", func(v *tokenizer.Vocab) { v.Types = v.Types[:3] }, tokenizer.ErrBadVocab, "Types"},
		{"bos range", func(v *tokenizer.Vocab) { v.BOS = 9999 }, tokenizer.ErrBadVocab, "BOS"},
		{"add bos without bos", func(v *tokenizer.Vocab) { v.AddBOS = true }, tokenizer.ErrBadVocab, "AddBOS"},
		{"empty", func(v *tokenizer.Vocab) { v.Tokens = nil }, tokenizer.ErrBadVocab, "empty"},
	} {
		v := base()
		tc.edit(&v)
		_, err := tokenizer.New(v)
		if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.inText) {
			t.Errorf("%s: error %v, want %v mentioning %q", tc.name, err, tc.want, tc.inText)
		}
	}
}
