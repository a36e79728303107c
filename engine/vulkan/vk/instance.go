package vk

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ValidationLayer is the Khronos validation layer's name.
const ValidationLayer = "VK_LAYER_KHRONOS_validation"

// procs are the instance- and device-level entry points, resolved through
// vkGetInstanceProcAddr for one instance (field name = Vulkan name less
// "vk").
type procs struct {
	DestroyInstance                        uintptr
	EnumeratePhysicalDevices               uintptr
	GetPhysicalDeviceProperties            uintptr
	GetPhysicalDeviceProperties2           uintptr
	GetPhysicalDeviceQueueFamilyProperties uintptr
	GetPhysicalDeviceMemoryProperties      uintptr
	CreateDevice                           uintptr
	DestroyDevice                          uintptr
	GetDeviceQueue                         uintptr
	CreateBuffer                           uintptr
	DestroyBuffer                          uintptr
	GetBufferMemoryRequirements            uintptr
	AllocateMemory                         uintptr
	FreeMemory                             uintptr
	BindBufferMemory                       uintptr
	MapMemory                              uintptr
	UnmapMemory                            uintptr
	FlushMappedMemoryRanges                uintptr
	InvalidateMappedMemoryRanges           uintptr
	CreateShaderModule                     uintptr
	DestroyShaderModule                    uintptr
	CreateDescriptorSetLayout              uintptr
	DestroyDescriptorSetLayout             uintptr
	CreatePipelineLayout                   uintptr
	DestroyPipelineLayout                  uintptr
	CreateComputePipelines                 uintptr
	DestroyPipeline                        uintptr
	CreateDescriptorPool                   uintptr
	DestroyDescriptorPool                  uintptr
	ResetDescriptorPool                    uintptr
	AllocateDescriptorSets                 uintptr
	UpdateDescriptorSets                   uintptr
	CreateCommandPool                      uintptr
	DestroyCommandPool                     uintptr
	AllocateCommandBuffers                 uintptr
	FreeCommandBuffers                     uintptr
	BeginCommandBuffer                     uintptr
	EndCommandBuffer                       uintptr
	ResetCommandBuffer                     uintptr
	CmdBindPipeline                        uintptr
	CmdBindDescriptorSets                  uintptr
	CmdPushConstants                       uintptr
	CmdDispatch                            uintptr
	CmdPipelineBarrier                     uintptr
	CmdCopyBuffer                          uintptr
	CmdFillBuffer                          uintptr
	QueueSubmit                            uintptr
	QueueWaitIdle                          uintptr
	CreateFence                            uintptr
	DestroyFence                           uintptr
	WaitForFences                          uintptr
	ResetFences                            uintptr
	DeviceWaitIdle                         uintptr
	CreateDebugUtilsMessengerEXT           uintptr
	DestroyDebugUtilsMessengerEXT          uintptr
}

// Inst is a Vulkan instance with its entry points and, when validation
// is on, the messages the validation layer sent it.
type Inst struct {
	Handle    Instance
	p         procs
	messenger DebugUtilsMessengerEXT
	msgID     uintptr  // key of this instance's message log in messageLogs
	idBox     *uintptr // holds msgID; the messenger's pUserData, pinned while the instance lives
	idPin     runtime.Pinner

	Validating bool // the Khronos validation layer is enabled
}

// messageLogs holds each validating instance's messages, keyed by an
// integer passed to the driver as pUserData (never a Go pointer).
var (
	messageMu   sync.Mutex
	messageLogs = map[uintptr][]string{}
	nextLogID   uintptr
	debugCB     = sync.OnceValue(func() uintptr { return purego.NewCallback(debugCallback) })
)

// debugCallback is the PFN_vkDebugUtilsMessengerCallbackEXT: it records
// warnings and errors in the instance's log and lets the call go on.
func debugCallback(severity, types uint32, data *DebugUtilsMessengerCallbackDataEXT, user *uintptr) uint32 {
	sev := "warning"
	if severity&DebugUtilsMessageSeverityErrorBitEXT != 0 {
		sev = "error"
	}
	msg := fmt.Sprintf("%s: %s", sev, GoString(data.PMessage))
	messageMu.Lock()
	messageLogs[*user] = append(messageLogs[*user], msg)
	messageMu.Unlock()
	return 0 // VK_FALSE: do not abort the call
}

