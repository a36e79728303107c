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

// The CPU backend against ggml's Vulkan backend: across devices, so the
// same tolerances also bound how far ggml's own Vulkan results are from
// the CPU's (the floor a Vulkan backend is measured against).
func TestCPUVsGGMLVulkan(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: ggml's Vulkan pipelines compile for minutes cold on lavapipe")
	}
	rep, err := backendtest.CompareWith("cpu", "vulkan")
	if backendtest.Unavailable(err) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	for _, r := range rep.Results {
		if !r.OK() {
			t.Errorf("%s %s %s %s: NMSE %.3g, tolerance %.0e, error %v", r.Op, r.Type, r.Mode, r.Setup, r.NMSE, r.Tol, r.Err)
		}
	}
}
