package gpu

import (
	"os"
	"path/filepath"
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

func TestCPUvsGPUForwardParity(t *testing.T) {
	// Mesa keeps compiled pipelines here between runs (a cold lavapipe
	// compiles each shader variant for up to seconds); the variable must
	// be set before the driver loads.
	if os.Getenv("MESA_SHADER_CACHE_DIR") == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			t.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(dir, "falsify", "mesa-shader-cache"))
		}
	}
	if os.Getenv(requireVulkan) == "1" {
		dev, err := engine.ProbeBackend("vulkan")
		if err != nil {
			t.Fatalf("%s=1, but the vulkan backend cannot run here: %v", requireVulkan, err)
		}
		t.Logf("vulkan device: %s", dev)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "cpu-vs-gpu-forward-parity-v1")
}
