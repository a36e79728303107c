// Q5_K weights (ggml block_q5_K, 176 bytes): d f16 | dmin f16 | scales[12]
// | qh[32] | qs[128]. Scales and mins as Q4_K (get_scale_min_k4). Chunk j
// is sub-block j: the low four bits of element e are the low (j even) or
// high (j odd) nibble of qs[32*(j/2) + e], the fifth bit is bit j of
// qh[e]; x = (d*sc)*q - dmin*m (ggml-quants.c dequantize_row_q5_K).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u32 at even offsets is legal.

#define QK 256
#define BLOCK_BYTES 176

#include "scale_min_k4.glsl"


void dq32(uint blk, uint j, out float v[32]) {
    const uvec2 sm = scale_min_k4(blk + 4u, j);
    // precise: each product rounded on its own, as ggml's CPU code.
    precise float dl = wb_f16(blk) * float(sm.x);
    precise float ml = wb_f16(blk + 2u) * float(sm.y);
    const uint qoff = blk + 48u + 32u * (j >> 1);
    const uint shift = 4u * (j & 1u);
    for (uint w = 0u; w < 8u; w++) {
        const uint q = wb_u32(qoff + 4u * w);
        const uint h = wb_u32(blk + 16u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint qv = ((q >> (8u * b + shift)) & 0xFu) | (((h >> (8u * b + j)) & 1u) << 4);
            precise float x = dl * float(qv) - ml;
            v[4u * w + b] = x;
        }
    }
}

// ggml's vec_dot_q5_K_q8_1 (CUDA mmvq): as Q4_K, with 5-bit quants:
// d*(da*sc*dot) - dmin*(da*m*sum(a)).
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uvec2 sm = scale_min_k4(blk + 4u, j);
    const uint qoff = blk + 48u + 32u * (j >> 1);
    const uint shift = 4u * (j & 1u);
    int dot = 0;
    int asum = 0;
    for (uint w = 0u; w < 8u; w++) {
        const uint q = wb_u32(qoff + 4u * w);
        const uint h = wb_u32(blk + 16u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const int ai = a[4u * w + b];
            const uint qv = ((q >> (8u * b + shift)) & 0xFu) | (((h >> (8u * b + j)) & 1u) << 4);
            dot += int(qv) * ai;
            asum += ai;
        }
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk) * (da * float(dot * int(sm.x))) - wb_f16(blk + 2u) * (da * float(asum * int(sm.y)));
    return r;
}
