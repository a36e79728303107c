package tokenizer_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/google/go-cmp/cmp"
)

// aprMetadataFromGGUF writes a GGUF file's tokenizer as aprender's GGUF
// importer does (specs/apr-v2.md: tokenizer.* top-level keys) and reads it
// back through JSON, as an APR reader would get it.
func aprMetadataFromGGUF(t *testing.T, md *gguf.Metadata) map[string]any {
	t.Helper()
	meta := map[string]any{}
	copyKey := func(apr, key string, get func(string) (any, error)) {
		if !md.Has(key) {
			return
		}
		v, err := get(key)
		if err != nil {
			t.Fatal(err)
		}
		meta[apr] = v
	}
	str := func(k string) (any, error) { return md.String(k) }
	strs := func(k string) (any, error) { return md.Strings(k) }
	ints := func(k string) (any, error) { return md.Ints(k) }
	uint_ := func(k string) (any, error) { return md.Uint(k) }
	bool_ := func(k string) (any, error) { return md.Bool(k) }
	copyKey("tokenizer.model", gguf.KeyTokenizerModel, str)
	copyKey("tokenizer.pre_type", gguf.KeyTokenizerPre, str)
	copyKey("tokenizer.vocabulary", gguf.KeyTokenizerTokens, strs)
	copyKey("tokenizer.merges", gguf.KeyTokenizerMerges, strs)
	copyKey("tokenizer.token_type", gguf.KeyTokenizerTypes, ints)
	copyKey("tokenizer.bos_token_id", gguf.KeyTokenizerBOS, uint_)
	copyKey("tokenizer.eos_token_id", gguf.KeyTokenizerEOS, uint_)
	copyKey("tokenizer.padding_token_id", gguf.KeyTokenizerPAD, uint_)
	copyKey("tokenizer.add_bos_token", gguf.KeyTokenizerAddBOS, bool_)
	meta["rope_theta"] = nil
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFromAPR: the qwen2-tiny tokenizer carried in APR metadata gives the
// fixture's ids for the contract prompt and for ChatML markers.
func TestFromAPR(t *testing.T) {
	_, f := openTokenizer(t, "models/qwen2-tiny-q4_k_m.gguf")
	meta := aprMetadataFromGGUF(t, f.Metadata)
	tok, err := tokenizer.FromAPR(meta)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{3838, 374, 220, 17, 10, 17, 30}
	if diff := cmp.Diff(want, tok.Encode("What is 2+2?", tokenizer.EncodeOptions{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := tok.Encode("<|im_start|>", tokenizer.EncodeOptions{ParseSpecial: true}); !cmp.Equal(got, []int32{4097}) {
		t.Errorf("<|im_start|> = %v, want [4097]", got)
	}

	// Without token types, special_tokens names the control tokens.
	delete(meta, "tokenizer.token_type")
	meta["special_tokens"] = map[string]any{"im_start_token": "<|im_start|>", "bos_token": nil}
	tok, err = tokenizer.FromAPR(meta)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("<|im_start|>", tokenizer.EncodeOptions{ParseSpecial: true}); !cmp.Equal(got, []int32{4097}) {
		t.Errorf("without token_type: <|im_start|> = %v, want [4097]", got)
	}

	for name, edit := range map[string]func(map[string]any){
		"no vocabulary": func(m map[string]any) { delete(m, "tokenizer.vocabulary") },
		"bad merges":    func(m map[string]any) { m["tokenizer.merges"] = []any{"a b", 3.0} },
		"bad bos":       func(m map[string]any) { m["tokenizer.bos_token_id"] = "one" },
		"unknown pre":   func(m map[string]any) { m["tokenizer.pre_type"] = "nope" },
	} {
		m := aprMetadataFromGGUF(t, f.Metadata)
		edit(m)
		if _, err := tokenizer.FromAPR(m); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "unknown pre" && !errors.Is(err, tokenizer.ErrUnknownPreTokenizer) {
			t.Errorf("%s: %v, want ErrUnknownPreTokenizer", name, err)
		}
	}
}
