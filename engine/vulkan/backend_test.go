package vulkan

import (
	"errors"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
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
