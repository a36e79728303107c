package engine

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/falsify/falsify/engine/quant"
)

// unimplementedTensor names why a tensor that llama.cpp's graph for arch
// loads and computes with is one this engine does not implement ("" when
// it is not such a tensor). Such a file must be refused: running it
// without the tensor would silently compute something else. Tensors that
// llama.cpp does not load either are not refused here; they end up in
// Model.Unused (llama.cpp refuses the whole file for them).
//
// From llama.cpp's src/models/{llama,qwen2,qwen3}.cpp, create_tensor_qkv
// and the generic ".scale" pass of llama_model_base::load_tensors.
func unimplementedTensor(arch, name string) string {
	if m := blkTensor.FindStringSubmatch(name); m != nil {
		stem, kind := m[1], m[2]
		switch {
		case stem == "attn_qkv":
			return "fused QKV projection"
		case kind == "scale":
			return "per-tensor weight scale"
		case kind == "bias" && (stem == "ffn_gate" || stem == "ffn_up" || stem == "ffn_down") && isLlama(arch):
			return "FFN bias"
		case stem == "ffn_gate_inp" || stem == "ffn_gate_exps" || stem == "ffn_up_exps" || stem == "ffn_down_exps":
			return "mixture-of-experts weight"
		}
		return ""
	}
	switch {
	case name == "output.bias" && arch == "qwen2":
		return "output bias"
	case (name == "rope_factors_long.weight" || name == "rope_factors_short.weight") && isLlama(arch):
		return "LongRoPE factors"
	}
	return ""
}

var blkTensor = regexp.MustCompile(`^blk\.\d+\.([a-z_]+)\.([a-z]+)$`)

// isLlama: mistral files run the llama graph.
func isLlama(arch string) bool { return arch == "llama" || arch == "mistral" }

// bindRopeFreqs reads rope_freqs.weight, which llama.cpp's llama graph
// passes to every layer's ggml_rope_ext as freq_factors (Llama 3.1/3.2
// files carry it). qwen2 and qwen3 graphs never read it: there it stays
// unused and is reported as such. ggml's RoPE requires F32 factors.
func bindRopeFreqs(m *Model, optional func(string, ...int) (*Tensor, error)) error {
	if !isLlama(m.Hyper.Arch) {
		return nil
	}
	t, err := optional("rope_freqs.weight", m.Hyper.NRot/2)
	if err != nil || t == nil {
		return err
	}
	if t.Type != quant.F32 {
		return fmt.Errorf("tensor %q is %s: ggml's RoPE takes F32 frequency factors", t.Name, t.Type)
	}
	f := make([]float32, m.Hyper.NRot/2)
	if err := quant.DequantizeRow(quant.F32, f, t.Data); err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	m.RopeFreqs = f
	return nil
}

// Warnings returns what a run of nTokens positions should warn about, as
// llama.cpp warns and still computes: positions past the training context
// (context_length; llama.cpp: "n_ctx_seq > n_ctx_train -- possible training
// context overflow") and tensors the engine does not use.
func (m *Model) Warnings(nTokens int) []string {
	var w []string
	if m.Hyper.NCtx > 0 && nTokens > m.Hyper.NCtx {
		w = append(w, fmt.Sprintf("%d positions exceed the model's training context length %d (context_length): llama.cpp warns of a possible training context overflow and computes anyway", nTokens, m.Hyper.NCtx))
	}
	if len(m.Unused) > 0 {
		w = append(w, fmt.Sprintf("%d tensor(s) the engine does not use (llama.cpp refuses such a file; --strict refuses it too): %s", len(m.Unused), strings.Join(m.Unused, ", ")))
	}
	return w
}
