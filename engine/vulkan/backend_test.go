package vulkan

import (
	"errors"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/engine/vulkan/vk"
	"github.com/falsify/falsify/trace"
)

// TestDeviceIndex: FALSIFY_VULKAN_DEVICE picks a device by index; an index
// the machine lacks is ErrUnavailable naming the devices there are.
func TestDeviceIndex(t *testing.T) {
	openVK(t, testConfig(trace.MatmulF32)) // skips without a device
	t.Setenv(EnvDevice, "0")
	b := openVK(t, testConfig(trace.MatmulF32))
	t.Logf("device 0: %s", b.Device())
	t.Setenv(EnvDevice, "99")
	_, err := backend.Open(Name, testConfig(trace.MatmulF32))
	if !errors.Is(err, backend.ErrUnavailable) || !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), "0: ") {
		t.Fatalf("device 99: %v, want ErrUnavailable naming the index and the devices", err)
	}
	t.Logf("device 99: %v", err)
}

// TestBadSettings: an EnvDevice that is not an index and an EnvValidate
// other than 0/1 are errors naming the variable and what it wants, not
// ErrUnavailable (which a contract run turns into a SKIP that
// --allow-unavailable vulkan lets pass); so is EnvValidate=1 where the
// validation layer is not installed.
func TestBadSettings(t *testing.T) {
	openVK(t, testConfig(trace.MatmulF32)) // skips without a device
	cases := []struct {
		env, val string
		want     []string
	}{
		{EnvDevice, "abc", []string{EnvDevice + `="abc"`, "want one device index", "0: "}},
		{EnvDevice, "-1", []string{EnvDevice + `="-1"`, "want one device index"}},
		{EnvDevice, " 0", []string{EnvDevice + `=" 0"`, "want one device index"}},
		{EnvDevice, "+0", []string{EnvDevice + `="+0"`, "want one device index"}},
		{EnvValidate, "yes", []string{EnvValidate + `="yes"`, "want 1"}},
		{EnvValidate, "true", []string{EnvValidate + `="true"`, "want 1"}},
	}
	for _, c := range cases {
		t.Run(c.env+"="+c.val, func(t *testing.T) {
			t.Setenv(c.env, c.val)
			_, err := backend.Open(Name, testConfig(trace.MatmulF32))
			if err == nil || errors.Is(err, backend.ErrUnavailable) {
				t.Fatalf("%s=%q: %v, want a plain error", c.env, c.val, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s=%q: %v, want it to say %q", c.env, c.val, err, w)
				}
			}
		})
	}
	t.Run("layer missing", func(t *testing.T) {
		t.Setenv("VK_LAYER_PATH", t.TempDir()) // the loader looks for explicit layers only there
		t.Setenv(EnvValidate, "1")
		_, err := backend.Open(Name, testConfig(trace.MatmulF32))
		if err == nil || errors.Is(err, backend.ErrUnavailable) || !strings.Contains(err.Error(), EnvValidate+"=1") || !strings.Contains(err.Error(), "not installed") {
			t.Fatalf("validation without the layer: %v, want an error naming %s and the missing layer", err, EnvValidate)
		}
		t.Log(err)
	})
}

// TestWeightRefusals: a type without shaders, a vector that is not F32,
// and a weight beyond maxStorageBufferRange are refused with the tensor's
// name and the reason.
func TestWeightRefusals(t *testing.T) {
	b := openVK(t, testConfig(trace.MatmulQuantized))
	cases := []struct {
		w    backend.WeightInfo
		want string
	}{
		{backend.WeightInfo{Name: "blk.0.ffn_up.weight", Type: quant.Q8_K, Rows: 2, Cols: 256, Data: make([]byte, 2*292), Matrix: true}, "Q8_K"},
		{backend.WeightInfo{Name: "blk.0.attn_norm.weight", Type: quant.F16, Rows: 1, Cols: 64, Data: make([]byte, 128)}, "must be F32"},
		{backend.WeightInfo{Name: "blk.0.attn_q.weight", Type: quant.F32, Rows: 2, Cols: 48, Data: make([]byte, 2*48*4), Matrix: true}, "multiple of 32"},
	}
	for _, c := range cases {
		_, err := b.Weight(c.w)
		if err == nil || !strings.Contains(err.Error(), c.w.Name) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming it and %q", c.w.Name, err, c.want)
		}
	}
	saved := b.limits.MaxStorageBufferRange
	b.limits.MaxStorageBufferRange = 1024
	_, err := b.Weight(backend.WeightInfo{Name: "output.weight", Type: quant.F32, Rows: 16, Cols: 32, Data: make([]byte, 16*32*4), Matrix: true})
	b.limits.MaxStorageBufferRange = saved
	if err == nil || !strings.Contains(err.Error(), "output.weight") || !strings.Contains(err.Error(), "maxStorageBufferRange") {
		t.Errorf("oversized weight: %v", err)
	}
	validationClean(t, b)
}

