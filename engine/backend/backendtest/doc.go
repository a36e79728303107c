// Package backendtest checks a registered backend's operations
// (backend.Context) against ggml's own operations on a ggml backend of the
// same kind, run through internal/ggmlref: ggml's CPU backend for "cpu",
// ggml's Vulkan backend (libggml-vulkan.so of node-llama-cpp 3.21.1) on the
// same Vulkan device for "vulkan". The reference is code this project did
// not write, so a conformance failure is a finding about the backend, not
// about a second copy of its own formulas.
//
// Every operation runs on random inputs from fixed seeds, on views with
// an odd element offset inside larger tensors whose other elements are
// guards that must come back unchanged bit for bit. The result is compared
// with ggml's by NMSE = sum((got-ref)^2) / sum(ref^2) (ggml's
// test-backend-ops measure, ggml's result as the reference), against
// test-backend-ops' tolerances:
//
//	Embed        get_rows(table, ids)                                  1e-7
//	RMSNorm      mul(rms_norm(x, eps), w)                              1e-7
//	MatMul f32   mul_mat(to_float(w) as F32, x), GGML_PREC_F32         1e-7
//	MatMul quant mul_mat(w in its own type, x), GGML_PREC_F32          5e-4 (F32 weights 1e-7)
//	AddBias      add(columns [off, off+len) of dst, b)                 1e-7
//	QKNorm       mul(rms_norm(head, eps), w) per query and key head    1e-7
//	RoPE         rope_ext(q or k heads, positions, freq factors, ...)  1e-7
//	KVWrite      cpy(K or V of qkv, view of the cache rows)            exact
//	Attention    mul_mat(k, q), soft_max_ext(mask, 1/sqrt(d)),
//	             mul_mat(v^T, kq) as llama.cpp builds it, all heads
//	             in one batched mul_mat (GQA by its broadcast)         5e-4
//	             the same one head at a time (2-D mul_mats)            1e-7
//	SiLU, Mul, Add  silu(x), mul(a, b), add(a, b)                      1e-7
//
// The matmul modes map to ggml as follows. The f32 mode (weights decoded
// to float32, float32 products and sums) is compared with mul_mat of the
// weights ggml's own to_float decoded, as an F32 tensor: the same numbers
// in the same precision, so the tolerance is 1e-7 (stricter than
// test-backend-ops' 5e-4 for every mul_mat). The quantized mode
// (activations quantized the way a ggml backend does before integer dot
// products) is compared with mul_mat of the raw weight blocks, which on
// ggml's CPU quantizes activations to the type's vec_dot_type (Q8_0, Q8_1,
// Q8_K; F16 and BF16 round them) and on ggml-vulkan either dequantizes the
// weights (its mul_mat_vec / mul_mm path) or, on devices with integer dot
// products, quantizes activations to Q8_1 (mmq): test-backend-ops' 5e-4.
//
// Attention has two rows because ggml's Vulkan backend computes a batched
// float32 mul_mat (ne2 > 1, as in llama.cpp's graph) at about F16
// precision (NMSE ~1e-7 against ggml's CPU), and one head at a time in
// float32 (~1e-14): the llama.cpp graph gets mul_mat's tolerance, the
// per-head graph the float32 one.
//
// Coverage: MatMul and Embed for every weight type the engine supports
// (WeightTypes), MatMul at n = 1 and 5 on a 72x512 and a 131x1280 weight
// (partial tiles, whole K-quant super-blocks), written at an offset into
// wider rows; RMSNorm at 320 and 2880 columns; the elementwise operations
// at 1000 and 24320 values; the attention-side operations in three
// geometries (grouped-query heads with normal RoPE; one key/value head
// with NEOX RoPE on half of each head, YaRN, an attention factor and
// rope_freqs factors, the correction dimensions from ggml's
// ggml_rope_yarn_corr_dims; multi-head with linear RoPE scaling), each at
// (n, pos) = (5, 0), (3, 6), (1, 20), (2, 297) and (2, 2100). For "vulkan" the
// backend's Device() must name the device ggml's Vulkan backend runs on
// (FALSIFY_VULKAN_DEVICE picks it for both).
//
// Cost: ggml's Vulkan backend compiles its pipelines lazily; on lavapipe a
// cold Mesa shader cache (MESA_SHADER_CACHE_DIR, which internal/ggmlref
// places under the falsify cache directory) costs minutes, a warm one
// seconds.
//
// Compare returns the table of results (op, weight type, mode, shape,
// NMSE, tolerance); Check runs it in a test, logs the table, fails each row
// beyond its tolerance, and skips, with the reason, when the backend or the
// ggml reference is unavailable here (backend.ErrUnavailable,
// ggmlref.ErrUnavailable).
package backendtest
