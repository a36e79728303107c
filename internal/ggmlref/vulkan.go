package ggmlref

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
	"github.com/falsify/falsify/internal/llamalib"
)

// vulkanAPI is ggml's Vulkan backend library, loaded once per process.
type vulkanAPI struct {
	path        string
	visible     string // GGML_VK_VISIBLE_DEVICES as given to ggml
	deviceCount func() int32
	init        func(dev uintptr) uintptr
	isVK        func(backend uintptr) bool
}

var (
	vulkanOnce sync.Once
	vulkanLib  *vulkanAPI
	vulkanErr  error
)

// VulkanBackend returns ggml's Vulkan backend (libggml-vulkan.so of the
// node-llama-cpp linux-x64-vulkan package, found where internal/llamalib
// finds it: llamalib.VulkanDir) on one device: the Vulkan loader's device
// FALSIFY_VULKAN_DEVICE (llamalib.VulkanDeviceEnv), else
// GGML_VK_VISIBLE_DEVICES, else 0. ggml is given that index as
// GGML_VK_VISIBLE_DEVICES, which also makes it accept CPU-type devices
// such as Mesa's lavapipe (it hides them otherwise). The library, the
// Vulkan loader or the device missing: an error wrapping ErrUnavailable
// with the reason.
//
// Each Graph of the backend runs on a ggml Vulkan backend of its own
// (ggml_backend_vk_init on the same device, freed with the graph): with
// one ggml_backend_t kept across graphs whose tensors and buffers are
// freed in between, ggml 0.23.0's Vulkan backend on lavapipe (Mesa
// 22.3.6) corrupted the process heap within a few dozen graphs
// ("malloc(): unsorted double linked list corrupted", or SIGSEGV in a
// driver thread), at a different graph each run; with a fresh backend
// per graph the same sequence ran clean every time.
//
// The backend is checked to be ggml's Vulkan backend (ggml_backend_is_vk)
// on a device ggml reports as Vulkan; callers that compare with another
// Vulkan implementation should also compare Device.Description (the
// driver's device name) with theirs.
func (l *Lib) VulkanBackend() (*Backend, error) {
	g, err := l.bindGraph()
	if err != nil {
		return nil, err
	}
	vulkanOnce.Do(func() { vulkanLib, vulkanErr = l.loadVulkan(llamalib.VulkanDir()) })
	if vulkanErr != nil {
		return nil, vulkanErr
	}
	vk := vulkanLib
	h := vk.init(0)
	if h == 0 {
		return nil, fmt.Errorf("%w: ggml_backend_vk_init(0) failed (GGML_VK_VISIBLE_DEVICES=%s)", ErrUnavailable, vk.visible)
	}
	if !vk.isVK(h) {
		g.backendFree(h)
		return nil, fmt.Errorf("ggmlref: ggml_backend_vk_init made a backend that ggml_backend_is_vk denies")
	}
	b := l.newBackend(g, h, "vulkan")
	b.perGraph = func() (uintptr, error) {
		h := vk.init(0)
		if h == 0 {
			return 0, fmt.Errorf("ggmlref: ggml_backend_vk_init(0) failed for a graph")
		}
		d := g.backendDevice(h)
		if !vk.isVK(h) || d == 0 || g.devName(d) != b.Device.Name || g.devDescription(d) != b.Device.Description {
			g.backendFree(h)
			return 0, fmt.Errorf("ggmlref: a graph's ggml Vulkan backend is not on %v", b.Device)
		}
		return h, nil
	}
	// ggml reports every Vulkan device as GPU or IGPU (lavapipe too); a
	// CPU device here would be ggml's CPU backend under another name.
	if !strings.HasPrefix(b.Device.Name, "Vulkan") || b.Device.Type == "CPU" || b.Device.Description == "" {
		b.Close()
		return nil, fmt.Errorf("ggmlref: ggml's Vulkan backend is on device %v, not a Vulkan device", b.Device)
	}
	return b, nil
}

func (l *Lib) loadVulkan(dir string) (*vulkanAPI, error) {
	unavailable := func(format string, args ...any) error {
		return fmt.Errorf("%w: ggml Vulkan backend: %s (install with %s)", ErrUnavailable, fmt.Sprintf(format, args...), llamalib.VulkanInstallCommand)
	}
	p := filepath.Join(dir, "libggml-vulkan.so")
	if _, err := os.Stat(p); err != nil {
		return nil, unavailable("%s not found", p)
	}
	// libggml-vulkan.so binds to the libggml-base.so already in the process
	// (same soname): it must be the build it was linked with.
	mine, err1 := os.ReadFile(filepath.Join(l.Dir, "libggml-base.so"))
	theirs, err2 := os.ReadFile(filepath.Join(dir, "libggml-base.so"))
	if err1 != nil || err2 != nil {
		return nil, unavailable("reading libggml-base.so: %v %v", err1, err2)
	}
	if !bytes.Equal(mine, theirs) {
		return nil, fmt.Errorf("ggmlref: %s/libggml-base.so (loaded) differs from %s/libggml-base.so that libggml-vulkan.so was built with: load both from one node-llama-cpp release", l.Dir, dir)
	}
	// The loader must list the device before ggml loads: ggml aborts the
	// process on a device index the loader lacks.
	visible, err := llamalib.PrepareGGMLVulkan()
	if errors.Is(err, llamalib.ErrUnavailable) {
		return nil, fmt.Errorf("%w: ggml Vulkan backend: %w", ErrUnavailable, err) // err has the install hint
	}
	if err != nil {
		return nil, fmt.Errorf("ggmlref: %w", err)
	}
	h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, unavailable("dlopen %s: %v", p, err)
	}
	vk := &vulkanAPI{path: p, visible: visible}
	for _, b := range []struct {
		name string
		fptr any
	}{
		{"ggml_backend_vk_get_device_count", &vk.deviceCount},
		{"ggml_backend_vk_init", &vk.init},
		{"ggml_backend_is_vk", &vk.isVK},
	} {
		sym, err := purego.Dlsym(h, b.name)
		if err != nil {
			return nil, fmt.Errorf("ggmlref: %s: symbol %s: %w", p, b.name, err)
		}
		purego.RegisterFunc(b.fptr, sym)
	}
	if c := vk.deviceCount(); c != 1 {
		return nil, unavailable("ggml sees %d Vulkan devices with GGML_VK_VISIBLE_DEVICES=%s, want 1", c, visible)
	}
	return vk, nil
}
