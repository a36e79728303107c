package tokenizer

import (
	"errors"
	"fmt"
	"math"

	"github.com/falsify/falsify/engine/gguf"
)

// metaVocab is a vocabulary as read from metadata, before llama.cpp's
// defaults fill what the file leaves out (nil pointers).
type metaVocab struct {
	model, pre               string
	tokens                   []string
	types                    []int32
	scores                   []float32
	merges                   []string
	hasMerges                bool
	bos, eos, unk, pad       *int64
	addBOS, addEOS, addSpace *bool
	keys                     keyNames // for error messages
}

// keyNames are the metadata keys a metaVocab was read from.
type keyNames struct{ model, pre, merges string }

var (
	ggufKeys = keyNames{gguf.KeyTokenizerModel, gguf.KeyTokenizerPre, gguf.KeyTokenizerMerges}
	aprKeys  = keyNames{aprModel, aprPre, aprMerges}
)

// vocab applies llama.cpp's defaults (llama_vocab::impl::load): for llama,
// BOS 1, EOS 2, UNK 0, add BOS and a space prefix; for gpt2, BOS and EOS
// 11, no UNK, add BOS only for the Llama 3 pre-tokenizers. A default id
// past the vocabulary means none; a stored id past it is ignored in
// favour of the default, as llama.cpp does (with a warning).
func (m *metaVocab) vocab() (Vocab, error) {
	v := Vocab{Model: m.model, Pre: m.pre, Tokens: m.tokens, Types: m.types, Scores: m.scores, Merges: m.merges,
		UNK: -1, PAD: -1}
	var defBOS, defEOS, defUNK int32 = -1, -1, -1
	switch m.model {
	case ModelLlama:
		defBOS, defEOS, defUNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case ModelGPT2:
		if !m.hasMerges {
			return Vocab{}, fmt.Errorf("%w: model gpt2 without %s", ErrBadVocab, m.keys.merges)
		}
		pre, err := lookupPreTokenizer(m.pre, m.keys.pre)
		if err != nil {
			return Vocab{}, err
		}
		defBOS, defEOS = 11, 11
		v.AddBOS = pre.addBOS
	default:
		return Vocab{}, fmt.Errorf("%w %q in %s (known: %s, %s)", ErrUnknownModel, m.model, m.keys.model, ModelGPT2, ModelLlama)
	}
	n := int64(len(m.tokens))
	pick := func(def int32, stored *int64) int32 {
		if def >= int32(min(n, math.MaxInt32)) {
			def = -1
		}
		if stored != nil && *stored >= 0 && *stored < n {
			return int32(*stored)
		}
		return def
	}
	v.BOS, v.EOS, v.UNK, v.PAD = pick(defBOS, m.bos), pick(defEOS, m.eos), pick(defUNK, m.unk), pick(-1, m.pad)
	if m.addBOS != nil {
		v.AddBOS = *m.addBOS
	}
	if m.addEOS != nil {
		v.AddEOS = *m.addEOS
	}
	if m.addSpace != nil {
		v.AddSpacePrefix = *m.addSpace
	}
	return v, nil
}

