package tokenizer

import (
	"fmt"
	"strings"
)

// Piece returns the text token id stands for, as llama.cpp's
// llama_token_to_piece with special tokens rendered: the stored text of
// control, unknown and user-defined tokens, the decoded text of normal
// tokens (byte-level characters back to bytes for gpt2, U+2581 back to
// space for llama), the byte of <0xNN> tokens, and "" for unused and
// undefined tokens or an id out of range. A piece of a byte-level
// vocabulary may be part of a UTF-8 sequence only.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Decode returns the text of ids: their pieces joined, with the space the
// llama model adds in front of the text taken off the first piece again
// (llama_detokenize with special tokens rendered and no space clean-up;
// see the package documentation).
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		p := t.Piece(id)
		if i == 0 && t.addSpace {
			p = strings.TrimPrefix(p, " ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// piece computes Piece(id) once, at New.
func (t *Tokenizer) piece(id int32) string {
	text, a := t.tokens[id], t.attrs[id]
	switch {
	case a&(attrControl|attrUnknown|attrUserDefined) != 0:
		return text
	case a&attrNormal != 0:
		if t.model == ModelLlama {
			return strings.ReplaceAll(text, spmSpace, " ")
		}
		return unmapByteLevel(text)
	case a&attrByte != 0:
		return string([]byte{hexByte(text)})
	}
	return ""
}

// unmapByteLevel turns a byte-level token back into its bytes. A
// character outside the byte alphabet is written as llama.cpp's
// llama_decode_text writes it: "[UNK_BYTE_0x" + its UTF-8 in hex + the
// whole token text + "]".
func unmapByteLevel(text string) string {
	var out []byte
	for _, r := range decodeRunes(nil, text) {
		if b, ok := charBytes[r]; ok {
			out = append(out, b)
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for _, c := range appendRune(nil, r) {
			out = fmt.Appendf(out, "%02x", c)
		}
		out = append(out, text...)
		out = append(out, ']')
	}
	return string(out)
}

// hexByte reads the NN of a "<0xNN>" byte token the way llama.cpp does
// (strtol of the two characters after "<0x", stopping at a non-digit).
func hexByte(text string) byte {
	var v byte
	for i := 3; i < 5 && i < len(text); i++ {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return v
		}
	}
	return v
}
