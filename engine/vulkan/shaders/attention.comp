#version 450

// attention: for row t < n of qkv and query head h, over the cache
// positions j <= pos+t (causal), with key/value head g = h / (nhead/nheadkv)
// (grouped-query heads share their key/value head):
//
//   s_j = (q . k_j) * scale,  p = softmax(s),  d = sum_j p_j v_j
//
// with the CPU engine's order of operations (engine/cpu Attention):
//   - q . k_j in dotF32's order: 32 partial sums s[i mod 32] of products
//     rounded to float32, in increasing i, then its fixed reduce32 tree;
//   - x_j = s_j*scale, m = max x_j, e_j = exp(x_j - m), the e_j summed in
//     (emulated) float64, inv = float32(1/sum), p_j = e_j*inv;
//   - d[i] = sum over j in increasing order of float32(p_j * v_j[i]),
//     from 0.
// exp is computed as the CPU's correctly rounded one (exp_cpu, not the
// device's), the float64 sum as a float-float pair (see rms_norm.comp),
// and 1/sum corrected by its exact residual, so the result has the CPU's
// bits except in near-ties.
//
// One workgroup of WG invocations per (head, row); no subgroup operations,
// so any subgroup size works. Pass 1 finds the maximum score, pass 2 the
// sum of exponentials, pass 3 forms the probabilities tile by tile (WG
// positions at a time, in shared memory) and accumulates d. The scores
// and exponentials of the first SC_CACHE positions are kept in shared
// memory between the passes; later ones are recomputed, so the shared
// memory is fixed whatever the context length (any MaxCtx works).
// Head dimensions up to MAX_HD (the host refuses larger ones).

layout(local_size_x = 64) in;
#define WG 64
#define MAX_HD 512
#define ACC (MAX_HD / WG)

