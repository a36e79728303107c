// Package engine is falsify's embedded inference engine: it loads GGUF and
// APR models into one model description (Model: hyperparameters, weights as
// typed views over the file's mapping) and runs traced forward passes of
// the llama family (llama, mistral, qwen2, qwen3), recording the capture
// points of specs/capture-points.md.
//
// The three kinds of state live apart: Hyper (read once from metadata),
// weights (Model, bound by name in bindWeights), and run state (Session:
// every scratch buffer and the KV cache allocated once; Forward never
// allocates a buffer). One forward implementation serves traced and
// untraced runs; recording only reads buffers, so tracing cannot change a
// bit of the numbers.
//
// The forward pass (forward.go) runs on a backend (engine/backend; a
// registry of backends by name); Options.Backend picks one, DefaultBackend
// (engine/cpu) when empty. A model's backend is opened once per matmul
// mode, holds the weights, and is closed by Model.Close; each Session has
// its own backend Context, whose tensors hold the activations and the KV
// cache and whose methods are the operations of the block. Values reach
// the host only at the capture points of a traced run and for the logits,
// and the trace's provenance names the backend and its device. A backend
// that is not registered or has no device here is an error wrapping
// ErrBackendUnavailable, never a fallback to another.
//
// Two matmul modes (trace.MatmulMode): f32 dequantizes weight rows and
// multiplies in float32, as aprender's APR path does; quantized quantizes
// activations to the weight type's ggml vec-dot type and uses integer dot
// products, as llama.cpp does. Every backend implements both; the CPU
// backend's kernels and their bit-for-bit promises (thread count, modes,
// architectures) are documented in engine/cpu.
//
// A model file is computed as llama.cpp computes it or refused by name
// (fidelity.go, gguf_load.go): RoPE scaling none, linear, YaRN and
// rope_freqs.weight frequency factors are applied as ggml applies them
// (rope_scaling.go); LongRoPE, partial RoPE, non-causal attention and the
// tensors llama.cpp's graph would use but this engine lacks (fused QKV,
// FFN biases, per-tensor scales, ...) are refused with an error naming the
// key or tensor. Tensors no graph reads are listed in Model.Unused (the
// trace's provenance and warnings carry them; CheckStrict refuses them, as
// llama.cpp refuses such files).
package engine
