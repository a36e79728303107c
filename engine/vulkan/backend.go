package vulkan

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/engine/vulkan/vk"
	"github.com/falsify/falsify/trace"
)

// Name is the Vulkan backend's registry name.
const Name = "vulkan"

// Environment variables the backend reads.
const (
	// EnvDevice picks a device by its index in vkEnumeratePhysicalDevices
	// order (the variable llamalib sets for ggml's Vulkan backend too).
	EnvDevice = "FALSIFY_VULKAN_DEVICE"
	// EnvValidate = "1" enables the Khronos validation layer; its
	// messages are kept (Backend.ValidationMessages) and Close fails if
	// there are any.
	EnvValidate = "FALSIFY_VULKAN_VALIDATE"
)

func init() { backend.Register(Name, Open) }

// Backend is the Vulkan implementation of backend.Backend: one logical
// device with one compute queue, the model's weights uploaded once to
// device-local buffers, and compute pipelines built on first use.
type Backend struct {
	cfg      backend.Config
	inst     *vk.Inst // shared by the process's backends (instance)
	msgStart int      // validation messages of inst before this backend opened
	pd       vk.PhysicalDevice
	dev      *vk.Dev
	info     vk.DeviceInfo
	family   uint32
	mem      memTypes
	limits   vk.PhysicalDeviceLimits

	queueMu sync.Mutex // vkQueueSubmit needs the queue externally synchronized

	mu       sync.Mutex // guards what follows
	pipes    map[string]*pipeline
	weights  []*buffer
	contexts int          // open contexts
	closed   bool         // Close ran
	mm       *matmulState // what Weight learned from the matrices (matmul.go)
}

// Open creates a Vulkan instance and a device for one model. It fails
// wrapping backend.ErrUnavailable when there is no loader, no device, no
// compute queue, or EnvDevice names a device that does not exist. An
// EnvDevice that is not an index, or an EnvValidate other than 0 or 1 (or
// 1 without the layer installed), is a plain error: a setup mistake, not
// a missing device.
func Open(cfg backend.Config) (backend.Backend, error) {
	a := cfg.Attn
	if a.NHead <= 0 || a.NHeadKV <= 0 || a.NHead%a.NHeadKV != 0 || a.HeadDim <= 0 || a.NRot <= 0 || a.NRot > a.HeadDim || a.NRot%2 != 0 {
		return nil, fmt.Errorf("bad attention geometry %+v", a)
	}
	if cfg.Matmul != trace.MatmulF32 && cfg.Matmul != trace.MatmulQuantized {
		return nil, fmt.Errorf("vulkan: unknown matmul mode %q", cfg.Matmul)
	}
	if err := vk.Load(); err != nil {
		if errors.Is(err, vk.ErrNoLoader) {
			return nil, backend.Unavailable("no Vulkan loader: %s not found (install libvulkan1 and a driver, e.g. mesa-vulkan-drivers)", vk.LoaderName)
		}
		return nil, err
	}
	validate, err := validateSetting()
	if err != nil {
		return nil, err
	}
	inst, err := instance(validate)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, inst: inst, msgStart: len(inst.Messages()), pipes: map[string]*pipeline{}, mm: &matmulState{}}
	if err := b.pickDevice(); err != nil {
		return nil, err
	}
	dev, err := inst.CreateDevice(b.pd, b.family)
	if err != nil {
		return nil, fmt.Errorf("vulkan: device %s: %w", b.info.Name(), err)
	}
	b.dev = dev
	b.mem = findMemTypes(inst.MemoryProperties(b.pd))
	if b.mem.device < 0 || b.mem.upload < 0 || b.mem.readback < 0 {
		b.dev.Destroy()
		return nil, backend.Unavailable("device %s lacks a usable memory type (device-local %d, host-visible %d)", b.info.Name(), b.mem.device, b.mem.upload)
	}
	return b, nil
}

// validateSetting reads EnvValidate: "1" is on, unset, "" or "0" off;
// any other value is an error (not ErrUnavailable: a typo must not turn
// into a SKIP nor silently run without the layer). With "1", a missing
// layer is an error naming the variable and the package that has it.
func validateSetting() (bool, error) {
	switch v := os.Getenv(EnvValidate); v {
	case "", "0":
		return false, nil
	case "1":
		layers, err := vk.InstanceLayers()
		if err != nil {
			return false, fmt.Errorf("%s=1: listing the Vulkan instance layers: %w", EnvValidate, err)
		}
		if !slices.Contains(layers, vk.ValidationLayer) {
			return false, fmt.Errorf("%s=1: the Khronos validation layer %s is not installed (layers here: %v; Debian: apt-get install vulkan-validationlayers, or unset %s)",
				EnvValidate, vk.ValidationLayer, layers, EnvValidate)
		}
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: want 1 (validation layer on) or 0 (off)", EnvValidate, v)
	}
}

