#version 450

// qk_norm: RMSNorm of every head, in place (qwen3's attn_q_norm and
// attn_k_norm): for n rows of qkv (width stride) and heads h < nheads,
// the hd values at column first + h*hd are replaced by
// x / sqrt(mean(x^2) + eps) * w, with rms_norm.comp's rounding (float-float
// sum of float32 squares, CPU-rounded mean and reciprocal square root).
// The host dispatches it once for the query heads and once for the key
// heads, each with its own F32 weight (hd floats from word w_off); a head
// kind without a weight is not dispatched. One workgroup per (head, row).

layout(local_size_x = 64) in;
#define WG 64

layout(binding = 0, std430) readonly buffer W { uint w_words[]; };
layout(binding = 1, std430) buffer QKV { float x[]; };

layout(push_constant) uniform P {
    uint hd;     // head dimension (values normalized together)
    uint stride; // row width of qkv
    uint first;  // column of the first head
    uint x_off;  // element offset of qkv
    uint w_off;  // word offset of the weight
    float eps;
} p;

shared float s_hi[WG];
shared float s_lo[WG];

// ff_add sets (hi, lo) to a float-float approximation of (hi+lo)+(bh+bl).
void ff_add(inout float hi, inout float lo, float bh, float bl) {
    precise float s = hi + bh;
    precise float bb = s - hi;
    precise float e = (hi - (s - bb)) + (bh - bb);
    precise float e2 = e + (lo + bl);
    precise float h = s + e2;
    precise float l = e2 - (h - s);
    hi = h;
    lo = l;
}

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

// ff_div returns float32((hi+lo)/n): the device's quotient corrected by
// its exact remainder, so the device's division accuracy (Vulkan allows
// 2.5 ulp) does not matter.
float ff_div(float hi, float lo, float n) {
    precise float q0 = hi / n;
    float p, e;
    two_prod(q0, n, p, e);
    precise float r = ((hi - p) - e) + lo;
    return corrected(q0, r, 1.0 / n);
}

// rsqrt_cpu returns 1/sqrtf(a) as the CPU computes it (a correctly rounded
// square root, then a correctly rounded reciprocal), each device result
// corrected by a Newton step with an exact residual.
float rsqrt_cpu(float a) {
    precise float s0 = sqrt(a);
    float p, e;
    two_prod(s0, s0, p, e);
    precise float rs = (a - p) - e;
    const float s = corrected(s0, rs, 0.5 / s0);
    precise float q0 = 1.0 / s;
    two_prod(q0, s, p, e);
    precise float rq = (1.0 - p) - e;
    return corrected(q0, rq, q0);
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint xr = p.x_off + gl_WorkGroupID.y * p.stride + p.first + gl_WorkGroupID.x * p.hd;
    float hi = 0.0, lo = 0.0;
    for (uint i = tid; i < p.hd; i += WG) {
        const float v = x[xr + i];
        precise float sq = v * v;
        ff_add(hi, lo, sq, 0.0);
    }
    s_hi[tid] = hi;
    s_lo[tid] = lo;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) {
            float h = s_hi[tid], l = s_lo[tid];
            ff_add(h, l, s_hi[tid + s], s_lo[tid + s]);
            s_hi[tid] = h;
            s_lo[tid] = l;
        }
        barrier();
    }
    const float mean = ff_div(s_hi[0], s_lo[0], float(p.hd));
    precise float a = mean + p.eps;
    const float scale = rsqrt_cpu(a);
    // Each thread rewrites only the elements it read above, after the
    // barriers that ended every read of the sum.
    for (uint i = tid; i < p.hd; i += WG) {
        precise float y = (x[xr + i] * scale) * uintBitsToFloat(w_words[p.w_off + i]);
        x[xr + i] = y;
    }
}
