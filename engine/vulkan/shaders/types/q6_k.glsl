// Q6_K weights (ggml block_q6_K, 210 bytes): ql[128] | qh[64] |
// scales int8[16] | d f16. Sixteen sub-blocks of 16. With n = j/4 and
// k = j%4, element e of chunk j has its low four bits in nibble k/2 of
// ql[64n + 32*(k%2) + e], its high two bits at bit 2k of qh[32n + e], and
// scale scales[8n + 2k + e/16]; q = bits - 32 in [-32, 31];
// x = (d*sc)*q (ggml-quants.c dequantize_row_q6_K).
//
// Included after common.glsl (vk-design's weight-type include interface).
// Blocks start at even byte offsets, so wb_u16/wb_u32 at even offsets are
// legal.

#define QK 256
#define BLOCK_BYTES 210

void dq32(uint blk, uint j, out float v[32]) {
    const uint n = j >> 2;
    const uint k = j & 3u;
    const float d = wb_f16(blk + 208u);
    const uint loff = blk + 64u * n + 32u * (k & 1u);
    const uint hoff = blk + 128u + 32u * n;
    const uint lshift = 4u * (k >> 1);
    const uint hshift = 2u * k;
    const uint sc = wb_u16(blk + 192u + 8u * n + 2u * k); // scales of e < 16, e >= 16
    for (uint h = 0u; h < 2u; h++) {
        // precise: d*sc rounded, then times q, as ggml's CPU code.
        precise float dl = d * float(int(sc << (24u - 8u * h)) >> 24);
        for (uint w = 0u; w < 4u; w++) {
            const uint e = 16u * h + 4u * w;
            const uint ql = wb_u32(loff + e);
            const uint qh = wb_u32(hoff + e);
            for (uint b = 0u; b < 4u; b++) {
                const uint qv = ((ql >> (8u * b + lshift)) & 0xFu) | (((qh >> (8u * b + hshift)) & 3u) << 4);
                precise float x = dl * float(int(qv) - 32);
                v[e + b] = x;
            }
        }
    }
}

// ggml's vec_dot_q6_K_q8_1 (CUDA mmvq): per sub-block of 16 the integer
// dot of the signed 6-bit values times the int8 scale; then d*(da*sum).
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    const uint n = j >> 2;
    const uint k = j & 3u;
    const uint loff = blk + 64u * n + 32u * (k & 1u);
    const uint hoff = blk + 128u + 32u * n;
    const uint lshift = 4u * (k >> 1);
    const uint hshift = 2u * k;
    const uint sc = wb_u16(blk + 192u + 8u * n + 2u * k);
    int sumi = 0;
    for (uint h = 0u; h < 2u; h++) {
        int dot = 0;
        for (uint w = 0u; w < 4u; w++) {
            const uint e = 16u * h + 4u * w;
            const uint ql = wb_u32(loff + e);
            const uint qh = wb_u32(hoff + e);
            for (uint b = 0u; b < 4u; b++) {
                const uint qv = ((ql >> (8u * b + lshift)) & 0xFu) | (((qh >> (8u * b + hshift)) & 3u) << 4);
                dot += (int(qv) - 32) * a[e + b];
            }
        }
        sumi += dot * (int(sc << (24u - 8u * h)) >> 24);
    }
    // precise: no product here may fuse with the caller's accumulation
    // into an FMA (driver-dependent bits; TestNoContraction).
    precise float r = wb_f16(blk + 208u) * (da * float(sumi));
    return r;
}
