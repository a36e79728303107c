package tokenizer_test

import (
	"fmt"
	"testing"

	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/google/go-cmp/cmp"
)

// spmVocab is a small SentencePiece BPE vocabulary built by hand, laid out
// as SentencePiece models are: <unk>, <s>, </s>, the 256 byte-fallback
// pieces <0x00>..<0xFF>, then scored pieces.
func spmVocab() (tokenizer.Vocab, map[string]int32) {
	v := tokenizer.Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true}
	ids := map[string]int32{}
	add := func(s string, typ int32, score float32) {
		ids[s] = int32(len(v.Tokens))
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, typ)
		v.Scores = append(v.Scores, score)
	}
	add("<unk>", tokenizer.TypeUnknown, 0)
	add("<s>", tokenizer.TypeControl, 0)
	add("</s>", tokenizer.TypeControl, 0)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), tokenizer.TypeByte, 0)
	}
	for _, p := range []struct {
		s     string
		score float32
	}{
		{"▁", -10}, {"t", -10}, {"h", -10}, {"e", -10}, {"c", -10}, {"a", -10},
		{"▁t", -1}, {"he", -2}, {"▁the", -0.5}, {"at", -3}, {"▁c", -4}, {"▁cat", -0.1}, {"ca", -0.2},
	} {
		add(p.s, tokenizer.TypeNormal, p.score)
	}
	return v, ids
}

// TestSPM follows SentencePiece's BPE encoding (bpe_model.cc, as
// llama.cpp's llm_tokenizer_spm_session implements it): spaces become
// U+2581 and one is prepended (add_dummy_prefix); the adjacent pair whose
// join is a piece with the highest score merges first; a character that
// is no piece falls back to its UTF-8 bytes as <0xNN> pieces.
func TestSPM(t *testing.T) {
	v, ids := spmVocab()
	tok := mustNew(t, v)
	byName := func(names ...string) []int32 {
		out := []int32{}
		for _, n := range names {
			id, ok := ids[n]
			if !ok {
				t.Fatalf("no piece %q", n)
			}
			out = append(out, id)
		}
		return out
	}
	for _, tc := range []struct {
		text string
		opts tokenizer.EncodeOptions
		want []int32
	}{
		// ▁the▁cat: c+a (-0.2) first, then ▁+t (-1), h+e (-2), ▁t+he
		// (-0.5). "▁cat" (-0.1) is never formed: "▁"+"ca" is no piece.
		{"the cat", tokenizer.EncodeOptions{}, byName("▁the", "▁", "ca", "t")},
		// é is no piece: its bytes C3 A9.
		{"é", tokenizer.EncodeOptions{}, byName("▁", "<0xC3>", "<0xA9>")},
		// BOS from add_bos; a control token's text is only special when
		// parsed, and the text after it gets the space prefix again.
		{"a", tokenizer.EncodeOptions{AddSpecial: true}, byName("<s>", "▁", "a")},
		{"a</s>a", tokenizer.EncodeOptions{ParseSpecial: true}, byName("▁", "a", "</s>", "▁", "a")},
	} {
		got := tok.Encode(tc.text, tc.opts)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q %+v (-want +got):\n%s", tc.text, tc.opts, diff)
		}
	}
	// Decoding drops the prefixed space again and turns bytes back.
	for _, text := range []string{"the cat", "é", " cat  at", "the\nhé"} {
		if got := tok.Decode(tok.Encode(text, tokenizer.EncodeOptions{})); got != text {
			t.Errorf("Decode(Encode(%q)) = %q", text, got)
		}
	}
	if got := tok.Piece(ids["<0x41>"]); got != "A" {
		t.Errorf("Piece(<0x41>) = %q, want A", got)
	}
}
