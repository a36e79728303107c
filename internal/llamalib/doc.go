// Package llamalib runs a GGUF model in llama.cpp itself, in process: the
// prebuilt libllama/ggml libraries of the node-llama-cpp 3.21.1 install
// (scripts/fetch-llamacpp.sh) loaded through purego, no Node process in
// the path. The graph tensors are read through the scheduler's eval
// callback (cb_eval in llama_context_params) and mapped to the slots of
// docs/capture-points.md, giving the same trace.Trace the engine gives.
//
// The C structs are mirrored from the llama.h and ggml.h of that exact
// build (node-llama-cpp/llama/gitRelease.bundle); the tests check the
// offsets against the library's own default parameters and accessors.
// Only the CPU backend is built here; Vulkan needs the GPU loader of
// issue 11.
package llamalib
