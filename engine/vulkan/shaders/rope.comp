#version 450

// rope: rotates, in place, the first nrot dimensions of every query and
// key head of n rows of qkv (row t at position pos+t), as ggml_rope_ext
// does: normal pairs (2i, 2i+1) or NEOX pairs (i, i+nrot/2),
//
//   x0' = x0*cos - x1*sin,  x1' = x0*sin + x1*cos
//
// each product rounded before the addition (precise: no FMA), as the CPU
// engine's rope. cos and sin of each (row, pair) come from a table the
// host fills with the CPU engine's ropeCacheScaled (position, frequency
// base, rope_freqs factors, linear scale, YaRN ramp and attention factor),
// so the angles have the CPU's bits whatever the device's sin/cos
// accuracy: cs[cs_off + (t*half + i)*2] is cos, +1 is sin.

layout(local_size_x = 64) in;

layout(binding = 0, std430) buffer QKV { float x[]; };
layout(binding = 1, std430) readonly buffer CS { float cs[]; };

layout(push_constant) uniform P {
    uint n;       // rows
    uint nheads;  // query heads + key heads (the key heads follow the query heads)
    uint hd;      // head dimension
    uint half_;   // nrot / 2
    uint stride;  // row width of qkv (qdim + 2*kvdim)
    uint neox;    // 1: NEOX pairs
    uint x_off;   // element offsets
    uint cs_off;
} p;

void main() {
    // One invocation per (row, head, pair).
    const uint total = p.n * p.nheads * p.half_;
    const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint e = gl_GlobalInvocationID.x; e < total; e += step) {
        const uint i = e % p.half_;
        const uint h = (e / p.half_) % p.nheads;
        const uint t = e / (p.half_ * p.nheads);
        const uint base = p.x_off + t * p.stride + h * p.hd;
        const uint i0 = p.neox != 0 ? base + i : base + 2 * i;
        const uint i1 = p.neox != 0 ? base + i + p.half_ : base + 2 * i + 1;
        const float c = cs[p.cs_off + (t * p.half_ + i) * 2];
        const float s = cs[p.cs_off + (t * p.half_ + i) * 2 + 1];
        const float x0 = x[i0], x1 = x[i1];
        precise float a0 = x0 * c;
        precise float b0 = x1 * s;
        precise float a1 = x0 * s;
        precise float b1 = x1 * c;
        precise float r0 = a0 - b0;
        precise float r1 = a1 + b1;
        x[i0] = r0;
        x[i1] = r1;
    }
}
