package gguf

// Metadata keys, as llama.cpp spells them (llama-arch.cpp, gguf-py
// constants.py). Model code uses these names, never raw strings. Keys
// documented as "suffix" are per-architecture: pass them to
// Metadata.ArchUint / ArchFloat / ArchKey, which add "<arch>.".
const (
	KeyArchitecture = "general.architecture"
	KeyAlignment    = "general.alignment"
	KeyName         = "general.name"
	KeyFileType     = "general.file_type"
	KeyQuantVersion = "general.quantization_version"

	// Per-architecture suffixes.
	KeyContextLength    = "context_length"
	KeyEmbeddingLength  = "embedding_length"
	KeyBlockCount       = "block_count"
	KeyFeedForwardLen   = "feed_forward_length"
	KeyHeadCount        = "attention.head_count"
	KeyHeadCountKV      = "attention.head_count_kv"
	KeyKeyLength        = "attention.key_length"
	KeyValueLength      = "attention.value_length"
	KeyRMSEps           = "attention.layer_norm_rms_epsilon"
	KeyRopeFreqBase     = "rope.freq_base"
	KeyRopeDimCount     = "rope.dimension_count"
	KeyRopeScalingType  = "rope.scaling.type"
	KeyRopeScaleFactor  = "rope.scaling.factor"
	KeyVocabSizeArch    = "vocab_size"
	KeyExpertCount      = "expert_count"
	KeyExpertUsedCount  = "expert_used_count"
	KeyAttnLogitSoftcap = "attn_logit_softcapping"

	// Tokenizer keys (not per-architecture).
	KeyTokenizerModel     = "tokenizer.ggml.model"
	KeyTokenizerPre       = "tokenizer.ggml.pre"
	KeyTokenizerTokens    = "tokenizer.ggml.tokens"
	KeyTokenizerTypes     = "tokenizer.ggml.token_type"
	KeyTokenizerScores    = "tokenizer.ggml.scores"
	KeyTokenizerMerges    = "tokenizer.ggml.merges"
	KeyTokenizerBOS       = "tokenizer.ggml.bos_token_id"
	KeyTokenizerEOS       = "tokenizer.ggml.eos_token_id"
	KeyTokenizerUNK       = "tokenizer.ggml.unknown_token_id"
	KeyTokenizerPAD       = "tokenizer.ggml.padding_token_id"
	KeyTokenizerAddBOS    = "tokenizer.ggml.add_bos_token"
	KeyTokenizerAddEOS    = "tokenizer.ggml.add_eos_token"
	KeyTokenizerChatTmpl  = "tokenizer.chat_template"
	KeyTokenizerAddPrefix = "tokenizer.ggml.add_space_prefix"
)

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32
