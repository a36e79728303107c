package vk

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Result is a VkResult; the negative ones are errors.
type Result int32

// The VkResult values this binding names (vulkan_core.h).
const (
	Success                 Result = 0
	NotReady                Result = 1
	Timeout                 Result = 2
	Incomplete              Result = 5
	ErrorOutOfHostMemory    Result = -1
	ErrorOutOfDeviceMemory  Result = -2
	ErrorInitializationFail Result = -3
	ErrorDeviceLost         Result = -4
	ErrorMemoryMapFailed    Result = -5
	ErrorLayerNotPresent    Result = -6
	ErrorExtensionNotPresnt Result = -7
	ErrorFeatureNotPresent  Result = -8
	ErrorIncompatibleDriver Result = -9
	ErrorTooManyObjects     Result = -10
	ErrorFragmentedPool     Result = -12
	ErrorUnknown            Result = -13
	ErrorOutOfPoolMemory    Result = -1000069000
)

var resultNames = map[Result]string{
	Success: "VK_SUCCESS", NotReady: "VK_NOT_READY", Timeout: "VK_TIMEOUT", Incomplete: "VK_INCOMPLETE",
	ErrorOutOfHostMemory: "VK_ERROR_OUT_OF_HOST_MEMORY", ErrorOutOfDeviceMemory: "VK_ERROR_OUT_OF_DEVICE_MEMORY",
	ErrorInitializationFail: "VK_ERROR_INITIALIZATION_FAILED", ErrorDeviceLost: "VK_ERROR_DEVICE_LOST",
	ErrorMemoryMapFailed: "VK_ERROR_MEMORY_MAP_FAILED", ErrorLayerNotPresent: "VK_ERROR_LAYER_NOT_PRESENT",
	ErrorExtensionNotPresnt: "VK_ERROR_EXTENSION_NOT_PRESENT", ErrorFeatureNotPresent: "VK_ERROR_FEATURE_NOT_PRESENT",
	ErrorIncompatibleDriver: "VK_ERROR_INCOMPATIBLE_DRIVER", ErrorTooManyObjects: "VK_ERROR_TOO_MANY_OBJECTS",
	ErrorFragmentedPool: "VK_ERROR_FRAGMENTED_POOL", ErrorUnknown: "VK_ERROR_UNKNOWN",
	ErrorOutOfPoolMemory: "VK_ERROR_OUT_OF_POOL_MEMORY",
}

func (r Result) Error() string {
	if n, ok := resultNames[r]; ok {
		return n
	}
	return fmt.Sprintf("VkResult %d", int32(r))
}

// check turns a call's VkResult into an error naming the call.
func check(call string, r uintptr) error {
	if res := Result(int32(r)); res < 0 {
		return fmt.Errorf("%s: %w", call, res)
	}
	return nil
}

// Structure types (VkStructureType) of the mirrored structs.
const (
	StructureTypeApplicationInfo                           = 0
	StructureTypeInstanceCreateInfo                        = 1
	StructureTypeDeviceQueueCreateInfo                     = 2
	StructureTypeDeviceCreateInfo                          = 3
	StructureTypeSubmitInfo                                = 4
	StructureTypeMemoryAllocateInfo                        = 5
	StructureTypeMappedMemoryRange                         = 6
	StructureTypeFenceCreateInfo                           = 8
	StructureTypeBufferCreateInfo                          = 12
	StructureTypeShaderModuleCreateInfo                    = 16
	StructureTypePipelineShaderStageCreateInfo             = 18
	StructureTypeComputePipelineCreateInfo                 = 29
	StructureTypePipelineLayoutCreateInfo                  = 30
	StructureTypeDescriptorSetLayoutCreateInfo             = 32
	StructureTypeDescriptorPoolCreateInfo                  = 33
	StructureTypeDescriptorSetAllocateInfo                 = 34
	StructureTypeWriteDescriptorSet                        = 35
	StructureTypeCommandPoolCreateInfo                     = 39
	StructureTypeCommandBufferAllocateInfo                 = 40
	StructureTypeCommandBufferBeginInfo                    = 42
	StructureTypeMemoryBarrier                             = 46
	StructureTypePhysicalDeviceProperties2                 = 1000059001
	StructureTypePhysicalDeviceDriverProperties            = 1000196000
	StructureTypeDebugUtilsMessengerCallbackDataEXT        = 1000128003
	StructureTypeDebugUtilsMessengerCreateInfoEXT          = 1000128004
	PhysicalDeviceTypeOther                                = 0
	PhysicalDeviceTypeIntegratedGPU                        = 1
	PhysicalDeviceTypeDiscreteGPU                          = 2
	PhysicalDeviceTypeVirtualGPU                           = 3
	PhysicalDeviceTypeCPU                                  = 4
	QueueComputeBit                                        = 0x2
	MemoryPropertyDeviceLocalBit                           = 0x1
	MemoryPropertyHostVisibleBit                           = 0x2
	MemoryPropertyHostCoherentBit                          = 0x4
	MemoryPropertyHostCachedBit                            = 0x8
	BufferUsageTransferSrcBit                              = 0x1
	BufferUsageTransferDstBit                              = 0x2
	BufferUsageStorageBufferBit                            = 0x20
	DescriptorTypeStorageBuffer                            = 7
	ShaderStageComputeBit                                  = 0x20
	PipelineBindPointCompute                               = 1
	CommandBufferLevelPrimary                              = 0
	CommandPoolCreateResetCommandBufferBit                 = 0x2
	CommandBufferUsageOneTimeSubmitBit                     = 0x1
	PipelineStageTopOfPipeBit                              = 0x1
	PipelineStageComputeShaderBit                          = 0x800
	PipelineStageTransferBit                               = 0x1000
	PipelineStageHostBit                                   = 0x4000
	AccessShaderReadBit                                    = 0x20
	AccessShaderWriteBit                                   = 0x40
	AccessTransferReadBit                                  = 0x800
	AccessTransferWriteBit                                 = 0x1000
	AccessHostReadBit                                      = 0x2000
	AccessHostWriteBit                                     = 0x4000
	DebugUtilsMessageSeverityVerboseBitEXT                 = 0x1
	DebugUtilsMessageSeverityInfoBitEXT                    = 0x10
	DebugUtilsMessageSeverityWarningBitEXT                 = 0x100
	DebugUtilsMessageSeverityErrorBitEXT                   = 0x1000
	DebugUtilsMessageTypeGeneralBitEXT                     = 0x1
	DebugUtilsMessageTypeValidationBitEXT                  = 0x2
	DebugUtilsMessageTypePerformanceBitEXT                 = 0x4
	WholeSize                                       uint64 = ^uint64(0)
)

