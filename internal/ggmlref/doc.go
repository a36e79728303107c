// Package ggmlref loads ggml's own prebuilt CPU library so tests can compare
// this project's kernels against the code that produced llama.cpp's results:
// dequantization (type traits to_float), the reference quantizers
// (from_float_ref), the CPU backend's activation quantizers (CPU type traits
// from_float) and its dot kernels (vec_dot).
//
// The libraries are the ones node-llama-cpp 3.21.1 ships for linux-x64
// (llama.cpp release bundled as "v0.4.0", ggml 0.23.0); the goldens under
// testdata/golden were produced with them. scripts/fetch-ggml.sh downloads
// them into $HOME/.cache/falsify/ggml/v0.4.0 (FALSIFY_GGML_DIR overrides);
// the same files installed by scripts/fetch-llamacpp.sh (node-llama-cpp
// 3.21.1 under $HOME/.cache/falsify/node-llama-cpp) are used when that
// directory is absent.
//
// They are called through github.com/ebitengine/purego so that no C
// toolchain or header is needed. The C structs are mirrored by hand from
// ggml.h / ggml-cpu.h of that version; Open checks the mirrored layout
// against ggml's own accessors (ggml_type_name, ggml_blck_size,
// ggml_type_size, exported kernel symbols) and refuses to run if any field
// disagrees, so a layout change fails loudly instead of calling garbage.
//
// Graphs: Lib.CPUBackend (ggml's CPU backend of the loaded variant) and
// Lib.VulkanBackend (ggml's Vulkan backend, libggml-vulkan.so of the
// node-llama-cpp linux-x64-vulkan package, found through
// internal/llamalib) run small ggml graphs built with Graph (mul_mat,
// get_rows, rms_norm, mul, add, silu, rope_ext, soft_max_ext, views,
// permute, cont, cpy) on that one backend, without ggml's scheduler:
// Compute fails if ggml_backend_supports_op denies any node or an output
// is not allocated on the backend's device, so a result is never computed
// by another device than the one named. struct ggml_tensor's offsets are
// checked against ggml's accessors as the type traits are.
//
// It is a test oracle: it allocates freely, and every call copies.
package ggmlref