// FromGGUF builds the tokenizer described by a GGUF file's tokenizer.ggml.*
// keys.
func FromGGUF(md *gguf.Metadata) (*Tokenizer, error) {
	v, err := VocabFromGGUF(md)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// VocabFromGGUF reads the tokenizer.ggml.* keys into a Vocab, with
// llama.cpp's defaults for the keys that are absent.
func VocabFromGGUF(md *gguf.Metadata) (Vocab, error) {
	m := metaVocab{keys: ggufKeys}
	var err error
	if m.model, err = md.String(gguf.KeyTokenizerModel); err != nil {
		return Vocab{}, fmt.Errorf("tokenizer: %w", err)
	}
	if m.pre, err = optional(md.String(gguf.KeyTokenizerPre)); err != nil {
		return Vocab{}, fmt.Errorf("tokenizer: %w", err)
	}
	if m.tokens, err = md.Strings(gguf.KeyTokenizerTokens); err != nil {
		return Vocab{}, fmt.Errorf("tokenizer: %w", err)
	}
	if md.Has(gguf.KeyTokenizerTypes) {
		ints, err := md.Ints(gguf.KeyTokenizerTypes)
		if err != nil {
			return Vocab{}, fmt.Errorf("tokenizer: %w", err)
		}
		if m.types, err = int32s(gguf.KeyTokenizerTypes, ints); err != nil {
			return Vocab{}, err
		}
	}
	if md.Has(gguf.KeyTokenizerScores) {
		if m.scores, err = ggufScores(md); err != nil {
			return Vocab{}, err
		}
	}
	if md.Has(gguf.KeyTokenizerMerges) {
		if m.merges, err = md.Strings(gguf.KeyTokenizerMerges); err != nil {
			return Vocab{}, fmt.Errorf("tokenizer: %w", err)
		}
		m.hasMerges = true
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{
		{gguf.KeyTokenizerBOS, &m.bos}, {gguf.KeyTokenizerEOS, &m.eos},
		{gguf.KeyTokenizerUNK, &m.unk}, {gguf.KeyTokenizerPAD, &m.pad},
	} {
		if !md.Has(f.key) {
			continue
		}
		u, err := md.Uint(f.key)
		if err != nil {
			return Vocab{}, fmt.Errorf("tokenizer: %w", err)
		}
		id := int64(min(u, math.MaxInt64))
		*f.dst = &id
	}
	for _, f := range []struct {
		key string
		dst **bool
	}{
		{gguf.KeyTokenizerAddBOS, &m.addBOS}, {gguf.KeyTokenizerAddEOS, &m.addEOS}, {gguf.KeyTokenizerAddPrefix, &m.addSpace},
	} {
		if !md.Has(f.key) {
			continue
		}
		b, err := md.Bool(f.key)
		if err != nil {
			return Vocab{}, fmt.Errorf("tokenizer: %w", err)
		}
		*f.dst = &b
	}
	v, err := m.vocab()
	if err != nil {
		return v, err
	}
	// general.name and general.architecture select llama.cpp's per-model
	// token attribute rules (Vocab.Name).
	if v.Name, err = optional(md.String(gguf.KeyName)); err != nil {
		return Vocab{}, fmt.Errorf("tokenizer: %w", err)
	}
	if v.Arch, err = optional(md.String(gguf.KeyArchitecture)); err != nil {
		return Vocab{}, fmt.Errorf("tokenizer: %w", err)
	}
	return v, nil
}

// ggufScores reads tokenizer.ggml.scores, stored as float32 (or, in some
// files, int32, which llama.cpp also accepts).
func ggufScores(md *gguf.Metadata) ([]float32, error) {
	if f, err := md.Float32s(gguf.KeyTokenizerScores); err == nil {
		return f, nil
	}
	if f, err := md.Floats(gguf.KeyTokenizerScores); err == nil {
		out := make([]float32, len(f))
		for i, x := range f {
			out[i] = float32(x)
		}
		return out, nil
	}
	ints, err := md.Ints(gguf.KeyTokenizerScores)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	out := make([]float32, len(ints))
	for i, x := range ints {
		out[i] = float32(x)
	}
	return out, nil
}

// optional turns a missing key into the zero value.
func optional[T any](v T, err error) (T, error) {
	if errors.Is(err, gguf.ErrKeyNotFound) {
		var zero T
		return zero, nil
	}
	return v, err
}

func int32s(field string, in []int64) ([]int32, error) {
	out := make([]int32, len(in))
	for i, x := range in {
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, fmt.Errorf("tokenizer: %s[%d] = %d does not fit int32", field, i, x)
		}
		out[i] = int32(x)
	}
	return out, nil
}