// MakeAPIVersion is VK_MAKE_API_VERSION(0, major, minor, patch).
func MakeAPIVersion(major, minor, patch uint32) uint32 { return major<<22 | minor<<12 | patch }

// APIVersionString formats a packed API version as major.minor.patch.
func APIVersionString(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>22&0x7f, v>>12&0x3ff, v&0xfff)
}

// LoaderName is the shared library Load opens (tests point it at a
// library that does not exist to check the no-loader path).
var LoaderName = "libvulkan.so.1"

var (
	loadOnce sync.Once
	loadErr  error
	gipa     uintptr // vkGetInstanceProcAddr
	global   struct {
		CreateInstance                   uintptr
		EnumerateInstanceLayerProperties uintptr
		EnumerateInstanceVersion         uintptr
	}
)

// ErrNoLoader is wrapped by Load's error when libvulkan.so.1 cannot be
// opened (no Vulkan loader installed).
var ErrNoLoader = errors.New("no Vulkan loader")

// Load opens the Vulkan loader once per process and checks the struct
// mirrors. Its error wraps ErrNoLoader when the library is missing.
func Load() error {
	loadOnce.Do(func() {
		if err := checkLayouts(); err != nil {
			loadErr = err
			return
		}
		lib, err := purego.Dlopen(LoaderName, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			loadErr = fmt.Errorf("%w: %s not found (%v)", ErrNoLoader, LoaderName, err)
			return
		}
		gipa, err = purego.Dlsym(lib, "vkGetInstanceProcAddr")
		if err != nil {
			loadErr = fmt.Errorf("%w: %s has no vkGetInstanceProcAddr: %v", ErrNoLoader, LoaderName, err)
			return
		}
		loadErr = loadProcs(&global, func(name string) uintptr { return getInstanceProcAddr(0, name) }, "EnumerateInstanceVersion")
	})
	return loadErr
}

func cstring(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}

// GoString converts a NUL-terminated C string (or byte array) to Go.
func GoString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}

// CString returns the Go string of a fixed C char array.
func CString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func getInstanceProcAddr(inst Instance, name string) uintptr {
	p := cstring(name)
	r, _, _ := purego.SyscallN(gipa, uintptr(inst), uintptr(unsafe.Pointer(p)))
	return r
}

// loadProcs fills every uintptr field of the struct tbl points to with
// the address of "vk"+field name; names in optional may be missing.
func loadProcs(tbl any, get func(string) uintptr, optional ...string) error {
	v := reflect.ValueOf(tbl).Elem()
	var missing []string
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		addr := get("vk" + name)
		if addr == 0 {
			opt := false
			for _, o := range optional {
				opt = opt || o == name
			}
			if !opt {
				missing = append(missing, "vk"+name)
			}
		}
		v.Field(i).SetUint(uint64(addr))
	}
	if len(missing) > 0 {
		return fmt.Errorf("Vulkan loader lacks %v", missing)
	}
	return nil
}

// InstanceVersion is vkEnumerateInstanceVersion (1.0.0 where the loader
// predates it).
func InstanceVersion() uint32 {
	if global.EnumerateInstanceVersion == 0 {
		return MakeAPIVersion(1, 0, 0)
	}
	var v uint32
	purego.SyscallN(global.EnumerateInstanceVersion, uintptr(unsafe.Pointer(&v)))
	return v
}

// InstanceLayers lists the names of the installed instance layers.
func InstanceLayers() ([]string, error) {
	var n uint32
	r, _, _ := purego.SyscallN(global.EnumerateInstanceLayerProperties, uintptr(unsafe.Pointer(&n)), 0)
	if err := check("vkEnumerateInstanceLayerProperties", r); err != nil || n == 0 {
		return nil, err
	}
	props := make([]LayerProperties, n)
	r, _, _ = purego.SyscallN(global.EnumerateInstanceLayerProperties, uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&props[0])))
	if err := check("vkEnumerateInstanceLayerProperties", r); err != nil {
		return nil, err
	}
	names := make([]string, 0, n)
	for _, p := range props[:n] {
		names = append(names, CString(p.LayerName[:]))
	}
	return names, nil
}
