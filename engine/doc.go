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
// Two matmul modes (trace.MatmulMode): f32 dequantizes weight rows and multiplies
// in float32, as aprender's APR path does; quantized quantizes activations
// to the weight type's ggml vec-dot type and uses integer dot products, as
// llama.cpp does. The float kernels (RMSNorm, RoPE, softmax, SiLU) follow
// ggml-cpu's formulas operation for operation; see kernels.go.
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
//
// Work is split across goroutines by output rows (matmul) and by (token,
// head) (attention); each output element is computed by one goroutine with
// a fixed sequence of operations, so results are bit-identical for every
// thread count.
//
// Speed: on amd64 with AVX2 the float32 dot product (dotF32: 32 partial
// sums in a fixed order, no FMA) and the quantized dot and dequantization
// kernels of engine/quant run in assembly that gives the plain Go
// versions' bits (`-tags purego` forces those). Products are converted to
// float32 before they are added wherever Go could otherwise fuse them into
// an FMA (arm64), so every architecture computes the same numbers.
package engine
