package engine

import (
	"errors"
	"fmt"

	"github.com/falsify/falsify/engine/tokenizer"
)

// Tokenizer returns the model's tokenizer, built from its metadata on the
// first call (GGUF tokenizer.ggml.* keys or APR tokenizer.* keys).
func (m *Model) Tokenizer() (*tokenizer.Tokenizer, error) {
	m.tokOnce.Do(func() {
		switch {
		case m.GGUFMetadata != nil:
			m.tok, m.tokErr = tokenizer.FromGGUF(m.GGUFMetadata)
		case m.APRMetadata != nil:
			m.tok, m.tokErr = tokenizer.FromAPR(m.APRMetadata)
		default:
			m.tokErr = errors.New("model has no tokenizer metadata")
		}
		if m.tokErr != nil {
			m.tokErr = fmt.Errorf("engine: %s: tokenizer: %w", m.Path, m.tokErr)
		}
	})
	return m.tok, m.tokErr
}

// Tokenize turns a prompt into tokens the way llama.cpp's tokenizer does
// for contract prompts: no BOS/EOS added, special tokens not parsed.
func (m *Model) Tokenize(text string) ([]int32, error) {
	tok, err := m.Tokenizer()
	if err != nil {
		return nil, err
	}
	return tok.Encode(text, tokenizer.EncodeOptions{}), nil
}
