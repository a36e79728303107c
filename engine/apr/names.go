package apr

import (
	"strings"
)

// hfLayer maps the per-layer GGUF tensor stems to Hugging Face names, as
// aprender's importer renames qwen2/qwen3 tensors (specs/apr-v2.md).
var hfLayer = map[string]string{
	"attn_q":      "self_attn.q_proj",
	"attn_k":      "self_attn.k_proj",
	"attn_v":      "self_attn.v_proj",
	"attn_output": "self_attn.o_proj",
	"attn_norm":   "input_layernorm",
	"attn_q_norm": "self_attn.q_norm",
	"attn_k_norm": "self_attn.k_norm",
	"ffn_gate":    "mlp.gate_proj",
	"ffn_up":      "mlp.up_proj",
	"ffn_down":    "mlp.down_proj",
	"ffn_norm":    "post_attention_layernorm",
}

// hfGlobal maps the model-level GGUF names.
var hfGlobal = map[string]string{
	"token_embd.weight":  "model.embed_tokens.weight",
	"output_norm.weight": "model.norm.weight",
	"output.weight":      "lm_head.weight",
}

// UsesHFNames reports whether aprender's importer renames the tensors of
// an architecture to Hugging Face names (qwen2, qwen3); llama-like
// architectures keep their GGUF names.
func UsesHFNames(arch string) bool { return arch == "qwen2" || arch == "qwen3" }

// HFName returns the Hugging Face name of a GGUF tensor name, and whether
// the table has one.
func HFName(gguf string) (string, bool) {
	if n, ok := hfGlobal[gguf]; ok {
		return n, true
	}
	rest, ok := strings.CutPrefix(gguf, "blk.")
	if !ok {
		return gguf, false
	}
	layer, rest, ok := strings.Cut(rest, ".")
	if !ok || !isDigits(layer) {
		return gguf, false
	}
	stem, suffix, ok := strings.Cut(rest, ".")
	if !ok || (suffix != "weight" && suffix != "bias") {
		return gguf, false
	}
	hf, ok := hfLayer[stem]
	if !ok {
		return gguf, false
	}
	return "model.layers." + layer + "." + hf + "." + suffix, true
}

// ggufFromHF is the reverse of the per-layer table.
var ggufFromHF = func() map[string]string {
	m := make(map[string]string, len(hfLayer))
	for g, h := range hfLayer {
		m[h] = g
	}
	return m
}()

// GGUFName returns the GGUF spelling of an APR tensor name: Hugging Face
// names and the spellings aprender's loader also accepts
// (tok_embeddings.weight) map back; GGUF names are returned unchanged.
func GGUFName(name string) string {
	switch name {
	case "model.embed_tokens.weight", "tok_embeddings.weight":
		return "token_embd.weight"
	case "model.norm.weight":
		return "output_norm.weight"
	case "lm_head.weight":
		return "output.weight"
	}
	rest, ok := strings.CutPrefix(name, "model.layers.")
	if !ok {
		return name
	}
	layer, rest, ok := strings.Cut(rest, ".")
	if !ok || !isDigits(layer) {
		return name
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return name
	}
	stem, suffix := rest[:i], rest[i+1:]
	g, ok := ggufFromHF[stem]
	if !ok || (suffix != "weight" && suffix != "bias") {
		return name
	}
	return "blk." + layer + "." + g + "." + suffix
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