// The process's Vulkan instances, one per validation setting, shared by
// every backend and kept until Shutdown. NVIDIA's driver (580.159.04 on
// an H200) refuses vkCreateInstance with VK_ERROR_INCOMPATIBLE_DRIVER once
// a process has created and destroyed about 30 instances (measured: the
// 31st Open of an Open/Close loop failed, with no file descriptor,
// thread or memory growth), so a backend must not own its instance.
var instances struct {
	sync.Mutex
	m map[bool]*vk.Inst
}

// instance returns the process's instance for the validation setting,
// creating it on first use. No driver: an error wrapping
// backend.ErrUnavailable.
func instance(validate bool) (*vk.Inst, error) {
	instances.Lock()
	defer instances.Unlock()
	if in := instances.m[validate]; in != nil {
		return in, nil
	}
	in, err := vk.CreateInstance("falsify", validate)
	if err != nil {
		if errors.Is(err, vk.ErrorIncompatibleDriver) || errors.Is(err, vk.ErrorInitializationFail) {
			return nil, backend.Unavailable("no Vulkan driver: %v", err)
		}
		return nil, fmt.Errorf("vulkan: %w", err)
	}
	if instances.m == nil {
		instances.m = map[bool]*vk.Inst{}
	}
	instances.m[validate] = in
	return in, nil
}

// Shutdown destroys the process's Vulkan instances; every backend must be
// closed. With validation on it returns an error holding the messages the
// layer reported while destroying them (objects leaked at instance
// level). Programs need not call it; tests do, to check for leaks. A
// later Open creates a new instance.
func Shutdown() error {
	instances.Lock()
	defer instances.Unlock()
	var errs []error
	for _, in := range instances.m {
		before := len(in.Messages())
		in.Destroy()
		if msgs := in.Messages()[before:]; len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("vulkan: %d validation messages at instance destruction, first: %s", len(msgs), msgs[0]))
		}
	}
	instances.m = nil
	return errors.Join(errs...)
}

// pickDevice chooses the physical device: EnvDevice's index, else the
// first discrete GPU, then integrated, then virtual, then CPU (lavapipe),
// among devices with a compute queue and Vulkan 1.1.
func (b *Backend) pickDevice() error {
	devs, err := b.inst.PhysicalDevices()
	if err != nil {
		return fmt.Errorf("vulkan: %w", err)
	}
	if len(devs) == 0 {
		return backend.Unavailable("no Vulkan device (the loader found no driver with a device)")
	}
	type cand struct {
		pd     vk.PhysicalDevice
		info   vk.DeviceInfo
		family int
	}
	cands := make([]cand, len(devs))
	for i, pd := range devs {
		cands[i] = cand{pd: pd, info: b.inst.Info(pd), family: -1}
		for f, q := range b.inst.QueueFamilies(pd) {
			if q.QueueFlags&vk.QueueComputeBit != 0 && q.QueueCount > 0 {
				cands[i].family = f
				break
			}
		}
	}
	usable := func(c cand) error {
		if c.family < 0 {
			return fmt.Errorf("device %s has no compute queue", c.info.Name())
		}
		if c.info.Props.ApiVersion < vk.MakeAPIVersion(1, 1, 0) {
			return fmt.Errorf("device %s supports Vulkan %s, 1.1 is needed", c.info.Name(), vk.APIVersionString(c.info.Props.ApiVersion))
		}
		return nil
	}
	pick := -1
	if s := os.Getenv(EnvDevice); s != "" {
		names := make([]string, len(cands))
		for j, c := range cands {
			names[j] = fmt.Sprintf("%d: %s", j, c.info.Name())
		}
		u, err := strconv.ParseUint(s, 10, 16) // digits only: no sign, no spaces
		i := int(u)
		if err != nil {
			// Not an index at all: a setup error, as llamalib treats the
			// same variable, never a SKIP (which --allow-unavailable
			// vulkan would let pass).
			return fmt.Errorf("%s=%q: want one device index, 0 to %d here (devices: %s)", EnvDevice, s, len(cands)-1, strings.Join(names, ", "))
		}
		if i >= len(cands) {
			return backend.Unavailable("%s=%q: no such Vulkan device (devices: %s)", EnvDevice, s, strings.Join(names, ", "))
		}
		if err := usable(cands[i]); err != nil {
			return backend.Unavailable("%s=%d: %v", EnvDevice, i, err)
		}
		pick = i
	} else {
		var reasons []string
		for _, typ := range []uint32{vk.PhysicalDeviceTypeDiscreteGPU, vk.PhysicalDeviceTypeIntegratedGPU, vk.PhysicalDeviceTypeVirtualGPU, vk.PhysicalDeviceTypeCPU} {
			for i, c := range cands {
				if c.info.Props.DeviceType != typ {
					continue
				}
				if err := usable(c); err != nil {
					reasons = append(reasons, err.Error())
					continue
				}
				if pick < 0 {
					pick = i
				}
			}
		}
		if pick < 0 {
			return backend.Unavailable("no usable Vulkan device: %s", strings.Join(reasons, "; "))
		}
	}
	c := cands[pick]
	b.pd, b.info, b.family, b.limits = c.pd, c.info, uint32(c.family), c.info.Props.Limits
	return nil
}

