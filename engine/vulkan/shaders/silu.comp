#version 450

// silu: d[i] = x[i] / (1 + exp(-x[i])) for i < n (ggml_silu_f32, the
// CPU engine's silu). d and x may be the same elements.

layout(local_size_x = 256) in;

layout(binding = 0, std430) buffer D { float d[]; };
layout(binding = 1, std430) readonly buffer X { float x[]; };

layout(push_constant) uniform P {
    uint n;
    uint d_off;
    uint x_off;
} p;

void main() {
    const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step) {
        const float v = x[p.x_off + i];
        precise float r = v / (1.0 + exp(-v));
        d[p.d_off + i] = r;
    }
}
