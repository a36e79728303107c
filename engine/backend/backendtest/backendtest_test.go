package backendtest_test

import (
	"os"
	"reflect"
	"slices"
	"testing"

	_ "github.com/falsify/falsify/engine" // registers the engine's backends
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/backend/backendtest"
	"github.com/falsify/falsify/engine/vulkan"
	"github.com/falsify/falsify/engine/vulkan/vk"
)

// TestMain runs the Vulkan backend under the Khronos validation layer
// when it is installed (as engine/vulkan's tests do): a validation
// message makes the backend's Close fail, which Compare reports as a
// failed "Close" row.
func TestMain(m *testing.M) {
	if os.Getenv(vulkan.EnvValidate) == "" && vk.Load() == nil {
		if layers, err := vk.InstanceLayers(); err == nil && slices.Contains(layers, vk.ValidationLayer) {
			os.Setenv(vulkan.EnvValidate, "1")
		}
	}
	os.Exit(m.Run())
}

// The CPU backend against ggml's CPU backend (the CPU variant ggml's
// loader picks here), operation by operation; every operation of
// backend.Context is among the rows.
func TestCPU(t *testing.T) {
	rep := backendtest.Check(t, "cpu")
	ops := map[string]bool{}
	for _, r := range rep.Results {
		ops[r.Op] = true
	}
	ctx := reflect.TypeFor[backend.Context]()
	for i := range ctx.NumMethod() {
		m := ctx.Method(i).Name
		switch m {
		case "Alloc", "View", "Write", "Read", "Close": // used by every case
		default:
			if !ops[m] {
				t.Errorf("backend.Context.%s has no conformance case", m)
			}
		}
	}
	for _, k := range []string{"MatMul Q4_K quantized", "MatMul BF16 f32", "Embed Q6_K", "Attention (per head)", "Attention (llama.cpp)"} {
		if _, ok := rep.Worst()[k]; !ok {
			t.Errorf("Worst() lacks %q", k)
		}
	}
}

// The Vulkan backend against ggml's Vulkan backend on the same device
// (FALSIFY_VULKAN_DEVICE picks it for both). Skips, with the reason,
// while "vulkan" is not registered in this build or has no device here.
func TestVulkan(t *testing.T) {
	t.Logf("%s=%q (1: the Khronos validation layer is on, and its messages fail Close)", vulkan.EnvValidate, os.Getenv(vulkan.EnvValidate))
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
