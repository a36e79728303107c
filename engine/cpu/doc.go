// Package cpu is the engine's CPU backend (registered as "cpu", the
// default): host tensors, weights read in place from the model file's
// mapping, and the kernels of the forward pass.
//
// Two matmul modes (backend.MatmulMode): f32 dequantizes weight rows and
// multiplies in float32, as aprender's APR path does; quantized quantizes
// activations to the weight type's ggml vec-dot type and uses the integer
// dot kernels of engine/quant, as llama.cpp's CPU backend does. The float
// kernels (RMSNorm, RoPE, softmax, SiLU) follow ggml-cpu's formulas
// operation for operation; see kernels.go.
//
// Work is split across goroutines by output rows (matmul) and by (token,
// head) (attention); each output element is computed by one goroutine with
// a fixed sequence of operations, so results are bit-identical for every
// thread count. The goroutines are a context's persistent worker pool
// (pool.go: Threads-1 workers and the caller, which claim the chunks of
// each loop in order), not one goroutine per loop.
//
// Speed: on amd64 with AVX2 the float32 dot product (dotF32: 32 partial
// sums in a fixed order, no FMA) and the quantized dot and dequantization
// kernels of engine/quant run in assembly that gives the plain Go
// versions' bits (`-tags purego` forces those). Products are converted to
// float32 before they are added wherever Go could otherwise fuse them into
// an FMA (arm64), so every architecture computes the same numbers.
package cpu
