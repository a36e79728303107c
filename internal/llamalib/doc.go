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
//
// Options.Backend "vulkan" also loads ggml's Vulkan backend
// (libggml-vulkan.so of the linux-x64-vulkan package, vulkan.go) into the
// same registry, offloads every layer to one Vulkan device
// (FALSIFY_VULKAN_DEVICE, else device 0, so that Mesa's CPU-type lavapipe
// is used too) and reads, from each captured graph node's buffer, the
// device the scheduler computed it on: a Vulkan run that did not compute
// its layers on the Vulkan device is an error, not a CPU run under a
// Vulkan label.
package llamalib