// TestReadErrorAndRecovery: a failed operation's error comes back from
// the next Read (and only that one), and the context keeps working.
func TestReadErrorAndRecovery(t *testing.T) {
	b := openVK(t, testConfig(trace.MatmulF32))
	c, err := b.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: 1, MaxCtx: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x := c.Alloc(8)
	c.Write(x, 4, []float32{1, 2, 3, 4, 5}) // one past the end
	if _, err := c.Read(x, 8); err == nil || !strings.Contains(err.Error(), "write of 5 floats at 4") {
		t.Fatalf("Read after a bad write: %v", err)
	}
	c.Write(x, 4, []float32{1, 2, 3, 4})
	got, err := c.Read(x, 8)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 0, 0, 1, 2, 3, 4}; !equalF32(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	// A read bigger than the readback buffer grows it.
	big := c.Alloc(1 << 19)
	vals := make([]float32, 1<<19)
	for i := range vals {
		vals[i] = float32(i)
	}
	c.Write(big, 0, vals)
	got, err = c.Read(big, len(vals))
	if err != nil || !equalF32(got, vals) {
		t.Fatalf("big read: %v (equal %v)", err, err == nil && equalF32(got, vals))
	}
	validationClean(t, b)
}

// TestCloseReportsOpenContext: closing the backend with a context still
// open is an error (and the validation layer reports its objects).
func TestCloseReportsOpenContext(t *testing.T) {
	be, err := backend.Open(Name, testConfig(trace.MatmulF32))
	if errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b := be.(*Backend)
	c, err := b.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: 1, MaxCtx: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Alloc(4)
	err = b.Close()
	if err == nil || !strings.Contains(err.Error(), "1 contexts still open") {
		t.Fatalf("Close with an open context: %v", err)
	}
	if b.inst.Validating && !strings.Contains(err.Error(), "validation messages") {
		t.Errorf("validation layer did not report the leaked objects: %v", err)
	}
	t.Logf("%v", err)
	if err := c.Close(); err == nil || !strings.Contains(err.Error(), "after its backend") {
		t.Errorf("context Close after the backend's: %v", err)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMemoryTypeChoice: on a discrete GPU's typical memory types (NVIDIA:
// device-local, host-visible, host-cached, and a 256 MiB device-local
// host-visible BAR window) the weights go to the big device-local heap
// through staging, the upload ring to host-coherent memory and readback to
// host-cached memory; on lavapipe's single all-in-one type everything is
// that type and weights are written directly.
func TestMemoryTypeChoice(t *testing.T) {
	const (
		dl = vk.MemoryPropertyDeviceLocalBit
		hv = vk.MemoryPropertyHostVisibleBit
		hc = vk.MemoryPropertyHostCoherentBit
		ca = vk.MemoryPropertyHostCachedBit
	)
	var gpu vk.PhysicalDeviceMemoryProperties
	gpu.MemoryHeapCount, gpu.MemoryTypeCount = 3, 5
	gpu.MemoryHeaps[0].Size, gpu.MemoryHeaps[1].Size, gpu.MemoryHeaps[2].Size = 140<<30, 64<<30, 256<<20
	gpu.MemoryTypes[0] = vk.MemoryType{PropertyFlags: 0, HeapIndex: 1}
	gpu.MemoryTypes[1] = vk.MemoryType{PropertyFlags: dl | hv | hc, HeapIndex: 2}
	gpu.MemoryTypes[2] = vk.MemoryType{PropertyFlags: dl, HeapIndex: 0}
	gpu.MemoryTypes[3] = vk.MemoryType{PropertyFlags: hv | hc, HeapIndex: 1}
	gpu.MemoryTypes[4] = vk.MemoryType{PropertyFlags: hv | hc | ca, HeapIndex: 1}
	m := findMemTypes(gpu)
	if m.device != 2 || m.deviceHV || m.upload != 3 || m.readback != 4 || !m.uploadCo || !m.readCo {
		t.Errorf("discrete GPU: %+v", m)
	}
	var lvp vk.PhysicalDeviceMemoryProperties
	lvp.MemoryHeapCount, lvp.MemoryTypeCount = 1, 1
	lvp.MemoryHeaps[0].Size = 2 << 30
	lvp.MemoryTypes[0] = vk.MemoryType{PropertyFlags: dl | hv | hc | ca}
	m = findMemTypes(lvp)
	if m.device != 0 || !m.deviceHV || m.upload != 0 || m.readback != 0 {
		t.Errorf("lavapipe: %+v", m)
	}
}
