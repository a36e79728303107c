package engine

import (
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/cpu" // registers the default backend
)

// MatmulMode selects how weight matrices multiply activations (defined
// with the backend seam, which every backend implements both modes of).
type MatmulMode = backend.MatmulMode

const (
	// MatmulF32 dequantizes each weight row to float32 and multiplies in
	// float32 (aprender's APR path).
	MatmulF32 = backend.MatmulF32
	// MatmulQuantized quantizes the activations to the weight type's ggml
	// vec-dot type and takes integer dot products, as llama.cpp does.
	MatmulQuantized = backend.MatmulQuantized
)

// ParseMatmulMode accepts "f32" or "quantized".
func ParseMatmulMode(s string) (MatmulMode, error) { return backend.ParseMatmulMode(s) }

// DefaultBackend is the backend a run uses when Options.Backend is empty.
const DefaultBackend = cpu.Name

// ErrBackendUnavailable is wrapped by the error of a run whose backend is
// not registered in this build or has no device here (backend.ErrUnavailable;
// the harness reports such a subject as SKIP with the error as the reason).
var ErrBackendUnavailable = backend.ErrUnavailable

// CheckBackend returns nil if the named backend ("" for the default) is
// registered, else an error wrapping ErrBackendUnavailable. Whether its
// device is present is known only when a session opens it.
func CheckBackend(name string) error {
	if name == "" {
		name = DefaultBackend
	}
	return backend.Lookup(name)
}
