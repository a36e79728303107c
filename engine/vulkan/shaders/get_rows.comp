// per-type: built as get_rows_<type> (build.sh)
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

// get_rows: the embedding lookup (ggml_get_rows). For token t < n, row
// tok[t] of a (rows, ncols) weight of the included type, dequantized with
// the type's dq32 (bit-exact with the CPU engine's dequantizer), goes to
// row t of d. One invocation per 32 values of a row: (chunk, token).
// The host checks every token id against the table's rows and ncols
// against the type's block size before dispatching.

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
#error "build get_rows with -DTYPE_<type>"
#endif

layout(local_size_x = 32) in;

layout(binding = 1, std430) readonly buffer Tok { uint tok[]; };
layout(binding = 2, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform P {
    uint ncols;   // values per row (a multiple of QK)
    uint n;       // tokens
    uint w_base;  // byte offset of the table in the weight buffer
    uint tok_off; // element offset of the token ids
    uint d_off;   // element offset of d
} p;

void main() {
    const uint chunks = p.ncols / 32;
    const uint c = gl_GlobalInvocationID.x;
    const uint t = gl_GlobalInvocationID.y;
    if (c >= chunks || t >= p.n) {
        return;
    }
    const uint row_bytes = (p.ncols / QK) * BLOCK_BYTES;
    const uint blk = p.w_base + tok[p.tok_off + t] * row_bytes + (c / (QK / 32)) * BLOCK_BYTES;
    float v[32];
    dq32(blk, c % (QK / 32), v);
    const uint o = p.d_off + t * p.ncols + c * 32;
    for (uint i = 0; i < 32; i++) {
        d[o + i] = v[i];
    }
}
