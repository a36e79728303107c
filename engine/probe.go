package engine

import (
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/trace"
)

// BackendStatus is what ProbeBackends finds for one registered backend:
// the device it would compute on here, or why it cannot run.
type BackendStatus struct {
	Name      string `json:"name"`
	Default   bool   `json:"default"`   // the backend a run uses when it names none
	Available bool   `json:"available"` // it opened here: it has a device
	Device    string `json:"device"`    // Backend.Device() when available, else ""
	Problem   string `json:"problem"`   // why it cannot run here, else ""
}

// probeAttn is a small valid attention geometry: probing opens a backend
// without a model, and Open checks only the geometry.
var probeAttn = backend.Attn{NHead: 1, NHeadKV: 1, HeadDim: 2, NRot: 2, RopeTheta: 10000, RMSEps: 1e-6}

// ProbeBackend opens the named backend without a model and closes it
// again, returning its device (for a GPU: name, type, driver, API
// version). An error wraps ErrBackendUnavailable when the backend is not
// registered or has no device or driver here; another error means it is
// present but failed to open.
func ProbeBackend(name string) (device string, err error) {
	be, err := backend.Open(name, backend.Config{Matmul: trace.MatmulQuantized, Attn: probeAttn})
	if err != nil {
		return "", err
	}
	device = be.Device()
	return device, be.Close()
}

// ProbeBackends probes every registered backend (backend.Names order).
func ProbeBackends() []BackendStatus {
	var out []BackendStatus
	for _, name := range backend.Names() {
		st := BackendStatus{Name: name, Default: name == DefaultBackend}
		dev, err := ProbeBackend(name)
		if err != nil {
			st.Problem = err.Error()
		} else {
			st.Available, st.Device = true, dev
		}
		out = append(out, st)
	}
	return out
}
