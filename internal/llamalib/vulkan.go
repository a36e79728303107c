package llamalib

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrVulkanUnavailable is wrapped (together with ErrUnavailable) when the
// Vulkan build of ggml, the Vulkan loader or a Vulkan device is missing;
// the message says which, and how to install it.
var ErrVulkanUnavailable = errors.New("llama.cpp Vulkan backend unavailable")

// VulkanInstallCommand installs what the Vulkan backend needs: ggml's
// Vulkan library (npm) and, for a machine without a GPU, Mesa's lavapipe
// (a Vulkan device that runs on the CPU).
const VulkanInstallCommand = "scripts/fetch-llamacpp.sh --vulkan, and a Vulkan driver (no GPU: apt-get install mesa-vulkan-drivers libvulkan1)"

// VulkanDeviceEnv picks the Vulkan device by its index in the Vulkan
// loader's list (vulkaninfo --summary). It is passed to ggml as
// GGML_VK_VISIBLE_DEVICES; when neither is set, device 0 is used (ggml
// by itself hides CPU-type devices such as lavapipe).
const VulkanDeviceEnv = "FALSIFY_VULKAN_DEVICE"

// VulkanDir is where libggml-vulkan.so is looked for: the linux-x64-vulkan
// bins of the node-llama-cpp install.
func VulkanDir() string {
	return filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(Dir()))), "linux-x64-vulkan", "bins", "linux-x64-vulkan")
}

// Device types of ggml-backend.h (enum ggml_backend_dev_type).
var devTypeNames = []string{"CPU", "GPU", "IGPU", "ACCEL", "META"}

func devTypeName(t int32) string {
	if t >= 0 && int(t) < len(devTypeNames) {
		return devTypeNames[t]
	}
	return fmt.Sprintf("type %d", t)
}

// VulkanDevice is the Vulkan device a run offloads to.
type VulkanDevice struct {
	Name        string `json:"name"`        // ggml's name, "Vulkan0"
	Description string `json:"description"` // the driver's, "llvmpipe (LLVM 15.0.6, 256 bits)"
	Type        string `json:"type"`        // ggml's device type: GPU, IGPU, ...
	Visible     string `json:"visible"`     // GGML_VK_VISIBLE_DEVICES as given to ggml
	dev         uintptr
}

func (d VulkanDevice) String() string {
	return fmt.Sprintf("%s: %s (ggml type %s, GGML_VK_VISIBLE_DEVICES=%s)", d.Name, d.Description, d.Type, d.Visible)
}

type vulkanLib struct {
	file   LibFile
	device VulkanDevice
}

var (
	vulkanOnce sync.Once
	vulkanErr  error
)

// openVulkan loads ggml's Vulkan backend into the process (once) and
// picks its device. ggml-base is the same library in the CPU and Vulkan
// packages (same soname, byte-identical), so the Vulkan backend registers
// in the registry the CPU build already holds.
func (l *lib) openVulkan() (*vulkanLib, error) {
	vulkanOnce.Do(func() { l.vulkan, vulkanErr = l.loadVulkan(VulkanDir()) })
	return l.vulkan, vulkanErr
}

func (l *lib) loadVulkan(dir string) (*vulkanLib, error) {
	unavailable := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w: %s (install with %s)", ErrUnavailable, ErrVulkanUnavailable, fmt.Sprintf(format, args...), VulkanInstallCommand)
	}
	p := filepath.Join(dir, "libggml-vulkan.so")
	if _, err := os.Stat(p); err != nil {
		return nil, unavailable("%s not found", p)
	}
	visible, err := PrepareGGMLVulkan()
	if err != nil {
		return nil, err
	}
	reg := l.backendLoad(p)
	if reg == 0 {
		return nil, unavailable("ggml could not load %s; its log ends:\n%s", p, lastLog())
	}
	if l.regDevCount(reg) == 0 {
		return nil, unavailable("no Vulkan device (GGML_VK_VISIBLE_DEVICES=%s); ggml's log ends:\n%s", visible, lastLog())
	}
	d := l.regDevGet(reg, 0)
	sum, err := sha256File(p)
	if err != nil {
		return nil, err
	}
	return &vulkanLib{
		file: LibFile{Path: p, SHA256: sum},
		device: VulkanDevice{
			Name: l.backendDevName(d), Description: l.backendDevDescription(d),
			Type: devTypeName(l.backendDevType(d)), Visible: visible, dev: d,
		},
	}, nil
}

