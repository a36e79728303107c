package llamalib

import (
	"fmt"
	"os/exec"
	"path/filepath"

	"errors"
	"github.com/ebitengine/purego"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

// vulkanBand is the per-slot NMSE band for llama.cpp on Vulkan vs
// llama.cpp on the CPU, same model and settings (f32 KV cache, flash
// attention off), set from the worst values measured on lavapipe (the
// table in docs/contracts.md):
//   - embed: 0; both runs look up the same rows (measured 0 everywhere);
//   - F32 and F16 weights: 1e-5, about 5x the worst measured (1.9e-6,
//     f16 ffn_out); both backends multiply in F32, only the order of
//     the sums differs;
//   - quantized weights: 1e-2, about 7x the worst measured (1.4e-3,
//     Q4_K_M ffn_out; the CPU quantizes activations to Q8_K/Q8_0 for the
//     dot products, the Vulkan kernels do not always), the band of two
//     faithful quantized implementations engine-vs-llamacpp-live-v1 uses.
func vulkanBand(model string, s trace.Slot) float64 {
	switch {
	case s == trace.SlotEmbed:
		return 0
	case model == "f32" || model == "f16":
		return 1e-5
	}
	return 1e-2
}

// vulkanModels are the models TestVulkanVsCPU runs: the builtin first
// (FALSIFY_VULKAN_MODELS=all adds the other fixture models).
func vulkanModels() []string {
	names := []string{"q4_k_m"}
	if os.Getenv("FALSIFY_VULKAN_MODELS") == "all" {
		names = append(names, "f32", "f16", "q8_0", "q4_0", "q6_k")
	}
	return names
}

// TestVulkanVsCPU runs the same tokens in llama.cpp on the Vulkan device
// and on the CPU, checks from the graph nodes' buffers that every layer
// slot was computed on the Vulkan device (ggml silently runs a CPU-type
// Vulkan device's work on the CPU unless told otherwise), and compares
// every slot at every position.
func TestVulkanVsCPU(t *testing.T) {
	requireLib(t)
	toks := []int32{3838, 374, 220, 17, 10, 17, 30}
	for _, name := range vulkanModels() {
		model, ok := fixture.Path("models/qwen2-tiny-" + name + ".gguf")
		if !ok {
			t.Logf("%s: fixture not here, skipped", name)
			continue
		}
		start := time.Now()
		vk, pl, err := RunPlaced(model, toks, Options{Threads: 2, KVType: "f32", Backend: "vulkan"})
		if errors.Is(err, ErrVulkanUnavailable) {
			t.Skipf("llama.cpp Vulkan: %v", err)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		vkSecs := time.Since(start).Seconds()
		start = time.Now()
		cpu, cpl, err := RunPlaced(model, toks, Options{Threads: 2, KVType: "f32"})
		if err != nil {
			t.Fatal(err)
		}
		cpuSecs := time.Since(start).Seconds()
		dev := loaded.vulkan.device
		t.Logf("%s: Vulkan device %s; %.2fs (CPU %.2fs); placement %s", name, dev, vkSecs, cpuSecs, pl)
		for d, slots := range pl {
			for _, s := range slots {
				if d != dev.Name && s != "embed" {
					t.Errorf("%s: slot %s ran on %s, not %s", name, s, d, dev.Name)
				}
			}
		}
		if n := len(pl[dev.Name]); n < 1+len(vk.Layers)*8 {
			t.Errorf("%s: only %d slots ran on %s: %s", name, n, dev.Name, pl)
		}
		for d := range cpl {
			if d != "CPU" {
				t.Errorf("%s: the CPU run computed on %s: %s", name, d, cpl)
			}
		}
		if !strings.Contains(vk.Provenance.Device, dev.Description) || vk.Provenance.Backend != "llama.cpp vulkan" {
			t.Errorf("provenance device %q backend %q", vk.Provenance.Device, vk.Provenance.Backend)
		}
		worst := map[trace.Slot]float64{}
		cmp := func(s trace.Slot, a, b *trace.SlotTrace) {
			if len(a.Positions) != len(b.Positions) {
				t.Errorf("%s %s: %d vs %d positions", name, s, len(a.Positions), len(b.Positions))
				return
			}
			for p := range a.Positions {
				v := numcmp.NMSE(a.Positions[p], b.Positions[p])
				if math.IsNaN(v) {
					v = math.Inf(1)
				}
				worst[s] = max(worst[s], v)
			}
		}
		cmp(trace.SlotEmbed, &vk.Embed, &cpu.Embed)
		for l := range cpu.Layers {
			for i, s := range trace.LayerSlots() {
				cmp(s, &vk.Layers[l].Slots[i], &cpu.Layers[l].Slots[i])
			}
		}
		cmp(trace.SlotFinalNorm, &vk.FinalNorm, &cpu.FinalNorm)
		cmp(trace.SlotLogits, &vk.Logits, &cpu.Logits)
		for _, s := range sortedKeys(worst) {
			band := vulkanBand(name, s)
			v := worst[s]
			t.Logf("%s %-18s worst NMSE %.3g (band %g)", name, s, v, band)
			if v > band {
				t.Errorf("%s %s: Vulkan vs CPU NMSE %.3g > %g", name, s, v, band)
			}
		}
	}
}

// TestVulkanUnavailable: each missing piece (ggml's Vulkan library, a
// Vulkan driver, the chosen device) gives ErrVulkanUnavailable naming it
// and the install command, never a crash or a silent CPU run. Each case
// runs in a child process: the backend is loaded once per process.
func TestVulkanUnavailable(t *testing.T) {
	if os.Getenv("FALSIFY_VK_CHILD") == "1" {
		model, _ := fixture.Path("models/qwen2-tiny-q4_k_m.gguf")
		_, _, err := RunPlaced(model, []int32{1, 2}, Options{Threads: 1, Backend: "vulkan"})
		fmt.Printf("unavailable=%v\nerr=%v\n", errors.Is(err, ErrVulkanUnavailable) && errors.Is(err, ErrUnavailable), err)
		return
	}
	requireLib(t)
	if _, err := os.Stat(filepath.Join(VulkanDir(), "libggml-vulkan.so")); err != nil {
		t.Skipf("ggml's Vulkan library is not installed (%s)", VulkanInstallCommand)
	}
	if _, err := purego.Dlopen("libvulkan.so.1", purego.RTLD_NOW); err != nil {
		t.Skipf("libvulkan.so.1: %v", err)
	}
	// An install with the CPU build only.
	cpuOnly := t.TempDir()
	nlc := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(Dir())))))
	if err := os.MkdirAll(filepath.Join(cpuOnly, "node_modules", "@node-llama-cpp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(nlc, "node_modules", "@node-llama-cpp", "linux-x64"), filepath.Join(cpuOnly, "node_modules", "@node-llama-cpp", "linux-x64")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, env, want string
		install         bool // the reason names the install command
	}{
		{"no Vulkan library", "FALSIFY_NODE_LLAMA_CPP=" + cpuOnly, "libggml-vulkan.so not found", true},
		{"no driver", "VK_ICD_FILENAMES=/nonexistent/icd.json", "vkCreateInstance returned", true},
		// Nothing to install: the device index is not on this machine.
		{"no such device", VulkanDeviceEnv + "=99", VulkanDeviceEnv + "=99: the Vulkan loader lists", false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestVulkanUnavailable$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FALSIFY_VK_CHILD=1", c.env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: the child failed: %v\n%s", c.name, err, out)
			continue
		}
		s := string(out)
		if i := strings.Index(s, "err="); i >= 0 {
			t.Logf("%s: %s", c.name, strings.SplitN(s[i:], "\n", 2)[0])
		}
		if !strings.Contains(s, "unavailable=true") || !strings.Contains(s, c.want) || strings.Contains(s, VulkanInstallCommand) != c.install {
			t.Errorf("%s: want ErrVulkanUnavailable saying %q (install command named: %v), got:\n%s", c.name, c.want, c.install, s)
		}
	}
}