layout(binding = 0, std430) readonly buffer QKV { float qkv[]; };
layout(binding = 1, std430) readonly buffer K { float kc[]; };
layout(binding = 2, std430) readonly buffer V { float vc[]; };
layout(binding = 3, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform P {
    uint hd;      // head dimension
    uint group;   // query heads per key/value head
    uint qdim;    // width of all query heads (row width of d)
    uint kvdim;   // width of all key (or value) heads (row width of the caches)
    uint pos;     // cache position of row 0
    float scale;  // 1/sqrt(hd)
    uint qkv_off; // element offsets
    uint k_off;
    uint v_off;
    uint d_off;
} p;

shared float s_q[MAX_HD];
shared float s_hi[WG];
shared float s_lo[WG];
shared float s_p[WG];
// Scores, then exponentials, of the first SC_CACHE positions, so each is
// computed once; later positions (contexts past SC_CACHE) are recomputed
// in each pass. 8 KB: with the rest, under the 16 KB of shared memory
// every Vulkan device has.
#define SC_CACHE 2048
shared float s_sc[SC_CACHE];

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

// mac4 returns s + q[qi..qi+3] * k[ki..ki+3], each component's product
// rounded before its addition; components at or past lim add +0 (which
// leaves the sum's bits as they are: a sum of products from +0 is never
// -0).
vec4 mac4(vec4 s, uint qi, uint ki, uint lim) {
    vec4 q = vec4(0.0), k = vec4(0.0);
    if (qi + 3 < lim) {
        q = vec4(s_q[qi], s_q[qi + 1], s_q[qi + 2], s_q[qi + 3]);
        k = vec4(kc[ki], kc[ki + 1], kc[ki + 2], kc[ki + 3]);
    } else {
        for (uint c = 0; c < 4; c++) {
            if (qi + c < lim) {
                q[c] = s_q[qi + c];
                k[c] = kc[ki + c];
            }
        }
    }
    precise vec4 a = s + q * k;
    return a;
}

// score returns (q . k) * scale in dotF32's order: its 32 partial sums
// s[i mod 32] are the components of s0..s7 (s[4m+c] = sm[c]). Written out
// rather than as loops: glslc -O's loop unroller drops `precise`
// (NoContraction) from the copies it makes, and a local array indexed in a
// loop is slow on lavapipe.
float score(uint kb) {
    vec4 s0 = vec4(0.0), s1 = vec4(0.0), s2 = vec4(0.0), s3 = vec4(0.0);
    vec4 s4 = vec4(0.0), s5 = vec4(0.0), s6 = vec4(0.0), s7 = vec4(0.0);
    const uint hd = p.hd;
    for (uint i = 0; i < hd; i += 32) {
        s0 = mac4(s0, i, kb + i, hd);
        s1 = mac4(s1, i + 4, kb + i + 4, hd);
        s2 = mac4(s2, i + 8, kb + i + 8, hd);
        s3 = mac4(s3, i + 12, kb + i + 12, hd);
        s4 = mac4(s4, i + 16, kb + i + 16, hd);
        s5 = mac4(s5, i + 20, kb + i + 20, hd);
        s6 = mac4(s6, i + 24, kb + i + 24, hd);
        s7 = mac4(s7, i + 28, kb + i + 28, hd);
    }
    // t[l] = (s[l] + s[16+l]) + (s[8+l] + s[24+l]), l < 8: t0..3 and t4..7.
    precise vec4 ta = (s0 + s4) + (s2 + s6);
    precise vec4 tb = (s1 + s5) + (s3 + s7);
    // u[l] = t[l] + t[4+l]; result = (u0 + u2) + (u1 + u3).
    precise vec4 u = ta + tb;
    precise float r = ((u.x + u.z) + (u.y + u.w)) * p.scale;
    return r;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x;
    const uint t = gl_WorkGroupID.y;
    const uint g = h / p.group;
    const uint stride = p.qdim + 2 * p.kvdim;
    const uint visible = p.pos + t + 1;

    for (uint i = tid; i < p.hd; i += WG) {
        s_q[i] = qkv[p.qkv_off + t * stride + h * p.hd + i];
    }
    barrier();

    // Pass 1: the maximum scaled score (max is exact in any order).
    // Invocation tid handles positions j = tid (mod WG) in every pass,
    // so each s_sc[j] is written and read by one invocation.
    float m = -1.0 / 0.0;
    for (uint j = tid; j < visible; j += WG) {
        const float sc = score(p.k_off + j * p.kvdim + g * p.hd);
        if (j < SC_CACHE) {
            s_sc[j] = sc;
        }
        m = max(m, sc);
    }
    s_hi[tid] = m;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) {
            s_hi[tid] = max(s_hi[tid], s_hi[tid + s]);
        }
        barrier();
    }
    const float mx = s_hi[0];
    barrier();

    // Pass 2: the sum of exponentials, float-float.
    float hi = 0.0, lo = 0.0;
    for (uint j = tid; j < visible; j += WG) {
        const float sc = j < SC_CACHE ? s_sc[j] : score(p.k_off + j * p.kvdim + g * p.hd);
        precise float e = exp_cpu(sc - mx);
        if (j < SC_CACHE) {
            s_sc[j] = e;
        }
        ff_add(hi, lo, e, 0.0);
    }
    s_hi[tid] = hi;
    s_lo[tid] = lo;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) {
            float a = s_hi[tid], b = s_lo[tid];
            ff_add(a, b, s_hi[tid + s], s_lo[tid + s]);
            s_hi[tid] = a;
            s_lo[tid] = b;
        }
        barrier();
    }
    // inv = float32(1/(hi+lo)), corrected by the exact remainder.
    const float shi = s_hi[0], slo = s_lo[0];
    precise float q0 = 1.0 / shi;
    float pr, pe;
    two_prod(q0, shi, pr, pe);
    precise float rem = ((1.0 - pr) - pe) - q0 * slo;
    const float inv = corrected(q0, rem, q0);

    // Pass 3: tiles of WG positions; each invocation owns output
    // dimensions tid, tid+WG, ... and adds the tile's terms in order.
    float acc[ACC];
    for (uint a = 0; a < ACC; a++) {
        acc[a] = 0.0;
    }
    for (uint j0 = 0; j0 < visible; j0 += WG) {
        barrier(); // the previous tile's s_p is read by everyone
        const uint j = j0 + tid;
        if (j < visible) {
            const float e = j < SC_CACHE ? s_sc[j] : exp_cpu(score(p.k_off + j * p.kvdim + g * p.hd) - mx);
            precise float pj = e * inv;
            s_p[tid] = pj;
        }
        barrier();
        const uint jn = min(WG, visible - j0);
        for (uint a = 0; a < ACC; a++) {
            const uint i = tid + a * WG;
            if (i < p.hd) {
                float o = acc[a];
                const uint vb = p.v_off + j0 * p.kvdim + g * p.hd + i;
                for (uint jj = 0; jj < jn; jj++) {
                    precise float y = o + s_p[jj] * vc[vb + jj * p.kvdim];
                    o = y;
                }
                acc[a] = o;
            }
        }
    }
    for (uint a = 0; a < ACC; a++) {
        const uint i = tid + a * WG;
        if (i < p.hd) {
            d[p.d_off + t * p.qdim + h * p.hd + i] = acc[a];
        }
    }
}
