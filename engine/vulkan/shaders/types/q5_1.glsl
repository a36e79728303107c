// Q5_1 weights (ggml block_q5_1, 24 bytes): d f16 | m f16 | qh u32 |
// qs[16]. Bits as Q5_0 (bit i of qh is element i's fifth bit); x = q*d + m
// (ggml-quants.c dequantize_row_q5_1).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u32 on qh and qs is legal.

#define QK 32
#define BLOCK_BYTES 24

void dq32(uint blk, uint j, out float v[32]) {
    const float d = wb_f16(blk);
    const float m = wb_f16(blk + 2u);
    const uint qh = wb_u32(blk + 4u);
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 8u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint i = 4u * w + b;
            const uint x = q >> (8u * b);
            const uint lo = (x & 0xFu) | (((qh >> i) & 1u) << 4);
            const uint hi = ((x >> 4) & 0xFu) | (((qh >> (i + 16u)) & 1u) << 4);
            // precise: q*d rounded, then + m, never fused into an FMA.
            precise float vl = float(lo) * d + m;
            precise float vh = float(hi) * d + m;
            v[i] = vl;
            v[16u + i] = vh;
        }
    }
}

// ggml's vec_dot_q5_1_q8_1: d*da*sum(q*a) + m*sa.
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uint qh = wb_u32(blk + 4u);
    int sumi = 0;
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 8u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint i = 4u * w + b;
            const uint x = q >> (8u * b);
            const uint lo = (x & 0xFu) | (((qh >> i) & 1u) << 4);
            const uint hi = ((x >> 4) & 0xFu) | (((qh >> (i + 16u)) & 1u) << 4);
            sumi += int(lo) * a[i] + int(hi) * a[16u + i];
        }
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk) * da * float(sumi) + wb_f16(blk + 2u) * sa;
    return r;
}
