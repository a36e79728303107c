// Q4_0 weights (ggml block_q4_0, 18 bytes): d f16 | qs[16]. Element i < 16
// is the low nibble of qs[i], element i+16 its high nibble; x = (q - 8)*d
// (ggml-quants.c dequantize_row_q4_0).
//
// Included by the mul_mat and get_rows shaders after common.glsl; see
// vk-design's weight-type include interface. Blocks start at even byte
// offsets (18-byte blocks from an even base), so wb_u32 on qs is legal.

#define QK 32
#define BLOCK_BYTES 18

void dq32(uint blk, uint j, out float v[32]) {
    const float d = wb_f16(blk);
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 2u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint x = q >> (8u * b);
            // precise: the same product, rounded once, as ggml's CPU code.
            precise float lo = float(int(x & 0xFu) - 8) * d;
            precise float hi = float(int((x >> 4) & 0xFu) - 8) * d;
            v[4u * w + b] = lo;
            v[16u + 4u * w + b] = hi;
        }
    }
}

// ggml's vec_dot_q4_0_q8_1: the unsigned nibbles dotted with the int8
// activations, the -8 offset applied once through the Q8_1 sum:
// d * (da*sum(q*a) - 8*sa).
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    int sumi = 0;
    for (uint w = 0u; w < 4u; w++) {
        const uint q = wb_u32(blk + 2u + 4u * w);
        for (uint b = 0u; b < 4u; b++) {
            const uint x = q >> (8u * b);
            sumi += int(x & 0xFu) * a[4u * w + b] + int((x >> 4) & 0xFu) * a[16u + 4u * w + b];
        }
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk) * (da * float(sumi) - 8.0 * sa);
    return r;
}