// Name returns "vulkan".
func (b *Backend) Name() string { return Name }

// Device names the device, its type, its driver and the API version, e.g.
// "llvmpipe (LLVM 15.0.6, 256 bits), CPU, llvmpipe Mesa 22.3.6 (LLVM
// 15.0.6), Vulkan 1.3.230".
func (b *Backend) Device() string {
	drv := strings.TrimSpace(b.info.DriverName + " " + b.info.DriverInfo)
	if drv == "" {
		drv = fmt.Sprintf("driver version %#x", b.info.Props.DriverVersion)
	}
	return fmt.Sprintf("%s, %s, %s, Vulkan %s", b.info.Name(), b.info.TypeName(), drv, vk.APIVersionString(b.info.Props.ApiVersion))
}

// ValidationMessages returns the validation layer's warnings and errors
// so far (nil when EnvValidate is not "1").
func (b *Backend) ValidationMessages() []string { return b.inst.Messages()[b.msgStart:] }

// Weight uploads w once to a device-local buffer (through a staging
// buffer where device memory is not host-visible). Matrices must have a
// type the shaders decode; vectors (norms, biases) must be F32 and the
// embedding table a type get_rows decodes.
func (b *Backend) Weight(w backend.WeightInfo) (backend.Weight, error) {
	if w.Rows <= 0 || w.Cols <= 0 || len(w.Data)%w.Rows != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes do not hold %d rows", w.Name, len(w.Data), w.Rows)
	}
	switch {
	case w.Matrix:
		if err := b.prepareMatrix(w); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", w.Name, err)
		}
	case w.Rows == 1 && w.Type != quant.F32:
		return nil, fmt.Errorf("tensor %q: type %s: norm and bias weights must be F32", w.Name, w.Type)
	default:
		if !typeSupported(w.Type) {
			return nil, fmt.Errorf("tensor %q: type %s: the Vulkan backend has no shader for it (supported: %s)", w.Name, w.Type, supportedTypes())
		}
	}
	if max := uint64(b.limits.MaxStorageBufferRange); uint64(len(w.Data)) > max {
		return nil, fmt.Errorf("tensor %q: %d bytes exceed this device's largest storage buffer binding (maxStorageBufferRange %d bytes on %s)",
			w.Name, len(w.Data), max, b.info.Name())
	}
	buf, err := b.uploadWeight(w.Data)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: upload %d bytes: %w", w.Name, len(w.Data), err)
	}
	b.mu.Lock()
	b.weights = append(b.weights, buf)
	b.mu.Unlock()
	return &weight{WeightInfo: w, buf: buf}, nil
}

// Close releases the pipelines, the weights and the device (the shared
// instance stays, see Shutdown); contexts must be closed first. With
// validation on, it fails if the layer reported anything since Open
// (the device's leaked objects are reported when it is destroyed).
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	if b.contexts != 0 {
		errs = append(errs, fmt.Errorf("vulkan: Close with %d contexts still open", b.contexts))
	}
	if err := b.dev.WaitIdle(); err != nil {
		errs = append(errs, err)
	}
	for _, p := range b.pipes {
		p.destroy(b.dev)
	}
	b.pipes = nil
	for _, w := range b.weights {
		w.free(b.dev)
	}
	b.weights = nil
	b.dev.Destroy() // the validation layer reports the device's leaked objects here
	if msgs := b.ValidationMessages(); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("vulkan: %d validation messages, first: %s", len(msgs), msgs[0]))
	}
	return errors.Join(errs...)
}

var _ backend.Backend = (*Backend)(nil)
