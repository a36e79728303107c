// F32 weights: one "block" is 32 floats (ggml's F32 has no blocks; 32 is
// the sub-block every type's dq32 yields).
#define QK 32
#define BLOCK_BYTES 128

void dq32(uint blk, uint j, out float v[32]) {
    uint w = blk >> 2; // F32 rows are 4-byte aligned
    [[unroll]] for (uint i = 0u; i < 32u; i++) {
        v[i] = uintBitsToFloat(w_words[w + i]);
    }
}
