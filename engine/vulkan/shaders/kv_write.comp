#version 450

// kv_write: copies the K and V parts of n rows of qkv ([Q | K | V] per
// row, row width qdim + 2*kvdim) into rows pos..pos+n-1 of one layer's
// caches k and v (each (MaxCtx, kvdim)).

layout(local_size_x = 256) in;

layout(binding = 0, std430) readonly buffer QKV { float qkv[]; };
layout(binding = 1, std430) writeonly buffer K { float k[]; };
layout(binding = 2, std430) writeonly buffer V { float v[]; };

layout(push_constant) uniform P {
    uint n;       // rows
    uint qdim;    // width of all query heads
    uint kvdim;   // width of all key (or value) heads
    uint pos;     // cache row of qkv's first row
    uint qkv_off; // element offsets
    uint k_off;
    uint v_off;
} p;

void main() {
    const uint total = p.n * p.kvdim;
    const uint stride = p.qdim + 2 * p.kvdim;
    const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint e = gl_GlobalInvocationID.x; e < total; e += step) {
        const uint t = e / p.kvdim, i = e % p.kvdim;
        const uint src = p.qkv_off + t * stride + p.qdim + i;
        const uint dst = (p.pos + t) * p.kvdim + i;
        k[p.k_off + dst] = qkv[src];
        v[p.v_off + dst] = qkv[src + p.kvdim];
    }
}
