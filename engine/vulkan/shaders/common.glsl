// common.glsl: the weight buffer (binding 0: a model weight's raw GGUF
// bytes as 32-bit words) and byte-offset readers for it. Rows of most
// quantized types are not 4-byte aligned (a Q4_0 block is 18 bytes), so
// every weight read goes through these. Offsets are in bytes from the
// buffer's start; multi-byte values are little-endian as GGUF stores them.

#ifndef FALSIFY_COMMON_GLSL
#define FALSIFY_COMMON_GLSL

#include "half.glsl"

layout(std430, binding = 0) readonly buffer Weights { uint w_words[]; };

// wb_u8 is the byte at off.
uint wb_u8(uint off) { return (w_words[off >> 2] >> ((off & 3u) * 8u)) & 0xffu; }

// wb_i8 is the byte at off, sign-extended.
int wb_i8(uint off) { return bitfieldExtract(int(w_words[off >> 2]), int((off & 3u) * 8u), 8); }

// wb_u16 is the 16-bit value at off (off even).
uint wb_u16(uint off) { return (w_words[off >> 2] >> ((off & 2u) * 8u)) & 0xffffu; }

// wb_u32 is the 32-bit value at off (off even, maybe not 4-aligned).
uint wb_u32(uint off) {
    if ((off & 3u) == 0u) {
        return w_words[off >> 2];
    }
    return wb_u16(off) | (wb_u16(off + 2u) << 16);
}

// wb_f16 is the IEEE half at off (exact conversion).
float wb_f16(uint off) { return f16_to_f32(wb_u16(off)); }

// wb_bf16 is the bfloat16 at off (exact conversion).
float wb_bf16(uint off) { return bf16_to_f32(wb_u16(off)); }

#endif