// PrepareGGMLVulkan readies the process for ggml's Vulkan backend (which
// reads its settings through getenv when it initializes): it checks that
// the Vulkan loader is present and lists the device VulkanDeviceEnv names
// (else GGML_VK_VISIBLE_DEVICES, else device 0), exports that index as
// GGML_VK_VISIBLE_DEVICES, and points MESA_SHADER_CACHE_DIR, when unset,
// at falsify's cache so lavapipe compiles ggml's pipelines once. It
// returns the index. A missing loader, no device or an index the machine
// lacks give errors wrapping ErrUnavailable and ErrVulkanUnavailable (a
// SKIP, as a missing GPU is); a malformed index is a plain error.
func PrepareGGMLVulkan() (string, error) {
	unavailable := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w: %s (install with %s)", ErrUnavailable, ErrVulkanUnavailable, fmt.Sprintf(format, args...), VulkanInstallCommand)
	}
	h, err := purego.Dlopen("libvulkan.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return "", unavailable("the Vulkan loader libvulkan.so.1 is missing: %v", err)
	}
	// ggml turns a bad device index or a missing driver into "could not
	// load"; asking the loader first gives the reason.
	n, err := vkPhysicalDeviceCount(h)
	if err != nil {
		return "", unavailable("%v", err)
	}
	if n == 0 {
		return "", unavailable("the Vulkan loader finds no device (no driver installed?)")
	}
	visible := os.Getenv(VulkanDeviceEnv)
	from := VulkanDeviceEnv
	if visible == "" {
		visible, from = os.Getenv("GGML_VK_VISIBLE_DEVICES"), "GGML_VK_VISIBLE_DEVICES"
	}
	if visible == "" {
		visible = "0"
	}
	u, err := strconv.ParseUint(visible, 10, 16) // digits only: no sign, no spaces
	idx := int(u)
	if err != nil {
		return "", fmt.Errorf("%s=%q: want one device index (0, 1, ...; vulkaninfo --summary lists them)", from, visible)
	}
	if idx >= n {
		// The device is not on this machine (a SKIP, as a missing GPU is),
		// but nothing needs installing: say which indices exist.
		return "", fmt.Errorf("%w: %w: %s=%d: the Vulkan loader lists %d device(s) here, 0 to %d (vulkaninfo --summary names them)",
			ErrUnavailable, ErrVulkanUnavailable, from, idx, n, n-1)
	}
	// Both are read by C code (ggml's Vulkan backend, Mesa) through
	// getenv, which sees os.Setenv (purego's runtime forwards it).
	if err := os.Setenv("GGML_VK_VISIBLE_DEVICES", visible); err != nil {
		return "", err
	}
	if os.Getenv("MESA_SHADER_CACHE_DIR") == "" {
		// lavapipe compiles ggml's pipelines in about a minute per tiny
		// model; its disk cache makes the next run take seconds.
		// The falsify cache directory ($FALSIFY_CACHE, else the user
		// cache directory's falsify/), as internal/builtin places it.
		cache := os.Getenv("FALSIFY_CACHE")
		if c, err := os.UserCacheDir(); cache == "" && err == nil {
			cache = filepath.Join(c, "falsify")
		}
		if cache != "" {
			os.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(cache, "mesa-shader-cache"))
		}
	}
	return visible, nil
}

// vkPhysicalDeviceCount creates a bare Vulkan instance and counts the
// physical devices the loader's drivers report.
func vkPhysicalDeviceCount(h uintptr) (int, error) {
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
	// VkInstanceCreateInfo (vulkan_core.h): sType, pNext, flags,
	// pApplicationInfo, 2 x (count, names); all zero but sType
	// (VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO = 1).
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

// tensorDevice names the device whose buffer holds t ("Vulkan0"), or,
// for a buffer type with no device (ggml's CPU buffers), the buffer's
// own name ("CPU"); "none" for a tensor in no buffer.
func (l *lib) tensorDevice(t tensor) string {
	b := t.buffer()
	if b == 0 {
		return "none"
	}
	if bt := l.bufferGetType(b); bt != 0 {
		if d := l.buftGetDevice(bt); d != 0 {
			return l.backendDevName(d)
		}
	}
	return l.bufferName(b)
}

// Placement summarizes which device held the captured tensors of a run:
// device name -> slots ("embed", "3.ffn_out", ...).
type Placement map[string][]string

// String is "CPU: embed; Vulkan0: 0.attn_norm ... (N)".
func (p Placement) String() string {
	var parts []string
	for _, dev := range sortedKeys(p) {
		slots := p[dev]
		shown := slots
		if len(shown) > 3 {
			shown = append(append([]string(nil), shown[:3]...), "...")
		}
		parts = append(parts, fmt.Sprintf("%s: %d slots (%s)", dev, len(slots), strings.Join(shown, ", ")))
	}
	return strings.Join(parts, "; ")
}
