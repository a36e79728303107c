package gpu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = framework.DescribeContract("cpu-vs-gpu-forward-parity-v1")

// requireVulkan names the variable that makes a missing Vulkan device a
// failure rather than a SKIP: CI sets it where it installed lavapipe, so
// the contract's gates must PASS there, not SKIP.
const requireVulkan = "FALSIFY_REQUIRE_VULKAN"

// requireSetting reads requireVulkan's value: "1" requires the device,
// "" or "0" does not; anything else is an error, so that a typo in CI
// ("true", "yes") cannot quietly let the gates SKIP.
func requireSetting(v string) (bool, error) {
	switch v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: want 1 (a missing Vulkan device fails the suite) or 0", requireVulkan, v)
}

func TestRequireSetting(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "1": true} {
		if got, err := requireSetting(v); err != nil || got != want {
			t.Errorf("%s=%q: %v, %v; want %v", requireVulkan, v, got, err, want)
		}
	}
	for _, v := range []string{"yes", "true", " 1"} {
		if _, err := requireSetting(v); err == nil || !strings.Contains(err.Error(), requireVulkan) {
			t.Errorf("%s=%q: %v, want an error naming the variable", requireVulkan, v, err)
		}
	}
}

func TestCPUvsGPUForwardParity(t *testing.T) {
	// Mesa keeps compiled pipelines here between runs (a cold lavapipe
	// compiles each shader variant for up to seconds); the variable must
	// be set before the driver loads.
	if os.Getenv("MESA_SHADER_CACHE_DIR") == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			t.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(dir, "falsify", "mesa-shader-cache"))
		}
	}
	require, err := requireSetting(os.Getenv(requireVulkan))
	if err != nil {
		t.Fatal(err)
	}
	if require {
		dev, err := engine.ProbeBackend("vulkan")
		if err != nil {
			t.Fatalf("%s=1, but the vulkan backend cannot run here: %v", requireVulkan, err)
		}
		t.Logf("vulkan device: %s", dev)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "cpu-vs-gpu-forward-parity-v1")
}
