package backendtest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/ggmlref"
	"github.com/falsify/falsify/trace"
)

// Tolerances (NMSE) of ggml's test-backend-ops: most operations, and
// mul_mat (which it allows 5e-4 for every type; see doc.go for where this
// package is stricter).
const (
	TolDefault   = 1e-7
	TolQuantized = 5e-4
	TolExact     = 0
)

// Result is one row of the conformance table: one operation on one
// input shape (and weight type and matmul mode where they apply).
type Result struct {
	Op string // the backend.Context method
	// Variant names which of an operation's reference graphs this row
	// used, where there are several (Attention: "llama.cpp", "per head").
	Variant string
	Type    string           // weight type (ggml name), "f32" for activations only
	Mode    trace.MatmulMode // MatMul's mode; "" for the other operations
	Setup   string           // geometry and shape: "gqa n=5 pos=6"
	NMSE    float64          // vs ggml's result; NaN when not measured (Err)
	Tol     float64
	Err     error // the operation, the reference or a guard check failed
}

// OK reports whether the row passed: measured, and within its tolerance
// (an exact row needs NMSE 0).
func (r Result) OK() bool { return r.Err == nil && r.NMSE <= r.Tol }

// Report is what Compare measured, and on what.
type Report struct {
	Backend   string   // the backend's registry name
	Device    string   // its Device()
	Reference string   // the ggml backend and device it was compared with
	Results   []Result // in run order
}

// Table formats the results as an aligned text table.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "backend %s on %s vs ggml %s\n", r.Backend, r.Device, r.Reference)
	fmt.Fprintf(&b, "%-23s %-5s %-9s %-28s %-10s %-7s %s\n", "op", "type", "mode", "setup", "NMSE", "tol", "ok")
	for _, x := range r.Results {
		ok := "ok"
		if !x.OK() {
			ok = "FAIL"
			if x.Err != nil {
				ok += ": " + x.Err.Error()
			}
		}
		mode := string(x.Mode)
		if mode == "" {
			mode = "-"
		}
		op := x.Op
		if x.Variant != "" {
			op += " (" + x.Variant + ")"
		}
		fmt.Fprintf(&b, "%-23s %-5s %-9s %-28s %-10.3g %-7.0e %s\n", op, x.Type, mode, x.Setup, x.NMSE, x.Tol, ok)
	}
	return b.String()
}

// Worst returns the largest NMSE per operation (and variant, weight type
// for MatMul and Embed, mode for MatMul) as "op (variant) type mode" ->
// NMSE.
func (r Report) Worst() map[string]float64 {
	w := map[string]float64{}
	for _, x := range r.Results {
		k := x.Op
		if x.Variant != "" {
			k += " (" + x.Variant + ")"
		}
		if x.Op == "MatMul" || x.Op == "Embed" {
			k += " " + x.Type
		}
		if x.Mode != "" {
			k += " " + string(x.Mode)
		}
		if v, ok := w[k]; !ok || x.NMSE > v || math.IsNaN(x.NMSE) {
			w[k] = x.NMSE
		}
	}
	return w
}

// WeightTypes are the weight types the engine supports, in ggml's order;
// MatMul and Embed are checked for each.
var WeightTypes = []quant.Type{quant.F32, quant.F16, quant.BF16, quant.Q4_0, quant.Q4_1, quant.Q5_0, quant.Q5_1, quant.Q8_0,
	quant.Q2_K, quant.Q3_K, quant.Q4_K, quant.Q5_K, quant.Q6_K}

// Reference opens the ggml backend a registered backend is compared with:
// ggml's CPU backend for "cpu", ggml's Vulkan backend for "vulkan". Other
// names have no reference (an error); a missing ggml library or device
// wraps ggmlref.ErrUnavailable.
func Reference(name string) (*ggmlref.Lib, *ggmlref.Backend, error) {
	lib, err := ggmlref.Open()
	if err != nil {
		return nil, nil, err
	}
	var ref *ggmlref.Backend
	switch name {
	case "cpu":
		ref, err = lib.CPUBackend(1)
	case "vulkan":
		ref, err = lib.VulkanBackend()
	default:
		return nil, nil, fmt.Errorf("backendtest: no ggml reference is known for backend %q (cpu: ggml CPU, vulkan: ggml Vulkan)", name)
	}
	if err != nil {
		return nil, nil, err
	}
	return lib, ref, nil
}

// Unavailable reports whether err says the backend or the ggml reference
// cannot run here (a test skips on it).
func Unavailable(err error) bool {
	return errors.Is(err, backend.ErrUnavailable) || errors.Is(err, ggmlref.ErrUnavailable)
}

// Compare runs every case on the registered backend name and on its ggml
// reference. The error is for what prevents measuring at all (an
// unregistered or unavailable backend or reference, a backend on another
// device than the reference); a case that fails is a Result with Err.
func Compare(name string) (Report, error) {
	return CompareWith(name, name)
}

