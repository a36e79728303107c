// Package decode runs contract decode-path-parity-v1: the KV-cache decode
// path against the batch path in the engine, against llama.cpp's decode,
// and llama.cpp's f16 KV cache against its f32 cache.
package decode
