#version 450

// mul: d[i] *= x[i] for i < n (the SwiGLU product, ggml_mul of two rows
// of the same shape). Tensors are (buffer, element offset) views.

layout(local_size_x = 256) in;

layout(binding = 0, std430) buffer D { float d[]; };
layout(binding = 1, std430) readonly buffer X { float x[]; };

layout(push_constant) uniform P {
    uint n;     // elements
    uint d_off; // element offset of d
    uint x_off; // element offset of x
} p;

void main() {
    // Grid-stride loop: the host caps the group count at the device's
    // maxComputeWorkGroupCount, so any n is covered.
    const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step) {
        precise float s = d[p.d_off + i] * x[p.x_off + i];
        d[p.d_off + i] = s;
    }
}
