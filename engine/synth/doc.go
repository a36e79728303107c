// Package synth writes synthetic llama-family GGUF models with random
// weights: any shape, architecture and per-tensor block type. Benchmarks
// use it for models the fixtures do not cover (a Qwen2-0.5B shape), and
// tests use it for architectures the fixtures lack (llama, mistral, qwen3,
// one KV head, separate output weights), checked against llama.cpp.
//
// Weights are drawn from a seeded generator, so a Spec always gives the
// same file; quantized types go through quant.QuantizeWeights.
package synth