// CompareWith is Compare with the reference of backend refName ("cpu" or
// "vulkan"), for a backend registered under another name (a wrapper) or
// a comparison across devices (the CPU backend against ggml's Vulkan).
// It checks that the backend runs on the reference's device only when
// name == refName.
func CompareWith(name, refName string) (Report, error) {
	rep := Report{Backend: name}
	if err := backend.Lookup(name); err != nil {
		return rep, err
	}
	lib, ref, err := Reference(refName)
	if err != nil {
		return rep, err
	}
	defer ref.Close()
	rep.Reference = fmt.Sprintf("%s backend %s on %v (ggml %s, %s)", ref.Kind, ref.Name, ref.Device, lib.Version, lib.Dir)
	for gi, geo := range geometries(ref) {
		modes := []trace.MatmulMode{trace.MatmulF32}
		if gi == 0 {
			modes = trace.MatmulModes()
		}
		for _, mode := range modes {
			s, err := newSession(name, geo, mode, lib, ref)
			if err != nil {
				return rep, err
			}
			if rep.Device == "" {
				rep.Device = s.be.Device()
				if name == refName && ref.Kind == "vulkan" && !strings.Contains(rep.Device, ref.Device.Description) {
					s.close()
					return rep, fmt.Errorf("backendtest: backend %s runs on %q, ggml's reference on %q: set %s to one device index for both", name, rep.Device, ref.Device.Description, "FALSIFY_VULKAN_DEVICE")
				}
			}
			rep.Results = append(rep.Results, s.run(gi == 0)...)
			if err := s.close(); err != nil {
				rep.Results = append(rep.Results, Result{Op: "Close", Type: "-", Setup: geo.name, NMSE: math.NaN(), Err: err})
			}
		}
	}
	return rep, nil
}

// Check runs Compare in a test: it skips when the backend or the reference
// is unavailable here, logs the table, and fails for each row that is not
// OK.
func Check(t *testing.T, name string) Report {
	t.Helper()
	rep, err := Compare(name)
	if Unavailable(err) {
		t.Skipf("backend %s: %v", name, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	if len(rep.Results) == 0 {
		t.Fatal("no case ran")
	}
	for _, r := range rep.Results {
		if !r.OK() {
			t.Errorf("%s %s %s %s: NMSE %.3g, tolerance %.0e, error %v", r.Op, r.Type, r.Mode, r.Setup, r.NMSE, r.Tol, r.Err)
		}
	}
	return rep
}

// geometry is an attention configuration with the YaRN parameters ggml
// takes (backend.Attn holds the correction dimensions ggml derives).
type geometry struct {
	name               string
	a                  backend.Attn
	nCtxOrig           int
	betaFast, betaSlow float32
}

// geometries are the attention configurations the geometry-dependent
// operations run in: grouped-query heads with normal RoPE; one key/value
// head with NEOX RoPE on half of each head, YaRN scaling and frequency
// factors; multi-head attention with linear RoPE scaling.
func geometries(ref *ggmlref.Backend) []geometry {
	g := []geometry{
		{name: "gqa", a: backend.Attn{NHead: 4, NHeadKV: 2, HeadDim: 64, NRot: 64, RopeTheta: 10000, RMSEps: 1e-6}},
		{name: "neox-yarn", a: backend.Attn{NHead: 4, NHeadKV: 1, HeadDim: 64, NRot: 32, RopeTheta: 1e6, RopeNeox: true, RMSEps: 1e-5,
			RopeFreqScale: 0.25, RopeAttnFactor: 0.85, RopeExtFactor: 1, RopeFreqs: uniform(seedOf("rope_freqs"), 16, 1, 4)},
			nCtxOrig: 4096, betaFast: 32, betaSlow: 1},
		{name: "mha-linear", a: backend.Attn{NHead: 2, NHeadKV: 2, HeadDim: 32, NRot: 32, RopeTheta: 500000, RMSEps: 1e-6, RopeFreqScale: 0.5}},
	}
	for i := range g {
		if g[i].a.RopeExtFactor != 0 {
			g[i].a.RopeCorrDims = ref.RopeYarnCorrDims(g[i].a.NRot, g[i].nCtxOrig, g[i].a.RopeTheta, g[i].betaFast, g[i].betaSlow)
		}
	}
	return g
}

// seedOf derives a case's seed from its label, so a case's inputs do not
// change when cases are added or reordered.
func seedOf(label string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(label))
	return h.Sum64()
}

// uniform returns n values uniform in [lo, hi).
func uniform(seed uint64, n int, lo, hi float32) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return v
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
	return b
}

// weight is a model weight of a session: its raw bytes, the values ggml
// decodes from them, and the backend's handle.
type weight struct {
	info backend.WeightInfo
	f32  []float32 // ggml's to_float of info.Data
	w    backend.Weight
}

// makeWeight encodes uniform values in [-1, 1) as typ with ggml's
// reference quantizer (from_float_ref; F16 and BF16 by ggml's rounding)
// and decodes them back with ggml's to_float.
func makeWeight(lib *ggmlref.Lib, name string, typ quant.Type, rows, cols int, matrix bool) (*weight, error) {
	v := uniform(seedOf(name), rows*cols, -1, 1)
	w := &weight{info: backend.WeightInfo{Name: name, Type: typ, Rows: rows, Cols: cols, Matrix: matrix}}
	if typ == quant.F32 {
		w.info.Data, w.f32 = f32Bytes(v), v
		return w, nil
	}
	raw, err := lib.QuantizeRef(uint32(typ), v)
	if err != nil {
		return nil, fmt.Errorf("backendtest: encode %s as %s: %w", name, typ, err)
	}
	if w.f32, err = lib.Dequantize(uint32(typ), raw, rows*cols); err != nil {
		return nil, fmt.Errorf("backendtest: decode %s: %w", name, err)
	}
	w.info.Data = raw
	return w, nil
}
