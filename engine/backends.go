package engine

import (
	"errors"
	"fmt"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/cpu"      // registers the default backend
	_ "github.com/falsify/falsify/engine/vulkan" // registers "vulkan" (GPU; unavailable without a Vulkan device)
	"github.com/falsify/falsify/trace"
)

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

// backendKey identifies a backend opened for a model: its weights are
// held per matmul mode (the CPU prepares each type's kernels for one).
type backendKey struct {
	name   string
	matmul trace.MatmulMode
}

// boundBackend is a backend with the model's weights handed over.
type boundBackend struct {
	be backend.Backend
	w  map[*Tensor]backend.Weight // the model's weights as the backend holds them
}

// backend returns the named backend opened for m in mode, opening it and
// handing it every weight of the graph on first use, so a GPU uploads the
// model once however many sessions run on it. Errors from an unavailable
// backend wrap ErrBackendUnavailable.
func (m *Model) backend(name string, mode trace.MatmulMode) (*boundBackend, error) {
	m.backendsMu.Lock()
	defer m.backendsMu.Unlock()
	key := backendKey{name, mode}
	if bb, ok := m.backends[key]; ok {
		return bb, nil
	}
	h := &m.Hyper
	be, err := backend.Open(name, backend.Config{Matmul: mode, Attn: backend.Attn{
		NHead: h.NHead, NHeadKV: h.NHeadKV, HeadDim: h.HeadDim, NRot: h.NRot,
		RopeTheta: h.RopeTheta, RopeNeox: h.Rope == RopeNeox, RMSEps: h.RMSEps,
		RopeFreqScale: h.RopeFreqScale, RopeAttnFactor: h.RopeAttnFactor, RopeExtFactor: h.RopeExtFactor,
		RopeCorrDims: h.RopeCorrDims, RopeFreqs: m.RopeFreqs}})
	if err != nil {
		return nil, err
	}
	bb := &boundBackend{be: be, w: map[*Tensor]backend.Weight{}}
	if err := bb.bindWeights(m); err != nil {
		return nil, errors.Join(err, be.Close())
	}
	if m.backends == nil {
		m.backends = map[backendKey]*boundBackend{}
	}
	m.backends[key] = bb
	return bb, nil
}

// bindWeights hands every weight of the graph to the backend once (the
// tied output and the embedding are one weight, bound as a matrix).
func (bb *boundBackend) bindWeights(m *Model) error {
	bind := func(t *Tensor, matrix bool) error {
		if _, done := bb.w[t]; done || t == nil {
			return nil
		}
		w, err := bb.be.Weight(backend.WeightInfo{Name: t.Name, Type: t.Type, Rows: t.Rows(), Cols: t.Cols(), Data: t.Data, Matrix: matrix})
		if err != nil {
			return err
		}
		bb.w[t] = w
		return nil
	}
	for _, t := range m.matrices() {
		if err := bind(t, true); err != nil {
			return err
		}
	}
	if err := bind(m.TokEmbd, false); err != nil { // bound above when tied
		return err
	}
	vectors := []*Tensor{m.OutputNorm}
	for i := range m.Layers {
		l := &m.Layers[i]
		vectors = append(vectors, l.AttnNorm, l.Bq, l.Bk, l.Bv, l.QNorm, l.KNorm, l.Bo, l.FFNNorm)
	}
	for _, t := range vectors {
		if err := bind(t, false); err != nil {
			return err
		}
	}
	return nil
}

// matrices lists the weights that multiply activations.
func (m *Model) matrices() []*Tensor {
	out := []*Tensor{m.Output}
	for i := range m.Layers {
		l := &m.Layers[i]
		out = append(out, l.Wq, l.Wk, l.Wv, l.Wo, l.WGate, l.WUp, l.WDown)
	}
	return out
}

// closeBackends closes the backends opened for m.
func (m *Model) closeBackends() error {
	m.backendsMu.Lock()
	defer m.backendsMu.Unlock()
	var errs []error
	for key, bb := range m.backends {
		if err := bb.be.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close backend %s: %w", key.name, err))
		}
	}
	m.backends = nil
	return errors.Join(errs...)
}
