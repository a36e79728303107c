// Exact conversions between float32 and the 16-bit float formats, in
// integer arithmetic so no driver-defined rounding is involved (GLSL's
// packHalf2x16 leaves the rounding mode to the implementation).

#ifndef FALSIFY_HALF_GLSL
#define FALSIFY_HALF_GLSL

// f16_to_f32 is the exact value of IEEE half h (low 16 bits).
float f16_to_f32(uint h) {
    uint s = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint m = h & 0x3ffu;
    if (e == 0u) {
        // Zero or subnormal: m * 2^-24, exact in float32.
        float v = float(m) * 5.9604644775390625e-8;
        return s != 0u ? -v : v;
    }
    if (e == 31u) {
        return uintBitsToFloat(s | 0x7f800000u | (m << 13));
    }
    return uintBitsToFloat(s | ((e + 112u) << 23) | (m << 13));
}

// f32_to_f16 rounds f to the nearest half, ties to even (as x86 F16C and
// ggml's GGML_FP32_TO_FP16 do); NaN stays NaN, overflow goes to infinity.
uint f32_to_f16(float f) {
    uint x = floatBitsToUint(f);
    uint s = (x >> 16) & 0x8000u;
    uint e = (x >> 23) & 0xffu;
    uint m = x & 0x7fffffu;
    if (e == 255u) {
        return s | 0x7c00u | (m != 0u ? 0x200u : 0u);
    }
    int ne = int(e) - 112; // exponent in half's bias
    if (ne >= 31) {
        return s | 0x7c00u;
    }
    if (ne <= 0) {
        if (ne < -10) {
            return s;
        }
        m |= 0x800000u;
        uint shift = uint(14 - ne);
        uint h = m >> shift;
        uint rem = m & ((1u << shift) - 1u);
        uint halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (h & 1u) != 0u)) {
            h++;
        }
        return s | h;
    }
    uint h = (uint(ne) << 10) | (m >> 13);
    uint rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) {
        h++; // a carry into the exponent is the right rounding (up to infinity)
    }
    return s | h;
}

// round_f16 is f rounded to the nearest half, as a float32.
float round_f16(float f) { return f16_to_f32(f32_to_f16(f)); }

// bf16_to_f32 is the exact value of bfloat16 h (low 16 bits).
float bf16_to_f32(uint h) { return uintBitsToFloat(h << 16); }

// round_bf16 is f rounded to bfloat16 as ggml_compute_fp32_to_bf16 does
// (nearest, ties to even; NaN made quiet), as a float32.
float round_bf16(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return uintBitsToFloat(((u >> 16) | 64u) << 16);
    }
    return uintBitsToFloat(((u + (0x7fffu + ((u >> 16) & 1u))) >> 16) << 16);
}

#endif
