// Q3_K weights (ggml block_q3_K, 110 bytes): hmask[32] | qs[64] |
// scales[12] | d f16. Sixteen sub-blocks of 16 with 6-bit scales biased by
// 32 (scale k: low nibble of scales[k%8] (k < 8) or its high nibble (k >= 8),
// high two bits at bits 2*(k/4) of scales[8 + k%4]). Chunk j (elements
// 32j..32j+31) is sub-blocks 2j and 2j+1; element e's low two bits are bits
// 2*(j%4).. of qs[32*(j/4) + e], its third bit is bit j of hmask[e], and
// q = low2 - (bit set ? 0 : 4), in [-4, 3]; x = (d*sc)*q
// (ggml-quants.c dequantize_row_q3_K).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u32 at even offsets is legal.

#define QK 256
#define BLOCK_BYTES 110

// q3k_scale returns the signed 6-bit scale k (0..15) of the block at blk.
int q3k_scale(uint blk, uint k) {
    const uint lo = (wb_u8(blk + 96u + (k & 7u)) >> (4u * (k >> 3))) & 0xFu;
    const uint hi = (wb_u8(blk + 104u + (k & 3u)) >> (2u * (k >> 2))) & 3u;
    return int(lo | (hi << 4)) - 32;
}

void dq32(uint blk, uint j, out float v[32]) {
    const float d = wb_f16(blk + 108u);
    const uint qoff = blk + 32u + 32u * (j >> 2);
    const uint shift = 2u * (j & 3u);
    for (uint h = 0u; h < 2u; h++) {
        // precise: d*sc rounded, then times q, as ggml's CPU code.
        precise float dl = d * float(q3k_scale(blk, 2u * j + h));
        for (uint w = 0u; w < 4u; w++) {
            const uint e = 16u * h + 4u * w;
            const uint q = wb_u32(qoff + e);
            const uint m = wb_u32(blk + e);
            for (uint b = 0u; b < 4u; b++) {
                const int lo = int((q >> (8u * b + shift)) & 3u);
                const int qv = ((m >> (8u * b + j)) & 1u) != 0u ? lo : lo - 4;
                precise float x = dl * float(qv);
                v[e + b] = x;
            }
        }
    }
}

// ggml's vec_dot_q3_K_q8_1 (CUDA mmvq): per sub-block of 16 the integer
// dot of the signed 3-bit values with the activations times the scale;
// then d*(da*sum).
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uint qoff = blk + 32u + 32u * (j >> 2);
    const uint shift = 2u * (j & 3u);
    int sumi = 0;
    for (uint h = 0u; h < 2u; h++) {
        int dot = 0;
        for (uint w = 0u; w < 4u; w++) {
            const uint e = 16u * h + 4u * w;
            const uint q = wb_u32(qoff + e);
            const uint m = wb_u32(blk + e);
            for (uint b = 0u; b < 4u; b++) {
                const int lo = int((q >> (8u * b + shift)) & 3u);
                const int qv = ((m >> (8u * b + j)) & 1u) != 0u ? lo : lo - 4;
                dot += qv * a[e + b];
            }
        }
        sumi += dot * q3k_scale(blk, 2u * j + h);
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk + 108u) * (da * float(sumi));
    return r;
}
