#version 450

// add_bias: for n rows of width stride, d[t*stride + off + i] += b[i] for
// i < len (ggml_add of a bias row broadcast over the tokens). The bias is
// an F32 weight: raw little-endian floats in the weight buffer, from word
// b_off on.

layout(local_size_x = 256) in;

layout(binding = 0, std430) readonly buffer W { uint w_words[]; };
layout(binding = 1, std430) buffer D { float d[]; };

layout(push_constant) uniform P {
    uint len;    // bias elements (columns touched per row)
    uint n;      // rows (tokens)
    uint stride; // row width of d
    uint d_off;  // element offset of d's first row, column off included
    uint b_off;  // word offset of the bias in the weight buffer
} p;

void main() {
    const uint total = p.len * p.n;
    const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint e = gl_GlobalInvocationID.x; e < total; e += step) {
        const uint t = e / p.len, i = e % p.len;
        const uint at = p.d_off + t * p.stride + i;
        precise float s = d[at] + uintBitsToFloat(w_words[p.b_off + i]);
        d[at] = s;
    }
}
