// Q4_1 weights (ggml block_q4_1, 20 bytes): d f16 | m f16 | qs[16]. Element
// i < 16 is the low nibble of qs[i], element i+16 its high nibble;
// x = q*d + m (ggml-quants.c dequantize_row_q4_1).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u32 on qs is legal.

#define QK 32
#define BLOCK_BYTES 20

void dq32(uint blk, uint j, out float v[32]) {
    const float d = wb_f16(blk);
    const float m = wb_f16(blk + 2u);
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 4u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint x = q >> (8u * b);
            // precise: q*d rounded, then + m, never fused into an FMA
            // (ggml's CPU dequantization rounds twice).
            precise float lo = float(x & 0xFu) * d + m;
            precise float hi = float((x >> 4) & 0xFu) * d + m;
            v[4u * w + b] = lo;
            v[16u + 4u * w + b] = hi;
        }
    }
}

// ggml's vec_dot_q4_1_q8_1: d*da*sum(q*a) + m*sa.
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    int sumi = 0;
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 4u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint x = q >> (8u * b);
            sumi += int(x & 0xFu) * a[4u * w + b] + int((x >> 4) & 0xFu) * a[16u + 4u * w + b];
        }
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk) * da * float(sumi) + wb_f16(blk + 2u) * sa;
    return r;
}
