package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
)

// APR metadata keys of the tokenizer (specs/apr-v2.md). aprender's GGUF
// importer copies the GGUF values under these names.
const (
	aprVocabulary = "tokenizer.vocabulary"
	aprModel      = "tokenizer.model"
	aprModelType  = "tokenizer.model_type" // the SafeTensors importer's name for it
	aprPre        = "tokenizer.pre_type"
	aprMerges     = "tokenizer.merges"
	aprScores     = "tokenizer.scores"
	aprTypes      = "tokenizer.token_type"
	aprBOS        = "tokenizer.bos_token_id"
	aprEOS        = "tokenizer.eos_token_id"
	aprPAD        = "tokenizer.padding_token_id"
	aprAddBOS     = "tokenizer.add_bos_token"
	aprSpecial    = "special_tokens"
)

// FromAPR builds the tokenizer described by decoded APR metadata JSON (one
// object; numbers as float64 or json.Number, as encoding/json gives them).
func FromAPR(meta map[string]any) (*Tokenizer, error) {
	v, err := VocabFromAPR(meta)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// VocabFromAPR reads the tokenizer.* keys of APR metadata into a Vocab,
// with llama.cpp's defaults for what is absent or null. When the file has
// no token types, the tokens named in "special_tokens" are taken as
// control tokens, so that ParseSpecial still finds them.
func VocabFromAPR(meta map[string]any) (Vocab, error) {
	m := metaVocab{keys: aprKeys}
	var err error
	if m.tokens, err = aprStrings(meta, aprVocabulary); err != nil {
		return Vocab{}, err
	}
	if m.tokens == nil {
		return Vocab{}, fmt.Errorf("tokenizer: APR metadata has no %s", aprVocabulary)
	}
	for _, key := range []string{aprModel, aprModelType} {
		if m.model, err = aprString(meta, key); err != nil {
			return Vocab{}, err
		}
		if m.model != "" {
			break
		}
	}
	if m.pre, err = aprString(meta, aprPre); err != nil {
		return Vocab{}, err
	}
	if m.merges, err = aprStrings(meta, aprMerges); err != nil {
		return Vocab{}, err
	}
	m.hasMerges = m.merges != nil
	if m.scores, err = aprNumbers(meta, aprScores, func(x float64) (float32, bool) { return float32(x), true }); err != nil {
		return Vocab{}, err
	}
	if m.types, err = aprNumbers(meta, aprTypes, func(x float64) (int32, bool) {
		return int32(x), x == math.Trunc(x) && x >= math.MinInt32 && x <= math.MaxInt32
	}); err != nil {
		return Vocab{}, err
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{{aprBOS, &m.bos}, {aprEOS, &m.eos}, {aprPAD, &m.pad}} {
		if *f.dst, err = aprInt(meta, f.key); err != nil {
			return Vocab{}, err
		}
	}
	if b, ok := meta[aprAddBOS].(bool); ok {
		m.addBOS = &b
	} else if meta[aprAddBOS] != nil {
		return Vocab{}, fmt.Errorf("tokenizer: APR metadata %s: %T, want bool", aprAddBOS, meta[aprAddBOS])
	}
	if m.types == nil {
		m.types = specialTypes(meta, m.tokens)
	}
	return m.vocab()
}

// specialTypes marks the tokens whose text "special_tokens" names as
// control tokens (nil if it names none).
func specialTypes(meta map[string]any, tokens []string) []int32 {
	sp, _ := meta[aprSpecial].(map[string]any)
	names := map[string]bool{}
	for _, v := range sp {
		if s, ok := v.(string); ok && s != "" {
			names[s] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	types := make([]int32, len(tokens))
	for i, s := range tokens {
		types[i] = TypeNormal
		if names[s] {
			types[i] = TypeControl
		}
	}
	return types
}

func aprString(meta map[string]any, key string) (string, error) {
	switch v := meta[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("tokenizer: APR metadata %s: %T, want string", key, v)
	}
}

// aprStrings returns an array of strings (nil when absent or null).
func aprStrings(meta map[string]any, key string) ([]string, error) {
	switch v := meta[key].(type) {
	case nil:
		return nil, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("tokenizer: APR metadata %s[%d]: %T, want string", key, i, x)
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, fmt.Errorf("tokenizer: APR metadata %s: %T, want array of strings", key, v)
	}
}

// aprNumbers returns an array of numbers converted by conv (nil when
// absent or null).
func aprNumbers[T any](meta map[string]any, key string, conv func(float64) (T, bool)) ([]T, error) {
	raw := meta[key]
	if raw == nil {
		return nil, nil
	}
	arr, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("tokenizer: APR metadata %s: %T, want array of numbers", key, raw)
	}
	out := make([]T, len(arr))
	for i, x := range arr {
		f, ok := number(x)
		if ok {
			out[i], ok = conv(f)
		}
		if !ok {
			return nil, fmt.Errorf("tokenizer: APR metadata %s[%d]: bad value %v", key, i, x)
		}
	}
	return out, nil
}

// aprInt returns an integer value (nil when absent or null).
func aprInt(meta map[string]any, key string) (*int64, error) {
	raw := meta[key]
	if raw == nil {
		return nil, nil
	}
	f, ok := number(raw)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, fmt.Errorf("tokenizer: APR metadata %s: bad integer %v", key, raw)
	}
	i := int64(f)
	return &i, nil
}

func number(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}
