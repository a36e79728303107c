// Package quant knows ggml's tensor block types: their sizes, how to
// dequantize a row of each to float32, how to quantize activations to the
// vec-dot types exactly as ggml does, and the dot-product kernels the
// engine's quantized matmul mode uses.
//
// It is written by hand because no Go library reproduces ggml's block
// formats bit for bit; the reference is ggml's own C code (ggml-quants.c,
// ggml-cpu/quants.c, ggml-cpu/arch/x86/quants.c, ggml-cpu/vec.cpp), read
// with the search tool, and the tests check the results against ggml
// itself: the hashes in testdata/golden/dequant, and ggml's prebuilt CPU
// library (the build the goldens came from) loaded by internal/ggmlref.
//
// What is exact and what is not:
//
//   - DequantizeRow is bit-identical to ggml's to_float for every type.
//   - QuantizeRow is bit-identical to the activation quantizer of
//     llama.cpp's x86 CPU backend (AVX2/AVX-512 builds), QuantizeRowRef to
//     ggml's reference quantizers; they differ for Q8_0/Q8_1 (rounding rule
//     and inverse scale, about one element in 16000 blocks of random
//     activations) and for F16 NaNs. The goldens were made by the CPU
//     backend, so the engine wants QuantizeRow.
//   - VecDot/DotFunc are bit-identical to ggml's scalar kernels
//     (ggml_vec_dot_*_generic and the scalar F32/F16/BF16 paths, as the
//     baseline x86-64 build compiles them). llama.cpp on AVX2/AVX-512 runs
//     SIMD kernels that sum in another order with FMA; against those the
//     results differ by a few float32 ulps of sum|w*x| (at most 1.6e-7 of
//     it measured, tested against 1e-6).
//
// Speed: on amd64 with AVX2 and F16C every quantized dot kernel has an
// assembly version (dot_amd64.s) that sums the int8 products with SIMD and
// then does every float step in the scalar kernel's order, so it gives the
// scalar kernel's bits (TestSIMDMatchesScalar), and Q8_0, Q4_0, Q5_0,
// Q4_K, Q5_K, Q6_K, F16 and BF16 rows dequantize in assembly with the
// scalar operations per element (TestSIMDDequantizeMatchesScalar);
// DequantizeFunc checks the type once for callers in a loop. The Q8_0 and
// Q8_K activation quantizers have AVX2 versions too (quantize_amd64.s;
// blocks holding an infinity or NaN go to the Go loop;
// TestQuantizeSIMDMatchesGo). `-tags purego` and other architectures use
// the plain Go kernels. DotRowsFunc takes several weight rows against one
// activation row (four at a time for Q8_0 and Q5_0) so their float chains
// overlap; DotMatrixFunc takes a prefill's weight rows against all its
// tokens (TestDotMatrixMatchesDot):
//
//   - with AVX2: Q8_0 and Q5_0 four rows loaded and made unsigned once per
//     block for every token; Q4_K and Q6_K each weight block decoded once
//     per 16 tokens into the order in which the activations were laid out
//     once per call, so that per token a block is eight VPMADDUBSW +
//     VPMADDWD pairs whose lanes are already ggml's eight int32 lanes.
//   - with AVX-512 VNNI (dotvnni_*_amd64.s, chosen at run time, the AVX2
//     kernels kept as fallbacks and compared with them bit for bit):
//     Q5_0 and Q8_0 with 16 tokens in the int32 lanes of VPDPBUSD (the
//     weights made unsigned once per call, the activations' offset
//     correction per token; calls of up to 6 tokens, decode steps of
//     Q5_0 included, with eight rows in the lanes instead),
//     Q6_K as VPDPWSSD over int16 pairs with the sub-block scale
//     multiplied in, Q4_K with its quants kept as bytes put in ggml's lane
//     order (VPMADDUBSW, then VPDPWSSD by the scale pairs), two tokens per
//     register; one-token (decode) Q4_K and Q6_K kernels the same way with
//     two chunks of a block per register (dotvnni_k_amd64.go). Every lane
//     is one (row, token) block sum, exact in int32, and the float steps
//     stay the scalar kernels'.
//
// What would go faster still: weights repacked once at load (rows
// interleaved, as ggml's CPU_REPACK buffers) so that no call decodes
// them again. (An earlier one-token VNNI K-quant kernel, VPDPBUSD with
// VPMADDWD by the scales, was no faster than the AVX2 one in a 1.5B
// decode step and was not kept; the VPMADDUBSW ones above are: 1.4x
// (Q4_K) and 1.8x (Q6_K) on rows streamed from memory.)
//
// The package has no dependencies on the rest of the engine: container
// readers (gguf, apr) import it for block sizes, never the other way round.
package quant
