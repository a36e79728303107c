#version 450

// silu: d[i] = x[i] / (1 + exp(-x[i])) for i < n (ggml_silu_f32, the
// CPU engine's silu), with the CPU's rounding: exp correctly rounded
// (exp_cpu, not the device's exp), 1 + e rounded, and the quotient
// corrected by its exact residual (the device's division may be off by
// 2.5 ulp). d and x may be the same elements.

layout(local_size_x = 256) in;

layout(binding = 0, std430) buffer D { float d[]; };
layout(binding = 1, std430) readonly buffer X { float x[]; };

layout(push_constant) uniform P {
    uint n;
    uint d_off;
    uint x_off;
} p;

// two_prod sets p + e = a*b exactly (Dekker's product with Veltkamp's
// 12-bit split): no fma, which some drivers (lavapipe) compute unfused.
void two_prod(float a, float b, out float p, out float e) {
    precise float pp = a * b;
    precise float ca = 4097.0 * a;
    precise float ah = ca - (ca - a);
    precise float al = a - ah;
    precise float cb = 4097.0 * b;
    precise float bh = cb - (cb - b);
    precise float bl = b - bh;
    precise float ee = ((ah * bh - pp) + ah * bl + al * bh) + al * bl;
    p = pp;
    e = ee;
}

// corrected returns q0 + r*k, or q0 where the correction is not finite
// (a huge or zero operand: nothing to correct).
float corrected(float q0, float r, float k) {
    precise float q = q0 + r * k;
    return (isinf(q) || isnan(q)) ? q0 : q;
}

// exp_cpu returns float32(exp(x)) correctly rounded (as the CPU's
// float32(math.Exp(float64(x))), except in rare near-ties and for
// subnormal results), without the device's exp (Vulkan allows 3+2|x| ulp):
// x = k*ln2 + r with ln2 in three parts (k*C1 exact, k*C2 by an exact
// product), exp(r) for |r| <= ln2/2 by its Taylor series to degree 12 in
// float-float arithmetic (about 46 bits), rounded once, scaled by 2^k.
const uint EXP_C[26] = uint[](
    0x3f800000u, 0x00000000u,
    0x3f800000u, 0x00000000u,
    0x3f000000u, 0x00000000u,
    0x3e2aaaabu, 0xb1aaaaabu,
    0x3d2aaaabu, 0xb0aaaaabu,
    0x3c088889u, 0xafeeeeefu,
    0x3ab60b61u, 0xae13e93fu,
    0x39500d01u, 0xac3fcbfdu,
    0x37d00d01u, 0xaabfcbfdu,
    0x3638ef1du, 0x292ad8e6u,
    0x3493f27eu, 0xa808760au,
    0x32d7322bu, 0x25fea89cu,
    0x310f76c7u, 0x24ff8d89u);

void two_sum(float a, float b, out float s, out float e) {
    precise float ss = a + b;
    precise float bb = ss - a;
    precise float ee = (a - (ss - bb)) + (b - bb);
    s = ss;
    e = ee;
}

void fast_two_sum(float a, float b, out float s, out float e) {
    precise float ss = a + b;
    precise float ee = b - (ss - a);
    s = ss;
    e = ee;
}

vec2 ff_mul2(vec2 a, vec2 b) {
    float p, e;
    two_prod(a.x, b.x, p, e);
    precise float e2 = e + (a.x * b.y + a.y * b.x);
    float s, t;
    fast_two_sum(p, e2, s, t);
    return vec2(s, t);
}

vec2 ff_add2(vec2 a, vec2 b) {
    float s, e;
    two_sum(a.x, b.x, s, e);
    precise float e2 = e + (a.y + b.y);
    float h, l;
    fast_two_sum(s, e2, h, l);
    return vec2(h, l);
}

float exp_cpu(float x) {
    if (isnan(x)) {
        return x;
    }
    if (x > uintBitsToFloat(0x42b17217u)) { // past 88.7228317: float32 overflow
        return uintBitsToFloat(0x7f800000u);
    }
    if (x < -104.0) {
        return 0.0;
    }
    precise float kf = roundEven(x * 1.44269502162933349609375);
    const float C1 = uintBitsToFloat(0x3f317000u); // 12 bits: k*C1 is exact
    const float C2 = uintBitsToFloat(0x3805fdf4u);
    const float C3 = uintBitsToFloat(0x2be7bcd6u);
    precise float a = x - kf * C1; // exact (Sterbenz)
    float p, pe;
    two_prod(kf, C2, p, pe);
    float s, se;
    two_sum(a, -p, s, se);
    precise float lo = (se - pe) - kf * C3;
    float rh, rl;
    fast_two_sum(s, lo, rh, rl);
    const vec2 r = vec2(rh, rl);
    vec2 acc = vec2(uintBitsToFloat(EXP_C[24]), uintBitsToFloat(EXP_C[25]));
#define EXP_STEP(i) acc = ff_add2(ff_mul2(acc, r), vec2(uintBitsToFloat(EXP_C[2 * i]), uintBitsToFloat(EXP_C[2 * i + 1])))
    // Horner steps written out, not as a loop: glslc -O's loop unroller
    // drops `precise` from the copies it makes.
    EXP_STEP(11); EXP_STEP(10); EXP_STEP(9); EXP_STEP(8); EXP_STEP(7); EXP_STEP(6);
    EXP_STEP(5); EXP_STEP(4); EXP_STEP(3); EXP_STEP(2); EXP_STEP(1); EXP_STEP(0);
#undef EXP_STEP
    precise float h = acc.x + acc.y;
    const int k = int(kf);
    return ldexp(ldexp(h, k / 2), k - k / 2);
}

void main() {
    const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step) {
        const float v = x[p.x_off + i];
        precise float den = 1.0 + exp_cpu(-v);
        precise float q0 = v / den;
        float pr, pe;
        two_prod(q0, den, pr, pe);
        precise float rem = (v - pr) - pe;
        d[p.d_off + i] = corrected(q0, rem, 1.0 / den);
    }
}
