// BF16 weights in blocks of 32 (exact conversion to float32).
#define QK 32
#define BLOCK_BYTES 64

void dq32(uint blk, uint j, out float v[32]) {
    [[unroll]] for (uint i = 0u; i < 32u; i += 2u) {
        uint w = wb_u32(blk + 2u * i);
        v[i] = bf16_to_f32(w & 0xffffu);
        v[i + 1u] = bf16_to_f32(w >> 16);
    }
}
