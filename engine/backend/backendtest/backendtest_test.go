package backendtest_test

import (
	"testing"

	_ "github.com/falsify/falsify/engine" // registers the engine's backends
	"github.com/falsify/falsify/engine/backend/backendtest"
)

// The CPU backend against ggml's CPU backend (the CPU variant ggml's
// loader picks here), operation by operation.
func TestCPU(t *testing.T) {
	backendtest.Check(t, "cpu")
}

// The Vulkan backend against ggml's Vulkan backend on the same device
// (FALSIFY_VULKAN_DEVICE picks it for both). Skips, with the reason,
// while "vulkan" is not registered in this build or has no device here.
func TestVulkan(t *testing.T) {
	backendtest.Check(t, "vulkan")
}
