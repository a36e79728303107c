package vulkan

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/vulkan/vk"
	"github.com/falsify/falsify/trace"
)

// TestMain turns the Khronos validation layer on for every test of the
// package when it is installed (tests then fail on any message, see
// openVK) and keeps Mesa's shader cache under ~/.cache/falsify, so
// lavapipe compiles each pipeline once across runs.
func TestMain(m *testing.M) {
	if name := os.Getenv(envTestLoader); name != "" {
		vk.LoaderName = name // TestNoLoader's child process
	}
	if os.Getenv("MESA_SHADER_CACHE_DIR") == "" {
		if home, err := os.UserHomeDir(); err == nil {
			os.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(home, ".cache", "falsify", "mesa-shader-cache"))
		}
	}
	if os.Getenv(EnvValidate) == "" && vk.Load() == nil {
		if layers, err := vk.InstanceLayers(); err == nil && slices.Contains(layers, vk.ValidationLayer) {
			os.Setenv(EnvValidate, "1")
		}
	}
	code := m.Run()
	// Objects leaked at instance level are reported as it is destroyed.
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	os.Exit(code)
}

// envTestLoader, set by TestNoLoader for its child process, replaces the
// Vulkan loader's library name before anything loads it.
const envTestLoader = "FALSIFY_VULKAN_TEST_LOADER"

// TestNoLoader: without a Vulkan loader, Open fails with an error wrapping
// backend.ErrUnavailable that names the missing library (run in a child
// process, since the loader is opened once per process).
func TestNoLoader(t *testing.T) {
	if os.Getenv(envTestLoader) != "" {
		_, err := backend.Open(Name, testConfig(trace.MatmulF32))
		if !errors.Is(err, backend.ErrUnavailable) || !strings.Contains(err.Error(), "no Vulkan loader") || !strings.Contains(err.Error(), os.Getenv(envTestLoader)) {
			t.Fatalf("Open without a loader: %v", err)
		}
		t.Logf("%v", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestNoLoader$", "-test.v")
	cmd.Env = append(os.Environ(), envTestLoader+"=libvulkan-absent.so.1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoLoader") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "no Vulkan loader") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// openVK opens the Vulkan backend for cfg or skips the test with the
// reason when this machine has no Vulkan device. At cleanup it closes
// the backend and fails the test on any validation message (Close
// returns them, leaks included).
func openVK(t testing.TB, cfg backend.Config) *Backend {
	t.Helper()
	be, err := backend.Open(Name, cfg)
	if errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatalf("open vulkan: %v", err)
	}
	b := be.(*Backend)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

// validationClean fails t if the validation layer reported anything.
func validationClean(t testing.TB, b *Backend) {
	t.Helper()
	for _, m := range b.ValidationMessages() {
		t.Errorf("validation: %s", m)
	}
}

// nmseF32 is sum((got-want)^2) / sum(want^2) in float64.
func nmseF32(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return num
	}
	return num / den
}

// testConfig is a small attention geometry in matmul mode.
func testConfig(mode trace.MatmulMode) backend.Config {
	return backend.Config{Matmul: mode, Attn: backend.Attn{NHead: 4, NHeadKV: 2, HeadDim: 16, NRot: 16, RopeTheta: 10000, RMSEps: 1e-6}}
}

// TestDevice: Device names the device, its type, driver and API version.
func TestDevice(t *testing.T) {
	b := openVK(t, testConfig(trace.MatmulF32))
	d := b.Device()
	if b.info.Name() == "" || !strings.Contains(d, b.info.Name()) || !strings.Contains(d, "Vulkan 1.") || !strings.Contains(d, b.info.TypeName()) {
		t.Fatalf("device description %q lacks name, type or API version", d)
	}
	t.Logf("device: %s", d)
}