// CreateInstance makes a Vulkan 1.1 instance. With validate, it enables
// the Khronos validation layer and VK_EXT_debug_utils with a messenger
// that records every warning and error (Messages); it fails if the layer
// is not installed.
func CreateInstance(appName string, validate bool) (*Inst, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	ptr := func(p unsafe.Pointer) unsafe.Pointer { pin.Pin(p); return p }
	app := &ApplicationInfo{SType: StructureTypeApplicationInfo, PApplicationName: ptr(unsafe.Pointer(cstring(appName))),
		PEngineName: ptr(unsafe.Pointer(cstring("falsify"))), ApiVersion: MakeAPIVersion(1, 1, 0)}
	ci := &InstanceCreateInfo{SType: StructureTypeInstanceCreateInfo, PApplicationInfo: ptr(unsafe.Pointer(app))}
	in := &Inst{Validating: validate}
	var dbg *DebugUtilsMessengerCreateInfoEXT
	if validate {
		layers, err := InstanceLayers()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(layers, ValidationLayer) {
			return nil, fmt.Errorf("validation requested but %s is not installed (layers: %v)", ValidationLayer, layers)
		}
		layerNames := []unsafe.Pointer{ptr(unsafe.Pointer(cstring(ValidationLayer)))}
		extNames := []unsafe.Pointer{ptr(unsafe.Pointer(cstring("VK_EXT_debug_utils")))}
		ci.EnabledLayerCount, ci.PpEnabledLayerNames = 1, ptr(unsafe.Pointer(&layerNames[0]))
		ci.EnabledExtensionCount, ci.PpEnabledExtensionNames = 1, ptr(unsafe.Pointer(&extNames[0]))
		messageMu.Lock()
		nextLogID++
		in.msgID = nextLogID
		messageLogs[in.msgID] = nil
		messageMu.Unlock()
		in.idBox = new(uintptr)
		*in.idBox = in.msgID
		in.idPin.Pin(in.idBox)
		dbg = &DebugUtilsMessengerCreateInfoEXT{SType: StructureTypeDebugUtilsMessengerCreateInfoEXT,
			MessageSeverity: DebugUtilsMessageSeverityWarningBitEXT | DebugUtilsMessageSeverityErrorBitEXT,
			MessageType:     DebugUtilsMessageTypeGeneralBitEXT | DebugUtilsMessageTypeValidationBitEXT | DebugUtilsMessageTypePerformanceBitEXT,
			PfnUserCallback: debugCB(), PUserData: unsafe.Pointer(in.idBox)}
		// Chained into the create info too, so instance creation and
		// destruction are validated (and leaks reported at destroy).
		ci.PNext = ptr(unsafe.Pointer(dbg))
	}
	r, _, _ := purego.SyscallN(global.CreateInstance, uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&in.Handle)))
	if err := check("vkCreateInstance", r); err != nil {
		return nil, err
	}
	if err := loadProcs(&in.p, func(name string) uintptr { return getInstanceProcAddr(in.Handle, name) },
		"CreateDebugUtilsMessengerEXT", "DestroyDebugUtilsMessengerEXT", "GetPhysicalDeviceProperties2"); err != nil {
		in.Destroy()
		return nil, err
	}
	if validate {
		r, _, _ := purego.SyscallN(in.p.CreateDebugUtilsMessengerEXT, uintptr(in.Handle), uintptr(unsafe.Pointer(dbg)), 0, uintptr(unsafe.Pointer(&in.messenger)))
		if err := check("vkCreateDebugUtilsMessengerEXT", r); err != nil {
			in.Destroy()
			return nil, err
		}
	}
	return in, nil
}

// Messages returns the validation messages recorded so far (warnings and
// errors), oldest first; nil when not validating.
func (in *Inst) Messages() []string {
	messageMu.Lock()
	defer messageMu.Unlock()
	return slices.Clone(messageLogs[in.msgID])
}

// Destroy destroys the instance (its devices must be destroyed). The
// message log stays readable.
func (in *Inst) Destroy() {
	if in.messenger != 0 {
		purego.SyscallN(in.p.DestroyDebugUtilsMessengerEXT, uintptr(in.Handle), uintptr(in.messenger), 0)
		in.messenger = 0
	}
	if in.Handle != 0 && in.p.DestroyInstance != 0 {
		purego.SyscallN(in.p.DestroyInstance, uintptr(in.Handle), 0)
		in.Handle = 0
	}
	in.idPin.Unpin()
}

// PhysicalDevices lists the devices in vkEnumeratePhysicalDevices order.
func (in *Inst) PhysicalDevices() ([]PhysicalDevice, error) {
	var n uint32
	r, _, _ := purego.SyscallN(in.p.EnumeratePhysicalDevices, uintptr(in.Handle), uintptr(unsafe.Pointer(&n)), 0)
	if err := check("vkEnumeratePhysicalDevices", r); err != nil || n == 0 {
		return nil, err
	}
	devs := make([]PhysicalDevice, n)
	r, _, _ = purego.SyscallN(in.p.EnumeratePhysicalDevices, uintptr(in.Handle), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&devs[0])))
	if err := check("vkEnumeratePhysicalDevices", r); err != nil {
		return nil, err
	}
	return devs[:n], nil
}

