// Q5_0 weights (ggml block_q5_0, 22 bytes): d f16 | qh u32 | qs[16]. The
// low four bits of element i < 16 are the low nibble of qs[i], of element
// i+16 its high nibble; bit i of qh is element i's fifth bit;
// x = (q - 16)*d (ggml-quants.c dequantize_row_q5_0).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u32 on qh and qs is legal.

#define QK 32
#define BLOCK_BYTES 22

void dq32(uint blk, uint j, out float v[32]) {
    const float d = wb_f16(blk);
    const uint qh = wb_u32(blk + 2u);
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 6u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint i = 4u * w + b;
            const uint x = q >> (8u * b);
            const uint lo = (x & 0xFu) | (((qh >> i) & 1u) << 4);
            const uint hi = ((x >> 4) & 0xFu) | (((qh >> (i + 16u)) & 1u) << 4);
            precise float vl = float(int(lo) - 16) * d;
            precise float vh = float(int(hi) - 16) * d;
            v[i] = vl;
            v[16u + i] = vh;
        }
    }
}

// ggml's vec_dot_q5_0_q8_1: the unsigned 5-bit values dotted with the int8
// activations, the -16 offset applied once: d * (da*sum(q*a) - 16*sa).
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uint qh = wb_u32(blk + 2u);
    int sumi = 0;
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 6u + 4u * w);
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
    precise float r = wb_f16(blk) * (da * float(sumi) - 16.0 * sa);
    return r;
}
