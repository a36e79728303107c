// Package vulkan is the engine's GPU backend on Vulkan compute, registered
// as "vulkan" (backend.Register). It runs on any Vulkan 1.1 device with a
// compute queue: NVIDIA, AMD and Intel drivers, and Mesa's lavapipe on the
// CPU, where CI tests it. The binding (package vk) loads libvulkan.so.1 at
// run time through purego, so builds need neither cgo nor Vulkan headers;
// it is hand-written (about forty entry points, structs checked against
// vulkan_core.h by a test) because the Go module proxy these builds use
// serves no Vulkan binding module.
//
// Device selection: FALSIFY_VULKAN_DEVICE=<index> (vkEnumeratePhysicalDevices
// order, as for ggml through llamalib) picks one; otherwise the first
// discrete GPU, then integrated, then virtual, then CPU device. No loader,
// no device, no compute queue or an index out of range make Open fail with
// an error wrapping backend.ErrUnavailable that names what is missing;
// there is never a fallback to the CPU backend. FALSIFY_VULKAN_VALIDATE=1
// enables the Khronos validation layer; its messages make Close fail.
//
// Memory: each weight is uploaded once, at Weight, to a device-local
// buffer holding its raw GGUF bytes (through a host-visible staging buffer
// when device memory is not host-visible; directly where it is, as on
// lavapipe and integrated GPUs). A weight larger than the device's
// maxStorageBufferRange is refused by name. Activations are float32
// device-local buffers; a Tensor is (buffer, element offset, length).
//
// Execution: a context records every operation into one command buffer,
// with a global barrier between consecutive commands, and submits only
// when the engine reads a tensor back (Read), then waits. A traced run
// reads every capture point, so it submits at each; an untraced forward
// pass reads only the logits, so its whole graph is one submission. Read
// returns the first error of any operation since the previous Read.
//
// Matmul modes (backend.Config.Matmul), each as one of ggml's GPU paths:
//
//   - f32: the shader dequantizes the weight (the type's dq32, bit-exact
//     with ggml's dequantize_row_<type>) and multiplies float32
//     activations with float32 accumulation, as ggml-vulkan's dequantizing
//     mul_mat_vec and mul_mm shaders (and CUDA's dequantize + cuBLAS
//     path) do.
//   - quantized: activations are quantized per row into Q8_1 blocks of 32
//     (quantize_q8_1.comp: d = amax/127, q = roundf(x/d), s = d*sum(q), d
//     and s rounded to f16 like ggml's GPU block_q8_1), then each 32-weight
//     sub-block is an integer dot product scaled once per scale group, as
//     ggml's mmvq / mmq q8_1 path (CUDA, and ggml-vulkan's integer-dot
//     mul_mat_vec_q / mul_mmq) does. F32 weights take the f32 path in
//     both modes, and F16 / BF16 weights have their activations rounded
//     to F16 / BF16 first, as the CPU engine's quantized mode does
//     (ggml-cpu's vec_dot_type); the GPU sums in float32, not float64.
//
// Every matmul type has a matrix-vector shader (mul_mat_vec_*, one token:
// decode) and a matrix-matrix one (mul_mm_*, prefill: each workgroup takes
// 8 weight rows and a tile of 8 tokens, decoding each weight sub-block
// once for the tile). Both are built from shaders/mul_mat.comp and
// compute one (row, token) with the same operations in the same order (8
// invocations per row, each summing every 8th 32-value sub-block, then a
// fixed tree), so decode and prefill agree bit for bit, and two runs on
// one device give the same bits.
//
// Shaders are GLSL 450 in shaders/, compiled by shaders/build.sh
// (`go generate ./engine/vulkan`, glslc -O --target-env=vulkan1.1) to
// shaders/spv/*.spv, which are committed and embedded; TestShadersUpToDate
// recompiles them when glslc is installed and compares bytes.
package vulkan
