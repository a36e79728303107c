// Package gpu runs contract cpu-vs-gpu-forward-parity-v1: the same models
// traced on the CPU backend and on the Vulkan GPU backend, compared slot
// by slot at every layer within bands measured on lavapipe, logits top-1
// and KL, and two GPU runs bit for bit. Without a Vulkan device every gate
// SKIPs with the reason; with FALSIFY_REQUIRE_VULKAN=1 (CI, which installs
// lavapipe) a missing device fails the suite instead.
package gpu
