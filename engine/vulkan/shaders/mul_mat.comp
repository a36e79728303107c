#version 450
// mul_mat: dst[t*d_stride + d_off + r] = w[r] . x[t], for the rows r of a
// (rows, cols) weight and tokens t < n. A workgroup of 64 invocations
// takes RPW = 8 consecutive rows and a tile of TN tokens; SPLIT = 8
// invocations share a row: each takes every 8th 32-element sub-block of
// it, decodes it once and uses it for the tile's TN tokens; the 8 partial
// sums are then added in a fixed tree (3 barriers per workgroup: barriers
// are what costs most on lavapipe, where a workgroup's invocations run as
// coroutines).
// Built per weight type (-DTYPE_<type>) as mul_mat_vec_<type> (TN = 1,
// decode) and mul_mm_<type> (TN = 8, prefill). The arithmetic for one
// (row, token) is the same in both, so decode and prefill give the same
// bits for the same row of activations.
//
// f32 mode (default): x is float32 (rounded by XLOAD); each sub-block's 32 products are
// summed in order, then added to the invocation's sum (precise: no FMA
// contraction, so both builds compute the same bits).
// Quantized mode (-DMODE_Q): x is the Q8_1 blocks quantize_q8_1 wrote
// (per 32 values: 8 words of int8, then d and s as float32 holding f16
// values), and each sub-block contributes the type's dotq32.

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

#include "common.glsl"

#if defined(TYPE_f32)
#include "types/f32.glsl"
#elif defined(TYPE_f16)
#include "types/f16.glsl"
#elif defined(TYPE_bf16)
#include "types/bf16.glsl"
#elif defined(TYPE_q4_0)
#include "types/q4_0.glsl"
#elif defined(TYPE_q4_1)
#include "types/q4_1.glsl"
#elif defined(TYPE_q5_0)
#include "types/q5_0.glsl"
#elif defined(TYPE_q5_1)
#include "types/q5_1.glsl"
#elif defined(TYPE_q8_0)
#include "types/q8_0.glsl"
#elif defined(TYPE_q2_k)
#include "types/q2_k.glsl"
#elif defined(TYPE_q3_k)
#include "types/q3_k.glsl"
#elif defined(TYPE_q4_k)
#include "types/q4_k.glsl"
#elif defined(TYPE_q5_k)
#include "types/q5_k.glsl"
#elif defined(TYPE_q6_k)
#include "types/q6_k.glsl"
#else
#error "mul_mat.comp needs -DTYPE_<type>"
#endif

#ifndef TN
#define TN 1
#endif
// XLOAD reads an activation: as is, or rounded to f16 / bf16 for the
// quantized mode on F16 / BF16 weights (-DX_F16, -DX_BF16), which is what
// the CPU engine's vec-dot types for them do.
#if defined(X_F16)
#define XLOAD(v) round_f16(v)
#elif defined(X_BF16)
#define XLOAD(v) round_bf16(v)
#else
#define XLOAD(v) (v)
#endif
#define WG 64
#define SPLIT 8
#define RPW (WG / SPLIT)

layout(local_size_x = WG, local_size_y = 1, local_size_z = 1) in;

layout(push_constant) uniform Push {
    uint rows;     // weight rows (outputs per token)
    uint cols;     // weight columns (inputs per token), a multiple of QK
    uint n;        // tokens
    uint x_off;    // f32 mode: element offset of token 0's row; quantized: word offset of its first Q8_1 block
    uint d_off;    // element offset of dst for token 0, row 0
    uint d_stride; // dst elements between tokens
} p;

#ifdef MODE_Q
layout(std430, binding = 1) readonly buffer X { uint xq[]; };
#else
layout(std430, binding = 1) readonly buffer X { float xf[]; };
#endif
layout(std430, binding = 2) writeonly buffer D { float dst[]; };

shared float red[TN * WG];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint part = lid % SPLIT;
    uint row = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * RPW + lid / SPLIT;
    // Rows past the end compute nothing but still reach every barrier.
    bool valid = row < p.rows;
    uint t0 = gl_WorkGroupID.z * TN;
    uint nb = p.cols / QK;
    uint nsub = p.cols / 32u;
    uint rowbase = row * nb * BLOCK_BYTES;

    precise float acc[TN];
    [[unroll]] for (uint t = 0u; t < TN; t++) {
        acc[t] = 0.0;
    }
    for (uint s = part; valid && s < nsub; s += SPLIT) {
        uint blk = rowbase + (s / (QK / 32u)) * BLOCK_BYTES;
        uint j = s % (QK / 32u);
#ifdef MODE_Q
        [[unroll]] for (uint t = 0u; t < TN; t++) {
            if (t0 + t < p.n) {
                uint q = p.x_off + ((t0 + t) * nsub + s) * 10u;
                int a[32];
                [[unroll]] for (uint k = 0u; k < 8u; k++) {
                    int w = int(xq[q + k]);
                    a[4u * k] = bitfieldExtract(w, 0, 8);
                    a[4u * k + 1u] = bitfieldExtract(w, 8, 8);
                    a[4u * k + 2u] = bitfieldExtract(w, 16, 8);
                    a[4u * k + 3u] = bitfieldExtract(w, 24, 8);
                }
                acc[t] += dotq32(blk, j, a, uintBitsToFloat(xq[q + 8u]), uintBitsToFloat(xq[q + 9u]));
            }
        }
#else
        float v[32];
        dq32(blk, j, v);
        [[unroll]] for (uint t = 0u; t < TN; t++) {
            if (t0 + t < p.n) {
                uint xb = p.x_off + (t0 + t) * p.cols + s * 32u;
                precise float sum = 0.0;
                // Not unrolled: glslc -O drops `precise` from unrolled copies
                // and fuses them into Fma (TestNoContraction).
                [[dont_unroll]] for (uint i = 0u; i < 32u; i++) {
                    sum += v[i] * XLOAD(xf[xb + i]);
                }
                acc[t] += sum;
            }
        }
#endif
    }
    [[unroll]] for (uint t = 0u; t < TN; t++) {
        red[t * WG + lid] = acc[t];
    }
    barrier();
    [[unroll]] for (uint h = SPLIT / 2u; h > 0u; h >>= 1) {
        if (part < h) {
            [[unroll]] for (uint t = 0u; t < TN; t++) {
                precise float r = red[t * WG + lid] + red[t * WG + lid + h];
                red[t * WG + lid] = r;
            }
        }
        barrier();
    }
    if (valid && part == 0u) {
        [[unroll]] for (uint t = 0u; t < TN; t++) {
            if (t0 + t < p.n) {
                dst[p.d_off + (t0 + t) * p.d_stride + row] = red[t * WG + lid];
            }
        }
    }
}
