package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Token types, as GGUF's tokenizer.ggml.token_type stores them
// (llama_token_type).
const (
	TypeUndefined   int32 = 0
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// Models: the values of tokenizer.ggml.model implemented here.
const (
	ModelGPT2  = "gpt2"  // byte-level BPE
	ModelLlama = "llama" // SentencePiece-style BPE with byte fallback
)

// Errors callers may test for.
var (
	// ErrUnknownModel: tokenizer.ggml.model names a model not implemented.
	ErrUnknownModel = errors.New("tokenizer: unknown tokenizer model")
	// ErrUnknownPreTokenizer: tokenizer.ggml.pre names a pre-tokenizer not
	// implemented (the message lists the known ones).
	ErrUnknownPreTokenizer = errors.New("tokenizer: unknown pre-tokenizer")
	// ErrBadVocab: the vocabulary is inconsistent (lengths, ids, duplicates).
	ErrBadVocab = errors.New("tokenizer: bad vocabulary")
)

// Vocab is a tokenizer as model metadata describes it, independent of the
// container format. FromGGUF and FromAPR fill it, with llama.cpp's defaults
// for whatever the metadata leaves out; New takes it literally.
type Vocab struct {
	Model string // ModelGPT2 or ModelLlama
	Pre   string // pre-tokenizer name (gpt2 only; "" means "default")

	Tokens []string  // token text, index = id
	Types  []int32   // Type* per token; nil means all TypeNormal
	Scores []float32 // per token (llama merges by score); nil means all 0
	Merges []string  // "left right", rank = index (gpt2)

	BOS, EOS, UNK, PAD int32 // token ids, -1 if none

	AddBOS, AddEOS bool // what EncodeOptions.AddSpecial adds
	// AddSpacePrefix prepends a space to text (llama: at the start and
	// after every special token), as SentencePiece's add_dummy_prefix.
	AddSpacePrefix bool

	// Name (general.name) and Arch (general.architecture) select the
	// per-model token attributes llama.cpp sets (llama_vocab::impl::load):
	// a name containing "phi-3" or "phi3" makes every special token but
	// <unk>, <s> and <|endoftext|> (and </s>) strip the whitespace after
	// it; jina-v2 pre-tokenizers, nomic-bert-moe and jina-bert-v3 make
	// <mask> strip the whitespace before it, modern-bert names [MASK].
	Name, Arch string
}

// Token attributes (llama_token_attr), derived from the types.
type attr uint16

const (
	attrUnknown attr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	// attrLStrip and attrRStrip: partition drops the whitespace before
	// (after) the token, as llama.cpp's LLAMA_TOKEN_ATTR_LSTRIP/RSTRIP.
	attrLStrip
	attrRStrip
)

func attrOfType(t int32) attr {
	switch t {
	case TypeNormal:
		return attrNormal
	case TypeUnknown:
		return attrUnknown
	case TypeControl:
		return attrControl
	case TypeUserDefined:
		return attrUserDefined
	case TypeUnused:
		return attrUnused
	case TypeByte:
		return attrByte
	}
	return 0 // undefined: llama.cpp renders such tokens as nothing
}

// alwaysRendered lists gpt-oss's structural tokens, which llama.cpp makes
// user-defined whatever their type ("quick hack for gpt-oss, always render
// these tokens" in llama_vocab::impl::load): they are matched in text
// even without special parsing.
var alwaysRendered = map[string]bool{"<|channel|>": true, "<|message|>": true, "<|start|>": true, "<|constrain|>": true}

// controlLooking lists token texts llama.cpp marks as control tokens even
// when the file says otherwise (end-of-turn, end-of-generation and
// fill-in-the-middle tokens, found by text in llama_vocab::impl::load).
var controlLooking = map[string]bool{}

func init() {
	for _, s := range []string{
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
		"<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
		"<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
		"<｜end▁of▁sentence｜>", "[e~[",
		"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>",
		"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>",
		"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>",
		"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
		"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
		"<|file_sep|>",
	} {
		controlLooking[s] = true
	}
}

// Tokenizer encodes text to token ids and back. It is safe for concurrent
// use.
type Tokenizer struct {
	model string
	pre   preTokenizer // gpt2 only

	tokens []string
	attrs  []attr
	scores []float32
	ids    map[string]int32 // token text -> id
	pieces []string         // what each token decodes to

	special []int32 // control, user-defined and unknown tokens, longest first

	bpe *bpeModel // gpt2 only

	bos, eos, unk, pad       int32
	addBOS, addEOS, addSpace bool
}

// New builds a tokenizer from v. It fails with ErrUnknownModel,
// ErrUnknownPreTokenizer or ErrBadVocab.
func New(v Vocab) (*Tokenizer, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, fmt.Errorf("%w: Tokens is empty", ErrBadVocab)
	}
	if v.Types != nil && len(v.Types) < n {
		return nil, fmt.Errorf("%w: Types has %d entries for %d tokens", ErrBadVocab, len(v.Types), n)
	}
	if v.Scores != nil && len(v.Scores) < n {
		return nil, fmt.Errorf("%w: Scores has %d entries for %d tokens", ErrBadVocab, len(v.Scores), n)
	}
	t := &Tokenizer{
		model:    v.Model,
		tokens:   make([]string, n),
		attrs:    make([]attr, n),
		scores:   make([]float32, n),
		ids:      make(map[string]int32, n),
		addBOS:   v.AddBOS,
		addEOS:   v.AddEOS,
		addSpace: v.AddSpacePrefix,
	}
	for i, s := range v.Tokens {
		if s == "" { // llama.cpp names empty tokens so they stay distinct
			s = fmt.Sprintf("[EMPTY_%d]", i)
		}
		if j, dup := t.ids[s]; dup {
			return nil, fmt.Errorf("%w: token %q has ids %d and %d", ErrBadVocab, s, j, i)
		}
		t.ids[s] = int32(i)
		t.tokens[i] = s
		t.attrs[i] = attrNormal
		if v.Types != nil {
			t.attrs[i] = attrOfType(v.Types[i])
		}
		if v.Scores != nil {
			t.scores[i] = v.Scores[i]
		}
		if controlLooking[s] {
			t.attrs[i] |= attrControl
		}
		if alwaysRendered[s] {
			t.attrs[i] = attrUserDefined
		}
	}
	var err error
	if t.bos, err = checkID("BOS", v.BOS, n); err != nil {
		return nil, err
	}
	if t.eos, err = checkID("EOS", v.EOS, n); err != nil {
		return nil, err
	}
	if t.unk, err = checkID("UNK", v.UNK, n); err != nil {
		return nil, err
	}
	if t.pad, err = checkID("PAD", v.PAD, n); err != nil {
		return nil, err
	}
	if t.addBOS && t.bos < 0 {
		return nil, fmt.Errorf("%w: AddBOS is set but BOS is not", ErrBadVocab)
	}
	if t.addEOS && t.eos < 0 {
		return nil, fmt.Errorf("%w: AddEOS is set but EOS is not", ErrBadVocab)
	}

	switch v.Model {
	case ModelGPT2:
		if t.pre, err = lookupPreTokenizer(v.Pre, "Pre"); err != nil {
			return nil, err
		}
		t.bpe = newBPEModel(v.Merges, t.ids)
	case ModelLlama:
	default:
		return nil, fmt.Errorf("%w %q in Model (known: %s, %s)", ErrUnknownModel, v.Model, ModelGPT2, ModelLlama)
	}

	for id := range t.tokens {
		if t.attrs[id]&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(id))
		}
	}
	// Longest first, so that a special token containing another wins.
	// llama.cpp's std::sort leaves ties unordered; they are by id here.
	sort.SliceStable(t.special, func(a, b int) bool {
		return len(t.tokens[t.special[a]]) > len(t.tokens[t.special[b]])
	})

	t.setModelAttrs(v)

	t.pieces = make([]string, n)
	for id := range t.pieces {
		t.pieces[id] = t.piece(int32(id))
	}
	return t, nil
}

