// Package builtin holds the models and goldens embedded in the falsify
// binary, so a fresh clone runs every contract with no model files:
// "builtin:NAME" in a contract names one of them.
//
// Embedded files are written once to a cache directory (the engine maps
// models from files) and reused while their content hash matches. Derived
// builtins are made on demand from embedded ones:
//
//	qwen2-tiny-q4_k_m.gguf          the qwen2-tiny Q4_K_M fixture (llama-quantize output)
//	qwen2-tiny-q4_k_m.golden        llama.cpp's forward pass on it (fixtures golden/forward)
//	qwen2-tiny-q4_k_m-as-f32.gguf   the same weights dequantized and stored as F32 (an F32
//	                                model for gates that need one; not the fixtures' F32 file)
package builtin
