// Package tokenizer turns text into the token ids a model was trained on,
// and back, exactly as llama.cpp does (llama-vocab.cpp, unicode.cpp), from
// the vocabulary stored in model metadata (GGUF tokenizer.ggml.* keys, APR
// tokenizer.* keys).
//
// Two models are implemented:
//
//   - "gpt2": byte-level BPE. Text is first cut at special tokens, then
//     split into words by the pre-tokenizer named in tokenizer.ggml.pre,
//     each word's bytes are mapped to GPT-2's printable byte alphabet and
//     merged pairwise by merge rank (lowest first, leftmost on ties).
//   - "llama": SentencePiece-style BPE. Spaces become U+2581, a space is
//     prepended, adjacent pieces are merged by vocabulary score (highest
//     first, leftmost on ties), and pieces that are no token fall back to
//     <0xNN> byte tokens.
//
// # Pre-tokenizers are hand-written splitters, not regular expressions
//
// The pre-tokenizer patterns of these vocabularies need lookahead
// (`\s+(?!\S)`), which Go's regexp lacks. A backtracking library
// (github.com/dlclark/regexp2) could run the patterns, but llama.cpp itself
// does not run them: for gpt-2 and llama-bpe it uses hand-written splitters
// (unicode.cpp), and for qwen2 and default it runs std::regex over a
// "collapsed" text in which every non-ASCII code point is replaced by one
// byte standing for its category. Being identical to llama.cpp means
// reproducing those splitters and that collapsing, including what they do
// at the edges (invalid UTF-8 becomes U+FFFD, whitespace is exactly
// Unicode's White_Space set), so this package mirrors them in plain code:
// one function per splitter, no regex engine, no dependency, and 3 to 4
// times faster than regexp2 running the pattern (BenchmarkSplit). The
// tests check the splitters against the original patterns run by regexp2
// on the fixture vectors and on random text (TestSplittersMatchPatterns,
// FuzzSplitters), so the two readings cannot drift apart silently.
//
// Character classes come from Go's unicode tables (Unicode 15.0.0).
// llama.cpp's unicode-data.cpp was generated from Unicode 15.1, which adds
// the CJK Ext. I letters U+2EBF0..U+2EE5D (treated as letters here too) and
// five symbols that both sides treat as neither letter, digit nor space.
//
// # Decoding
//
// Decode concatenates each token's piece as llama.cpp's llama_detokenize
// does with special tokens rendered, but it never applies the
// clean_up_tokenization_spaces pass (which llama.cpp enables for some BPE
// vocabularies and which drops spaces before punctuation), so
// Decode(Encode(text)) == text for every text the vocabulary can
// represent.
package tokenizer
