// scale_min_k4.glsl: the 6-bit scales and mins of Q4_K and Q5_K, packed
// in 12 bytes (ggml-quants.c get_scale_min_k4). Included by their type
// files; not a weight type itself.

// scale_min_k4 returns sub-block j's 6-bit scale (x) and min (y); sb is
// the byte offset of the 12 packed bytes.
uvec2 scale_min_k4(uint sb, uint j) {
    if (j < 4u) {
        return uvec2(wb_u8(sb + j) & 63u, wb_u8(sb + j + 4u) & 63u);
    }
    const uint b = wb_u8(sb + j + 4u);
    return uvec2((b & 0xFu) | ((wb_u8(sb + j - 4u) >> 6) << 4),
                 (b >> 4) | ((wb_u8(sb + j) >> 6) << 4));
}
