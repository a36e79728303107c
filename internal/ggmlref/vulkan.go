package ggmlref

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

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
	loader, err := purego.Dlopen("libvulkan.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, unavailable("the Vulkan loader libvulkan.so.1 is missing: %v", err)
	}
	// ggml throws (and the process aborts) on a device index the loader
	// lacks, so the loader is asked first.
	n, err := physicalDeviceCount(loader)
	if err != nil {
		return nil, unavailable("%v", err)
	}
	if n == 0 {
		return nil, unavailable("the Vulkan loader finds no device (no driver installed?)")
	}
	visible, from := os.Getenv(llamalib.VulkanDeviceEnv), llamalib.VulkanDeviceEnv
	if visible == "" {
		visible, from = os.Getenv("GGML_VK_VISIBLE_DEVICES"), "GGML_VK_VISIBLE_DEVICES"
	}
	if visible == "" {
		visible = "0"
	}
	idx, err := strconv.Atoi(visible)
	if err != nil || idx < 0 {
		return nil, fmt.Errorf("ggmlref: %s=%q: want one device index (0, 1, ...; vulkaninfo --summary lists them)", from, visible)
	}
	if idx >= n {
		return nil, fmt.Errorf("%w: ggml Vulkan backend: %s=%d: the Vulkan loader lists %d device(s) here, 0 to %d", ErrUnavailable, from, idx, n, n-1)
	}
	// Read by ggml (and Mesa) through getenv when the library initializes.
	if err := os.Setenv("GGML_VK_VISIBLE_DEVICES", visible); err != nil {
		return nil, err
	}
	if os.Getenv("MESA_SHADER_CACHE_DIR") == "" {
		// lavapipe compiles each of ggml's pipelines in up to seconds;
		// Mesa's disk cache (where internal/llamalib keeps it) makes the
		// next run fast.
		cache := os.Getenv("FALSIFY_CACHE")
		if c, err := os.UserCacheDir(); cache == "" && err == nil {
			cache = filepath.Join(c, "falsify")
		}
		if cache != "" {
			os.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(cache, "mesa-shader-cache"))
		}
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

// physicalDeviceCount creates a bare Vulkan instance and counts the
// physical devices the loader's drivers report (the question
// internal/llamalib asks before loading ggml's Vulkan backend).
func physicalDeviceCount(h uintptr) (int, error) {
	var createInstance func(info unsafe.Pointer, alloc uintptr, inst *uintptr) int32
	var enumerate func(inst uintptr, count *uint32, devs uintptr) int32
	var destroy func(inst uintptr, alloc uintptr)
	for _, f := range []struct {
		fn   any
		name string
	}{{&createInstance, "vkCreateInstance"}, {&enumerate, "vkEnumeratePhysicalDevices"}, {&destroy, "vkDestroyInstance"}} {
		sym, err := purego.Dlsym(h, f.name)
		if err != nil {
			return 0, fmt.Errorf("libvulkan.so.1: %v", err)
		}
		purego.RegisterFunc(f.fn, sym)
	}
	// VkInstanceCreateInfo (vulkan_core.h, 64 bytes): sType
	// (VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO = 1), everything else zero.
	var info [8]uint64
	info[0] = 1
	var inst uintptr
	if rc := createInstance(unsafe.Pointer(&info[0]), 0, &inst); rc != 0 {
		return 0, fmt.Errorf("vkCreateInstance returned %d (VK_ERROR_INCOMPATIBLE_DRIVER is -9: no Vulkan driver installed)", rc)
	}
	defer destroy(inst, 0)
	var n uint32
	if rc := enumerate(inst, &n, 0); rc != 0 {
		return 0, fmt.Errorf("vkEnumeratePhysicalDevices returned %d", rc)
	}
	return int(n), nil
}