// DeviceInfo is what a physical device reports about itself.
type DeviceInfo struct {
	Props      PhysicalDeviceProperties
	DriverName string // VkPhysicalDeviceDriverProperties (empty before Vulkan 1.2 drivers)
	DriverInfo string
}

// Name is the device name.
func (d *DeviceInfo) Name() string { return CString(d.Props.DeviceName[:]) }

// TypeName is the device type as ggml and vulkaninfo name it.
func (d *DeviceInfo) TypeName() string {
	switch d.Props.DeviceType {
	case PhysicalDeviceTypeIntegratedGPU:
		return "integrated GPU"
	case PhysicalDeviceTypeDiscreteGPU:
		return "discrete GPU"
	case PhysicalDeviceTypeVirtualGPU:
		return "virtual GPU"
	case PhysicalDeviceTypeCPU:
		return "CPU"
	}
	return "other"
}

// Info returns pd's properties, with its driver's name and info where
// the device supports Vulkan 1.2's driver properties.
func (in *Inst) Info(pd PhysicalDevice) DeviceInfo {
	var di DeviceInfo
	purego.SyscallN(in.p.GetPhysicalDeviceProperties, uintptr(pd), uintptr(unsafe.Pointer(&di.Props)))
	if in.p.GetPhysicalDeviceProperties2 != 0 && di.Props.ApiVersion >= MakeAPIVersion(1, 2, 0) {
		drv := &PhysicalDeviceDriverProperties{SType: StructureTypePhysicalDeviceDriverProperties}
		var pin runtime.Pinner
		pin.Pin(drv)
		p2 := &PhysicalDeviceProperties2{SType: StructureTypePhysicalDeviceProperties2, PNext: unsafe.Pointer(drv)}
		purego.SyscallN(in.p.GetPhysicalDeviceProperties2, uintptr(pd), uintptr(unsafe.Pointer(p2)))
		pin.Unpin()
		di.DriverName, di.DriverInfo = CString(drv.DriverName[:]), CString(drv.DriverInfo[:])
	}
	return di
}

// QueueFamilies lists pd's queue families.
func (in *Inst) QueueFamilies(pd PhysicalDevice) []QueueFamilyProperties {
	var n uint32
	purego.SyscallN(in.p.GetPhysicalDeviceQueueFamilyProperties, uintptr(pd), uintptr(unsafe.Pointer(&n)), 0)
	if n == 0 {
		return nil
	}
	q := make([]QueueFamilyProperties, n)
	purego.SyscallN(in.p.GetPhysicalDeviceQueueFamilyProperties, uintptr(pd), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&q[0])))
	return q[:n]
}

// MemoryProperties returns pd's memory types and heaps.
func (in *Inst) MemoryProperties(pd PhysicalDevice) PhysicalDeviceMemoryProperties {
	var m PhysicalDeviceMemoryProperties
	purego.SyscallN(in.p.GetPhysicalDeviceMemoryProperties, uintptr(pd), uintptr(unsafe.Pointer(&m)))
	return m
}

// Dev is a logical device with one queue, and the instance's entry points.
type Dev struct {
	Handle Device
	Queue  Queue
	p      *procs
}

// CreateDevice makes a logical device on pd with one queue of family
// (no extensions, no optional features).
func (in *Inst) CreateDevice(pd PhysicalDevice, family uint32) (*Dev, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	prio := new(float32)
	*prio = 1
	pin.Pin(prio)
	qci := &DeviceQueueCreateInfo{SType: StructureTypeDeviceQueueCreateInfo, QueueFamilyIndex: family, QueueCount: 1, PQueuePriorities: unsafe.Pointer(prio)}
	pin.Pin(qci)
	ci := &DeviceCreateInfo{SType: StructureTypeDeviceCreateInfo, QueueCreateInfoCount: 1, PQueueCreateInfos: unsafe.Pointer(qci)}
	d := &Dev{p: &in.p}
	r, _, _ := purego.SyscallN(in.p.CreateDevice, uintptr(pd), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&d.Handle)))
	if err := check("vkCreateDevice", r); err != nil {
		return nil, err
	}
	purego.SyscallN(in.p.GetDeviceQueue, uintptr(d.Handle), uintptr(family), 0, uintptr(unsafe.Pointer(&d.Queue)))
	return d, nil
}
