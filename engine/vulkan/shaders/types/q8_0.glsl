// Q8_0: blocks of 32 int8 with one f16 scale d (2 + 32 bytes), value
// d * q (ggml's dequantize_row_q8_0).
#define QK 32
#define BLOCK_BYTES 34

void dq32(uint blk, uint j, out float v[32]) {
    precise float d = wb_f16(blk);
    [[unroll]] for (uint i = 0u; i < 32u; i += 2u) {
        uint w = wb_u16(blk + 2u + i);
        v[i] = float(bitfieldExtract(int(w), 0, 8)) * d;
        v[i + 1u] = float(bitfieldExtract(int(w), 8, 8)) * d;
    }
}

// dotq32 is ggml's vec_dot_q8_0_q8_1: the integer sum of the products,
// scaled once by d * da (sa unused: Q8_0 has no offset).
float dotq32(uint blk, uint j, int a[32], float da, float sa) {
    int sumi = 0;
    [[unroll]] for (uint i = 0u; i < 32u; i += 2u) {
        uint w = wb_u16(blk + 2u + i);
        sumi += bitfieldExtract(int(w), 0, 8) * a[i] + bitfieldExtract(int(w), 8, 8) * a[i + 1u];
    }
    precise float r = wb_f16(blk) * da * float(sumi);
    return r;
}