// checkID returns id if it names a token or is -1.
func checkID(field string, id int32, n int) (int32, error) {
	if id < -1 || id >= int32(n) {
		return -1, fmt.Errorf("%w: %s id %d outside the %d tokens", ErrBadVocab, field, id, n)
	}
	return id, nil
}

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id (-1 if none).
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token id (-1 if none).
func (t *Tokenizer) EOS() int32 { return t.eos }

// Token returns the stored text of token id ("" if id is out of range).
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// setModelAttrs applies llama.cpp's per-model lstrip/rstrip rules (see
// Vocab.Name). A token a rule names that the vocabulary lacks is skipped
// (llama.cpp throws for the phi-3 ones).
func (t *Tokenizer) setModelAttrs(v Vocab) {
	set := func(tok string, a attr, on bool) {
		id, ok := t.ids[tok]
		if !ok {
			return
		}
		if on {
			t.attrs[id] |= a
		} else {
			t.attrs[id] &^= a
		}
	}
	name := strings.ToLower(v.Name)
	has := func(s string, subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has(v.Pre, "jina-v2-de", "jina-v2-es", "jina-v2-code") || has(v.Arch, "nomic-bert-moe", "jina-bert-v3"):
		set("<mask>", attrLStrip, true)
	case has(name, "phi-3", "phi3"):
		for _, id := range t.special {
			t.attrs[id] |= attrRStrip
		}
		set("</s>", attrRStrip, true)
		for _, tok := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			set(tok, attrRStrip, false)
		}
	case has(name, "modern-bert"):
		set("[MASK]", attrLStrip, true)
	}
}
