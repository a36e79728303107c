// Q4_K weights (ggml block_q4_K, 144 bytes): d f16 | dmin f16 | scales[12]
// | qs[128]. Eight sub-blocks of 32 with 6-bit scales and mins packed in
// scales[12] (ggml-quants.c get_scale_min_k4). Chunk j is sub-block j: its
// quants are the low (j even) or high (j odd) nibbles of qs[32*(j/2) + e];
// x = (d*sc)*q - dmin*m (dequantize_row_q4_K).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u32 at even offsets is legal.

#define QK 256
#define BLOCK_BYTES 144

#include "scale_min_k4.glsl"


void dq32(uint blk, uint j, out float v[32]) {
    const uvec2 sm = scale_min_k4(blk + 4u, j);
    // precise: each product rounded on its own, as ggml's CPU code.
    precise float dl = wb_f16(blk) * float(sm.x);
    precise float ml = wb_f16(blk + 2u) * float(sm.y);
    const uint qoff = blk + 16u + 32u * (j >> 1);
    const uint shift = 4u * (j & 1u);
    for (uint w = 0u; w < 8u; w++) {
        const uint q = wb_u32(qoff + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            precise float x = dl * float((q >> (8u * b + shift)) & 0xFu) - ml;
            v[4u * w + b] = x;
        }
    }
}

// ggml's vec_dot_q4_K_q8_1 (CUDA mmvq): the integer dot times the scale,
// the integer sum of the activations times the min:
// d*(da*sc*dot) - dmin*(da*m*sum(a)). The integer sum (ggml mmvq) rather
// than sa keeps the min term free of sa's rounding.
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uvec2 sm = scale_min_k4(blk + 4u, j);
    const uint qoff = blk + 16u + 32u * (j >> 1);
    const uint shift = 4u * (j & 1u);
    int dot = 0;
    int asum = 0;
    for (uint w = 0u; w < 8u; w++) {
        const uint q = wb_u32(qoff + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const int ai = a[4u * w + b];
            dot += int((q >> (8u * b + shift)) & 0xFu) * ai;
            asum += ai;
        }
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk) * (da * float(dot * int(sm.x))) - wb_f16(blk + 2u) * (da * float(asum * int(sm.y)));
    return r;
}
