#version 450
// quantize_q8_1: the activations of n tokens (rows of cols float32, cols
// a multiple of 32) as Q8_1 blocks of 32 for the quantized matmul mode,
// the way ggml's GPU backends quantize src1 before an integer dot product:
// d = amax / 127, q = round(x / d) (x * (1/d), rounded half away from
// zero like roundf), s = d * sum(q); d and s are rounded to f16 as in
// ggml's block_q8_1 (half2 ds) and stored as float32.
// Layout per block: 8 words of four int8 each, then d, then s (10 words);
// block b of token t at word q_off + (t * cols/32 + b) * 10.
// One invocation per block, so a block's values are added in one order.

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

#include "half.glsl"

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(push_constant) uniform Push {
    uint n;     // tokens
    uint cols;  // values per token
    uint x_off; // element offset of token 0 in x
    uint q_off; // word offset of token 0's first block in q
} p;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Q { uint q[]; };

// roundf: nearest, halfway cases away from zero (exact for |v| < 2^23).
float round_away(float v) {
    float a = abs(v);
    float t = trunc(a);
    if (a - t >= 0.5) {
        t += 1.0;
    }
    return v < 0.0 ? -t : t;
}

void main() {
    uint nsub = p.cols / 32u;
    uint b = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 64u + gl_LocalInvocationID.x;
    if (b >= p.n * nsub) {
        return;
    }
    uint t = b / nsub;
    uint xb = p.x_off + t * p.cols + (b % nsub) * 32u;
    float amax = 0.0;
    [[unroll]] for (uint i = 0u; i < 32u; i++) {
        amax = max(amax, abs(x[xb + i]));
    }
    float d = amax / 127.0;
    float id = d != 0.0 ? 1.0 / d : 0.0;
    int sum = 0;
    uint qb = p.q_off + b * 10u;
    [[unroll]] for (uint k = 0u; k < 8u; k++) {
        uint w = 0u;
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            precise float xv = x[xb + 4u * k + i] * id;
            int v = int(round_away(xv));
            sum += v;
            w |= (uint(v) & 0xffu) << (8u * i);
        }
        q[qb + k] = w;
    }
    q[qb + 8u] = floatBitsToUint(round_f16(d));
    q[qb + 9u] = floatBitsToUint(round_f16(float(sum) * d));
}
