// Q2_K weights (ggml block_q2_K, 84 bytes): scales[16] | qs[64] | d f16 |
// dmin f16. Sixteen sub-blocks of 16; byte k of scales holds sub-block k's
// 4-bit scale (low nibble) and 4-bit min (high nibble). Chunk j (elements
// 32j..32j+31) is sub-blocks 2j and 2j+1; its 2-bit quants are bits
// 2*(j%4)..2*(j%4)+1 of qs[32*(j/4) + e], e = 0..31;
// x = (d*sc)*q - dmin*m (ggml-quants.c dequantize_row_q2_K).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u16/wb_u32 at even offsets are
// legal.

#define QK 256
#define BLOCK_BYTES 84

void dq32(uint blk, uint j, out float v[32]) {
    const float d = wb_f16(blk + 80u);
    const float dmin = wb_f16(blk + 82u);
    const uint sc = wb_u16(blk + 2u * j); // sub-block 2j low byte, 2j+1 high
    const uint qoff = blk + 16u + 32u * (j >> 2);
    const uint shift = 2u * (j & 3u);
    for (uint h = 0u; h < 2u; h++) {
        const uint s = (sc >> (8u * h)) & 0xFFu;
        // precise: each product rounded on its own, as ggml's CPU code.
        precise float dl = d * float(s & 0xFu);
        precise float ml = dmin * float(s >> 4);
        for (uint w = 0u; w < 4u; w++) {
            const uint q = wb_u32(qoff + 16u * h + 4u * w);
            for (uint b = 0u; b < 4u; b++) {
                precise float x = dl * float((q >> (8u * b + shift)) & 3u) - ml;
                v[16u * h + 4u * w + b] = x;
            }
        }
    }
}

// ggml's vec_dot_q2_K_q8_1 (CUDA mmvq): per sub-block of 16 the integer
// dot times the 4-bit scale and the integer sum of the activations times
// the 4-bit min; then d*da*sum_d - dmin*da*sum_m. sa is not used: the mins
// differ between the two halves of the Q8_1 block.
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uint sc = wb_u16(blk + 2u * j);
    const uint qoff = blk + 16u + 32u * (j >> 2);
    const uint shift = 2u * (j & 3u);
    int sumd = 0;
    int summ = 0;
    for (uint h = 0u; h < 2u; h++) {
        const uint s = (sc >> (8u * h)) & 0xFFu;
        int dot = 0;
        int asum = 0;
        for (uint w = 0u; w < 4u; w++) {
            const uint q = wb_u32(qoff + 16u * h + 4u * w);
            for (uint b = 0u; b < 4u; b++) {
                const int ai = a[16u * h + 4u * w + b];
                dot += int((q >> (8u * b + shift)) & 3u) * ai;
                asum += ai;
            }
        }
        sumd += dot * int(s & 0xFu);
        summ += asum * int(s >> 4);
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk + 80u) * (da * float(sumd)) - wb_f16(blk + 82u) * (da * float(summ));
    return r;
}
