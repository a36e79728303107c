package tokenizer

import "unicode"

// class is the part of a code point's Unicode category that the
// pre-tokenizers look at.
type class uint8

const (
	classOther  class = iota // punctuation, symbols, marks, controls, unassigned
	classLetter              // \p{L}
	classNumber              // \p{N}
	classSpace               // White_Space (\s in llama.cpp's tables)
	classEnd                 // past the end of the fragment (never stored)
)

// asciiClass is classify for code points below 128; it is what llama.cpp's
// tables and its collapsed std::regex text agree on: letters are A-Z a-z,
// digits 0-9, whitespace \t \n \v \f \r and space.
var asciiClass = func() (t [128]class) {
	for c := range t {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			t[c] = classLetter
		case c >= '0' && c <= '9':
			t[c] = classNumber
		case c == ' ', c >= '\t' && c <= '\r':
			t[c] = classSpace
		}
	}
	return t
}()

// cjkExtI is the one letter range llama.cpp's Unicode 15.1 tables have and
// Go's Unicode 15.0 tables lack.
var cjkExtI = &unicode.RangeTable{R32: []unicode.Range32{{Lo: 0x2EBF0, Hi: 0x2EE5D, Stride: 1}}}

// classify returns the class of code point r. Code points past U+10FFFF
// (which llama.cpp's lenient UTF-8 decoder can produce) are classOther, as
// llama.cpp's "undefined" flag is.
func classify(r rune) class {
	if r < 128 {
		return asciiClass[r]
	}
	switch {
	case r > unicode.MaxRune:
		return classOther
	case unicode.IsSpace(r): // exactly the White_Space property above Latin-1
		return classSpace
	case unicode.IsLetter(r), unicode.Is(cjkExtI, r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	}
	return classOther
}

// decodeRunes appends the code points of s to dst the way llama.cpp's
// unicode_cpts_from_utf8 reads them: a lead byte with enough continuation
// bytes is accepted without checking for overlong forms, surrogates or
// values past U+10FFFF, and any other byte becomes U+FFFD on its own.
// Go's utf8 package rejects more, which would change the tokens of such
// text, so this is written out.
func decodeRunes(dst []rune, s string) []rune {
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b < 0x80:
			dst = append(dst, rune(b))
			i++
			continue
		case b&0x40 == 0: // stray continuation byte
		case b&0x20 == 0:
			if i+1 < len(s) && isCont(s[i+1]) {
				dst = append(dst, rune(b&0x1f)<<6|rune(s[i+1]&0x3f))
				i += 2
				continue
			}
		case b&0x10 == 0:
			if i+2 < len(s) && isCont(s[i+1]) && isCont(s[i+2]) {
				dst = append(dst, rune(b&0x0f)<<12|rune(s[i+1]&0x3f)<<6|rune(s[i+2]&0x3f))
				i += 3
				continue
			}
		case b&0x08 == 0:
			if i+3 < len(s) && isCont(s[i+1]) && isCont(s[i+2]) && isCont(s[i+3]) {
				dst = append(dst, rune(b&0x07)<<18|rune(s[i+1]&0x3f)<<12|rune(s[i+2]&0x3f)<<6|rune(s[i+3]&0x3f))
				i += 4
				continue
			}
		}
		dst = append(dst, 0xFFFD)
		i++
	}
	return dst
}

func isCont(b byte) bool { return b&0xc0 == 0x80 }

// appendRune appends the UTF-8 form of r as llama.cpp's unicode_cpt_to_utf8
// writes it (surrogates are encoded like any other code point). llama.cpp
// throws on values past U+10FFFF; they are written as U+FFFD here.
func appendRune(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, 0xc0|byte(r>>6), 0x80|byte(r)&0x3f)
	case r < 0x10000:
		return append(dst, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	case r <= unicode.MaxRune:
		return append(dst, 0xf0|byte(r>>18), 0x80|byte(r>>12)&0x3f, 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return append(dst, 0xef, 0xbf, 0xbd)
}

// byteChars maps each byte to the printable character GPT-2's byte-level
// BPE writes for it: bytes that are printable Latin-1 stand for
// themselves, the other 68 take the code points from U+0100 on, in byte
// order (bytes_to_unicode in GPT-2's encoder.py).
var byteChars, charBytes = func() (enc [256]string, dec map[rune]byte) {
	dec = make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if !printable {
			r = next
			next++
		}
		enc[b] = string(r)
		dec[r] = byte(b)
	}
	return enc, dec
}()
