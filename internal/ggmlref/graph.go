package ggmlref

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ggml types used by the graph runner besides the weight types (ggml.h
// enum ggml_type; engine/quant.Type uses the same numbers).
const (
	TypeF32 uint32 = 0
	TypeF16 uint32 = 1
	TypeI32 uint32 = 26
)

// RoPE modes of ggml_rope_ext (ggml.h GGML_ROPE_TYPE_*).
const (
	RopeNormal = 0
	RopeNeox   = 2
)

// ggml_prec (ggml.h): GGML_PREC_F32 asks a backend for float32
// accumulation in mul_mat (ggml-vulkan otherwise may use f16 accumulators).
const precF32 = 10

// GGML_STATUS_SUCCESS (ggml.h enum ggml_status).
const statusSuccess = 0

// cInitParams mirrors struct ggml_init_params (ggml.h).
type cInitParams struct {
	memSize   uintptr // size_t
	memBuffer uintptr // void *
	noAlloc   bool
	_         [7]byte
}

// Offsets into struct ggml_tensor (ggml.h of ggml 0.23.0: GGML_MAX_DIMS 4,
// GGML_MAX_OP_PARAMS 64, GGML_MAX_SRC 10, GGML_MAX_NAME 64), checked by
// checkGraphLayout against ggml_nelements, ggml_nbytes, ggml_get_name and
// ggml_tensor_overhead.
const (
	tOffType   = 0
	tOffBuffer = 8
	tOffNe     = 16
	tOffNb     = 48
	tOffName   = 256
	tensorSize = 336 // GGML_TENSOR_SIZE
	objectSize = 32  // GGML_OBJECT_SIZE
)

func init() {
	if unsafe.Sizeof(cInitParams{}) != 24 {
		panic("ggmlref: mirrored ggml_init_params size is wrong for this platform")
	}
}

// Device types of ggml-backend.h (enum ggml_backend_dev_type).
var devTypeNames = []string{"CPU", "GPU", "IGPU", "ACCEL", "META"}

// graphAPI holds ggml-base's graph and backend functions, bound once per
// Lib (bindGraph).
type graphAPI struct {
	init             func(p cInitParams) uintptr
	free             func(ctx uintptr)
	tensorOverhead   func() uintptr
	graphOverhead    func() uintptr
	newTensor        func(ctx uintptr, typ int32, nDims int32, ne unsafe.Pointer) uintptr
	setName          func(t uintptr, name string) uintptr
	getName          func(t uintptr) uintptr
	nelements        func(t uintptr) int64
	nbytes           func(t uintptr) uintptr
	opDesc           func(t uintptr) string
	mulMat           func(ctx, a, b uintptr) uintptr
	mulMatSetPrec    func(t uintptr, prec int32)
	getRows          func(ctx, a, b uintptr) uintptr
	rmsNorm          func(ctx, a uintptr, eps float32) uintptr
	mul              func(ctx, a, b uintptr) uintptr
	add              func(ctx, a, b uintptr) uintptr
	silu             func(ctx, a uintptr) uintptr
	ropeExt          func(ctx, a, b, c uintptr, nDims, mode, nCtxOrig int32, freqBase, freqScale, extFactor, attnFactor, betaFast, betaSlow float32) uintptr
	ropeYarnCorrDims func(nDims, nCtxOrig int32, freqBase, betaFast, betaSlow float32, dims *[2]float32)
	softMaxExt       func(ctx, a, mask uintptr, scale, maxBias float32) uintptr
	permute          func(ctx, a uintptr, ax0, ax1, ax2, ax3 int32) uintptr
	view2d           func(ctx, a uintptr, ne0, ne1 int64, nb1, offset uintptr) uintptr
	view3d           func(ctx, a uintptr, ne0, ne1, ne2 int64, nb1, nb2, offset uintptr) uintptr
	cont             func(ctx, a uintptr) uintptr
	cpy              func(ctx, a, b uintptr) uintptr
	newGraph         func(ctx uintptr) uintptr
	buildForward     func(g, t uintptr)
	graphNNodes      func(g uintptr) int32
	graphNode        func(g uintptr, i int32) uintptr

	allocCtxTensors func(ctx, backend uintptr) uintptr
	bufferFree      func(buf uintptr)
	bufferName      func(buf uintptr) string
	bufferGetType   func(buf uintptr) uintptr
	buftGetDevice   func(buft uintptr) uintptr
	tensorSet       func(t uintptr, data unsafe.Pointer, offset, size uintptr)
	tensorGet       func(t uintptr, data unsafe.Pointer, offset, size uintptr)
	graphCompute    func(backend, g uintptr) int32
	supportsOp      func(backend, op uintptr) bool
	backendFree     func(backend uintptr)
	backendName     func(backend uintptr) string
	backendDevice   func(backend uintptr) uintptr
	devName         func(dev uintptr) string
	devDescription  func(dev uintptr) string
	devType         func(dev uintptr) int32

	cpuInit    func() uintptr
	cpuThreads func(backend uintptr, n int32)
	isCPU      func(backend uintptr) bool
}

// bindGraph binds the graph API on first use.
func (l *Lib) bindGraph() (*graphAPI, error) {
	l.graphOnce.Do(func() { l.graph, l.graphErr = l.loadGraphAPI() })
	return l.graph, l.graphErr
}

func (l *Lib) loadGraphAPI() (*graphAPI, error) {
	g := &graphAPI{}
	var firstErr error
	bind := func(h uintptr, name string, fptr any) {
		if firstErr != nil {
			return
		}
		sym, err := purego.Dlsym(h, name)
		if err != nil {
			firstErr = fmt.Errorf("ggmlref: symbol %s: %w", name, err)
			return
		}
		purego.RegisterFunc(fptr, sym)
	}
	for _, b := range []struct {
		name string
		fptr any
	}{
		{"ggml_init", &g.init},
		{"ggml_free", &g.free},
		{"ggml_tensor_overhead", &g.tensorOverhead},
		{"ggml_graph_overhead", &g.graphOverhead},
		{"ggml_new_tensor", &g.newTensor},
		{"ggml_set_name", &g.setName},
		{"ggml_get_name", &g.getName},
		{"ggml_nelements", &g.nelements},
		{"ggml_nbytes", &g.nbytes},
		{"ggml_op_desc", &g.opDesc},
		{"ggml_mul_mat", &g.mulMat},
		{"ggml_mul_mat_set_prec", &g.mulMatSetPrec},
		{"ggml_get_rows", &g.getRows},
		{"ggml_rms_norm", &g.rmsNorm},
		{"ggml_mul", &g.mul},
		{"ggml_add", &g.add},
		{"ggml_silu", &g.silu},
		{"ggml_rope_ext", &g.ropeExt},
		{"ggml_rope_yarn_corr_dims", &g.ropeYarnCorrDims},
		{"ggml_soft_max_ext", &g.softMaxExt},
		{"ggml_permute", &g.permute},
		{"ggml_view_2d", &g.view2d},
		{"ggml_view_3d", &g.view3d},
		{"ggml_cont", &g.cont},
		{"ggml_cpy", &g.cpy},
		{"ggml_new_graph", &g.newGraph},
		{"ggml_build_forward_expand", &g.buildForward},
		{"ggml_graph_n_nodes", &g.graphNNodes},
		{"ggml_graph_node", &g.graphNode},
		{"ggml_backend_alloc_ctx_tensors", &g.allocCtxTensors},
		{"ggml_backend_buffer_free", &g.bufferFree},
		{"ggml_backend_buffer_name", &g.bufferName},
		{"ggml_backend_buffer_get_type", &g.bufferGetType},
		{"ggml_backend_buft_get_device", &g.buftGetDevice},
		{"ggml_backend_tensor_set", &g.tensorSet},
		{"ggml_backend_tensor_get", &g.tensorGet},
		{"ggml_backend_graph_compute", &g.graphCompute},
		{"ggml_backend_supports_op", &g.supportsOp},
		{"ggml_backend_free", &g.backendFree},
		{"ggml_backend_name", &g.backendName},
		{"ggml_backend_get_device", &g.backendDevice},
		{"ggml_backend_dev_name", &g.devName},
		{"ggml_backend_dev_description", &g.devDescription},
		{"ggml_backend_dev_type", &g.devType},
	} {
		bind(l.base, b.name, b.fptr)
	}
	bind(l.cpu, "ggml_backend_cpu_init", &g.cpuInit)
	bind(l.cpu, "ggml_backend_cpu_set_n_threads", &g.cpuThreads)
	bind(l.cpu, "ggml_backend_is_cpu", &g.isCPU)
	if firstErr != nil {
		return nil, firstErr
	}
	if err := g.checkLayout(); err != nil {
		return nil, fmt.Errorf("ggmlref: struct ggml_tensor layout check: %w", err)
	}
	return g, nil
}

// checkLayout verifies the mirrored ggml_tensor offsets on a scratch
// tensor against ggml's own accessors.
func (g *graphAPI) checkLayout() error {
	if got := g.tensorOverhead(); got != objectSize+tensorSize {
		return fmt.Errorf("ggml_tensor_overhead %d, want %d (ggml_object %d + ggml_tensor %d)", got, objectSize+tensorSize, objectSize, tensorSize)
	}
	ctx := g.init(cInitParams{memSize: 4 * g.tensorOverhead(), noAlloc: true})
	if ctx == 0 {
		return errors.New("ggml_init returned NULL")
	}
	defer g.free(ctx)
	ne := [4]int64{256, 3, 2, 1}
	t := g.newTensor(ctx, 12 /* q4_K */, 3, unsafe.Pointer(&ne[0]))
	g.setName(t, "layout")
	tt := tensor(t)
	switch {
	case tt.typ() != 12:
		return fmt.Errorf("type at offset %d is %d, want 12", tOffType, tt.typ())
	case tt.ne() != ne:
		return fmt.Errorf("ne at offset %d is %v, want %v", tOffNe, tt.ne(), ne)
	case g.nelements(t) != 256*3*2:
		return fmt.Errorf("ggml_nelements %d, want %d", g.nelements(t), 256*3*2)
	case tt.nb() != [4]uintptr{144, 144, 432, 864} || g.nbytes(t) != 144*6:
		return fmt.Errorf("nb at offset %d is %v (ggml_nbytes %d), want q4_K strides [144 144 432 864]", tOffNb, tt.nb(), g.nbytes(t))
	case g.getName(t) != t+tOffName || cString((*byte)(ptr(t+tOffName))) != "layout":
		return fmt.Errorf("name is not at offset %d", tOffName)
	case tt.buffer() != 0:
		return fmt.Errorf("buffer at offset %d is set in a no_alloc context", tOffBuffer)
	}
	return nil
}

// ptr turns a C address into a pointer (C memory, never moved by Go's GC).
func ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// tensor is a struct ggml_tensor * read through the mirrored offsets.
type tensor uintptr

func (t tensor) typ() uint32     { return *(*uint32)(ptr(uintptr(t) + tOffType)) }
func (t tensor) buffer() uintptr { return *(*uintptr)(ptr(uintptr(t) + tOffBuffer)) }
func (t tensor) ne() [4]int64    { return *(*[4]int64)(ptr(uintptr(t) + tOffNe)) }
func (t tensor) nb() [4]uintptr  { return *(*[4]uintptr)(ptr(uintptr(t) + tOffNb)) }

// DeviceInfo is what ggml says about the device of a backend.
type DeviceInfo struct {
	Name        string // ggml_backend_dev_name: "CPU", "Vulkan0"
	Description string // ggml_backend_dev_description: the CPU model, or the Vulkan driver's device name
	Type        string // ggml_backend_dev_type: CPU, GPU, IGPU, ACCEL
}

func (d DeviceInfo) String() string {
	return fmt.Sprintf("%s: %s (ggml type %s)", d.Name, d.Description, d.Type)
}

// Backend is one ggml backend (ggml_backend_t) on which graphs run
// whole, without ggml's scheduler: an operation it does not support is an
// error before anything runs, never a silent hand-off to another device.
type Backend struct {
	Name   string     // ggml_backend_name: "CPU", "Vulkan0"
	Device DeviceInfo // ggml_backend_get_device
	Kind   string     // "cpu" or "vulkan": which library made it

	lib    *Lib
	g      *graphAPI
	h      uintptr
	mu     sync.Mutex // one graph at a time: ggml backends are not reentrant
	closed bool
	// perGraph, when set, makes a fresh ggml backend on the same device
	// for each Graph (see VulkanBackend for why).
	perGraph func() (uintptr, error)
}

// CPUBackend returns ggml's CPU backend (of the Lib's CPU variant) with
// threads worker threads.
func (l *Lib) CPUBackend(threads int) (*Backend, error) {
	g, err := l.bindGraph()
	if err != nil {
		return nil, err
	}
	h := g.cpuInit()
	if h == 0 {
		return nil, fmt.Errorf("ggmlref: ggml_backend_cpu_init returned NULL")
	}
	if !g.isCPU(h) {
		g.backendFree(h)
		return nil, fmt.Errorf("ggmlref: ggml_backend_cpu_init made a backend that ggml_backend_is_cpu denies")
	}
	g.cpuThreads(h, int32(max(1, threads)))
	return l.newBackend(g, h, "cpu"), nil
}

func (l *Lib) newBackend(g *graphAPI, h uintptr, kind string) *Backend {
	b := &Backend{lib: l, g: g, h: h, Kind: kind, Name: g.backendName(h)}
	if d := g.backendDevice(h); d != 0 {
		t := g.devType(d)
		ts := fmt.Sprintf("type %d", t)
		if t >= 0 && int(t) < len(devTypeNames) {
			ts = devTypeNames[t]
		}
		b.Device = DeviceInfo{Name: g.devName(d), Description: g.devDescription(d), Type: ts}
	}
	return b
}

// Close frees the backend.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.g.backendFree(b.h)
		b.closed = true
	}
	return nil
}

// Tensor is a tensor of a Graph (a struct ggml_tensor *).
type Tensor struct{ p uintptr }

// Ne returns the tensor's shape (ggml ne: ne[0] is the row length).
func (t Tensor) Ne() [4]int64 {
	if t.p == 0 {
		return [4]int64{}
	}
	return tensor(t.p).ne()
}

// Graph builds one ggml compute graph in a no_alloc context: tensors
// are described first, then Compute allocates them in one buffer of the
// backend (ggml_backend_alloc_ctx_tensors), uploads the inputs
// (ggml_backend_tensor_set), checks ggml_backend_supports_op for every
// node and runs ggml_backend_graph_compute. Shapes are checked in Go
// before each ggml call (ggml aborts the process on a bad shape); the
// first error is kept and returned by Compute.
type Graph struct {
	b      *Backend
	g      *graphAPI
	h      uintptr // the ggml backend it runs on: b's, or its own (perGraph)
	ownH   bool
	ctx    uintptr
	buf    uintptr
	inputs []input
	outs   []uintptr
	err    error
	done   bool
}

type input struct {
	t    uintptr
	data []byte
}

// maxGraphTensors bounds a Graph's tensors (the context's metadata size).
const maxGraphTensors = 256

// NewGraph starts a graph on b. Free releases it.
func (b *Backend) NewGraph() (*Graph, error) {
	g := b.g
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, errors.New("ggmlref: NewGraph on a closed backend")
	}
	gr := &Graph{b: b, g: g, h: b.h}
	if b.perGraph != nil {
		h, err := b.perGraph()
		if err != nil {
			return nil, err
		}
		gr.h, gr.ownH = h, true
	}
	gr.ctx = g.init(cInitParams{memSize: maxGraphTensors*g.tensorOverhead() + g.graphOverhead(), noAlloc: true})
	if gr.ctx == 0 {
		gr.Free()
		return nil, errors.New("ggmlref: ggml_init returned NULL")
	}
	return gr, nil
}

// Free releases the graph's context and buffer.
func (gr *Graph) Free() {
	if gr.buf != 0 {
		gr.g.bufferFree(gr.buf)
		gr.buf = 0
	}
	if gr.ctx != 0 {
		gr.g.free(gr.ctx)
		gr.ctx = 0
	}
	if gr.ownH {
		gr.g.backendFree(gr.h)
		gr.ownH = false
	}
}

func (gr *Graph) fail(format string, args ...any) Tensor {
	if gr.err == nil {
		gr.err = fmt.Errorf("ggmlref graph: "+format, args...)
	}
	return Tensor{}
}

// ok reports whether the graph has no error yet and every tensor is set.
func (gr *Graph) ok(ts ...Tensor) bool {
	if gr.err != nil || gr.done {
		if gr.err == nil {
			gr.err = errors.New("ggmlref graph: already computed")
		}
		return false
	}
	for _, t := range ts {
		if t.p == 0 {
			gr.fail("a NULL tensor was passed on")
			return false
		}
	}
	return true
}

func (gr *Graph) newTensor(typ uint32, ne []int64) Tensor {
	if !gr.ok() {
		return Tensor{}
	}
	if len(ne) < 1 || len(ne) > 4 {
		return gr.fail("%d dimensions (want 1 to 4)", len(ne))
	}
	for _, n := range ne {
		if n < 1 {
			return gr.fail("shape %v has an empty dimension", ne)
		}
	}
	blck, _ := gr.b.lib.blockInfo(int32(typ))
	if blck <= 0 || ne[0]%blck != 0 {
		return gr.fail("rows of %d elements of %s are not whole %d-element blocks", ne[0], gr.b.lib.typeName(int32(typ)), blck)
	}
	var a [4]int64
	copy(a[:], ne)
	return Tensor{gr.g.newTensor(gr.ctx, int32(typ), int32(len(ne)), unsafe.Pointer(&a[0]))}
}

// Input adds a tensor of type typ and shape ne whose raw bytes (ggml's
// layout for typ, rows contiguous) are data; data is uploaded by Compute
// and must not change before.
func (gr *Graph) Input(typ uint32, data []byte, ne ...int64) Tensor {
	t := gr.newTensor(typ, ne)
	if t.p == 0 {
		return t
	}
	if want := gr.g.nbytes(t.p); uintptr(len(data)) != want {
		return gr.fail("input of shape %v and type %s needs %d bytes, got %d", ne, gr.b.lib.typeName(int32(typ)), want, len(data))
	}
	gr.inputs = append(gr.inputs, input{t.p, data})
	return t
}

// InputF32 adds a float32 tensor of shape ne holding v.
func (gr *Graph) InputF32(v []float32, ne ...int64) Tensor {
	return gr.Input(TypeF32, f32Bytes(v), ne...)
}

// InputI32 adds an int32 tensor of shape ne holding v.
func (gr *Graph) InputI32(v []int32, ne ...int64) Tensor {
	var b []byte
	if len(v) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	return gr.Input(TypeI32, b, ne...)
}

func f32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// MulMat is ggml_mul_mat(a, b): (K, M, h) x (K, N, H) -> (M, N, H), a
// broadcast over H/h (grouped-query attention). The node asks for
// float32 accumulation (GGML_PREC_F32), as the float32 kernels it is
// compared with use.
func (gr *Graph) MulMat(a, b Tensor) Tensor {
	if !gr.ok(a, b) {
		return Tensor{}
	}
	na, nb := a.Ne(), b.Ne()
	if na[0] != nb[0] || nb[2]%na[2] != 0 || nb[3]%na[3] != 0 {
		return gr.fail("mul_mat of %v and %v: shapes do not fit", na, nb)
	}
	t := gr.g.mulMat(gr.ctx, a.p, b.p)
	gr.g.mulMatSetPrec(t, precF32)
	return Tensor{t}
}

// GetRows is ggml_get_rows(a, ids): rows ids of a, as float32.
func (gr *Graph) GetRows(a, ids Tensor) Tensor {
	if !gr.ok(a, ids) {
		return Tensor{}
	}
	if tensor(ids.p).typ() != TypeI32 {
		return gr.fail("get_rows ids must be I32")
	}
	return Tensor{gr.g.getRows(gr.ctx, a.p, ids.p)}
}

// RMSNorm is ggml_rms_norm(a, eps) over each row.
func (gr *Graph) RMSNorm(a Tensor, eps float32) Tensor {
	if !gr.ok(a) {
		return Tensor{}
	}
	return Tensor{gr.g.rmsNorm(gr.ctx, a.p, eps)}
}

func (gr *Graph) repeatable(op string, a, b Tensor) bool {
	if !gr.ok(a, b) {
		return false
	}
	na, nb := a.Ne(), b.Ne()
	for i := range na {
		if na[i]%nb[i] != 0 {
			gr.fail("%s of %v and %v: b does not repeat to a", op, na, nb)
			return false
		}
	}
	return true
}

// Mul is ggml_mul(a, b), b broadcast over a.
func (gr *Graph) Mul(a, b Tensor) Tensor {
	if !gr.repeatable("mul", a, b) {
		return Tensor{}
	}
	return Tensor{gr.g.mul(gr.ctx, a.p, b.p)}
}

// Add is ggml_add(a, b), b broadcast over a.
func (gr *Graph) Add(a, b Tensor) Tensor {
	if !gr.repeatable("add", a, b) {
		return Tensor{}
	}
	return Tensor{gr.g.add(gr.ctx, a.p, b.p)}
}

// SiLU is ggml_silu(a).
func (gr *Graph) SiLU(a Tensor) Tensor {
	if !gr.ok(a) {
		return Tensor{}
	}
	return Tensor{gr.g.silu(gr.ctx, a.p)}
}

// Rope are ggml_rope_ext's parameters besides the tensors.
type Rope struct {
	NDims, Mode, NCtxOrig                    int
	FreqBase, FreqScale, ExtFactor, AttnFact float32
	BetaFast, BetaSlow                       float32
}

// RopeExt is ggml_rope_ext(a, pos, freqFactors, ...): a is (headDim,
// heads, n), pos holds n int32 positions, freqFactors (NDims/2 float32)
// may be the zero Tensor.
func (gr *Graph) RopeExt(a, pos, freqFactors Tensor, r Rope) Tensor {
	if !gr.ok(a, pos) {
		return Tensor{}
	}
	na, np := a.Ne(), pos.Ne()
	if np[0] != na[2] || tensor(pos.p).typ() != TypeI32 || r.NDims <= 0 || r.NDims%2 != 0 || int64(r.NDims) > na[0] {
		return gr.fail("rope_ext of %v with %v positions and %d dims: shapes do not fit", na, np, r.NDims)
	}
	if freqFactors.p != 0 && freqFactors.Ne()[0] < int64(r.NDims/2) {
		return gr.fail("rope_ext: %d frequency factors for %d dims", freqFactors.Ne()[0], r.NDims)
	}
	return Tensor{gr.g.ropeExt(gr.ctx, a.p, pos.p, freqFactors.p, int32(r.NDims), int32(r.Mode), int32(r.NCtxOrig),
		r.FreqBase, r.FreqScale, r.ExtFactor, r.AttnFact, r.BetaFast, r.BetaSlow)}
}

// RopeYarnCorrDims is ggml_rope_yarn_corr_dims: the first and last
// dimension pair of YaRN's interpolation ramp.
func (b *Backend) RopeYarnCorrDims(nDims, nCtxOrig int, freqBase, betaFast, betaSlow float32) [2]float32 {
	var d [2]float32
	b.g.ropeYarnCorrDims(int32(nDims), int32(nCtxOrig), freqBase, betaFast, betaSlow, &d)
	return d
}

// SoftMaxExt is ggml_soft_max_ext(a, mask, scale, 0): softmax of each row
// of a*scale + mask (mask (ne0, >= ne1) float32, or the zero Tensor).
func (gr *Graph) SoftMaxExt(a, mask Tensor, scale float32) Tensor {
	if !gr.ok(a) {
		return Tensor{}
	}
	if mask.p != 0 {
		na, nm := a.Ne(), mask.Ne()
		if nm[0] != na[0] || nm[1] < na[1] {
			return gr.fail("soft_max_ext of %v with mask %v: shapes do not fit", na, nm)
		}
	}
	return Tensor{gr.g.softMaxExt(gr.ctx, a.p, mask.p, scale, 0)}
}

// Permute is ggml_permute(a, ax...): dimension i of a becomes dimension
// ax[i].
func (gr *Graph) Permute(a Tensor, ax0, ax1, ax2, ax3 int) Tensor {
	if !gr.ok(a) {
		return Tensor{}
	}
	seen := [4]bool{}
	for _, x := range []int{ax0, ax1, ax2, ax3} {
		if x < 0 || x > 3 || seen[x] {
			return gr.fail("permute(%d, %d, %d, %d) is not a permutation", ax0, ax1, ax2, ax3)
		}
		seen[x] = true
	}
	return Tensor{gr.g.permute(gr.ctx, a.p, int32(ax0), int32(ax1), int32(ax2), int32(ax3))}
}

// View2D is ggml_view_2d(a, ne0, ne1, nb1, offset) (strides and offset
// in bytes).
func (gr *Graph) View2D(a Tensor, ne0, ne1 int64, nb1, offset int) Tensor {
	return gr.View3D(a, ne0, ne1, 1, nb1, nb1*int(ne1), offset)
}

// View3D is ggml_view_3d(a, ne0, ne1, ne2, nb1, nb2, offset).
func (gr *Graph) View3D(a Tensor, ne0, ne1, ne2 int64, nb1, nb2, offset int) Tensor {
	if !gr.ok(a) {
		return Tensor{}
	}
	last := int64(offset) + (ne2-1)*int64(nb2) + (ne1-1)*int64(nb1) + ne0*int64(tensor(a.p).nb()[0])
	if ne0 < 1 || ne1 < 1 || ne2 < 1 || offset < 0 || last > int64(gr.g.nbytes(a.p)) {
		return gr.fail("view (%d, %d, %d) at byte %d with strides %d, %d runs past a %d-byte tensor", ne0, ne1, ne2, offset, nb1, nb2, gr.g.nbytes(a.p))
	}
	if ne2 == 1 {
		return Tensor{gr.g.view2d(gr.ctx, a.p, ne0, ne1, uintptr(nb1), uintptr(offset))}
	}
	return Tensor{gr.g.view3d(gr.ctx, a.p, ne0, ne1, ne2, uintptr(nb1), uintptr(nb2), uintptr(offset))}
}

// Cont is ggml_cont(a): a contiguous copy.
func (gr *Graph) Cont(a Tensor) Tensor {
	if !gr.ok(a) {
		return Tensor{}
	}
	return Tensor{gr.g.cont(gr.ctx, a.p)}
}

// Cpy is ggml_cpy(a, b): copies a into b (same element count), returning
// a view of b.
func (gr *Graph) Cpy(a, b Tensor) Tensor {
	if !gr.ok(a, b) {
		return Tensor{}
	}
	if gr.g.nelements(a.p) != gr.g.nelements(b.p) {
		return gr.fail("cpy of %v into %v: element counts differ", a.Ne(), b.Ne())
	}
	return Tensor{gr.g.cpy(gr.ctx, a.p, b.p)}
}

// Compute builds the graph of outs, checks that the backend supports
// every node, allocates and uploads, and runs it. It can be called once.
func (gr *Graph) Compute(outs ...Tensor) error {
	if !gr.ok(outs...) {
		return gr.err
	}
	gr.done = true
	gr.b.mu.Lock()
	defer gr.b.mu.Unlock()
	if gr.b.closed {
		return errors.New("ggmlref graph: backend closed")
	}
	cg := gr.g.newGraph(gr.ctx)
	if cg == 0 {
		return errors.New("ggmlref graph: ggml_new_graph returned NULL")
	}
	for _, o := range outs {
		gr.g.buildForward(cg, o.p)
		gr.outs = append(gr.outs, o.p)
	}
	var unsupported []string
	n := gr.g.graphNNodes(cg)
	for i := range n {
		node := gr.g.graphNode(cg, i)
		if !gr.g.supportsOp(gr.h, node) {
			unsupported = append(unsupported, fmt.Sprintf("%s %v of %s", gr.g.opDesc(node), tensor(node).ne(), gr.b.lib.typeName(int32(tensor(node).typ()))))
		}
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("ggmlref graph: %s (%s) does not support %s", gr.b.Name, gr.b.Device.Description, strings.Join(unsupported, "; "))
	}
	gr.buf = gr.g.allocCtxTensors(gr.ctx, gr.h)
	if gr.buf == 0 {
		return fmt.Errorf("ggmlref graph: ggml_backend_alloc_ctx_tensors on %s failed (out of device memory?)", gr.b.Name)
	}
	for _, o := range outs {
		if d := gr.BufferDevice(o); d != gr.b.Device.Name {
			return fmt.Errorf("ggmlref graph: output %v was allocated on %s, not on the backend's device %s", o.Ne(), d, gr.b.Device.Name)
		}
	}
	for _, in := range gr.inputs {
		if len(in.data) > 0 {
			gr.g.tensorSet(in.t, unsafe.Pointer(&in.data[0]), 0, uintptr(len(in.data)))
		}
	}
	if st := gr.g.graphCompute(gr.h, cg); st != statusSuccess {
		return fmt.Errorf("ggmlref graph: ggml_backend_graph_compute on %s returned status %d", gr.b.Name, st)
	}
	runtime.KeepAlive(gr.inputs)
	return nil
}

// BufferDevice names the device that holds t's memory after Compute:
// the ggml device of its buffer's type ("Vulkan0"), or, for a buffer
// type with no device, the buffer's name.
func (gr *Graph) BufferDevice(t Tensor) string {
	if t.p == 0 {
		return "none"
	}
	buf := tensor(t.p).buffer()
	if buf == 0 {
		return "none"
	}
	if bt := gr.g.bufferGetType(buf); bt != 0 {
		if d := gr.g.buftGetDevice(bt); d != 0 {
			return gr.g.devName(d)
		}
	}
	return gr.g.bufferName(buf)
}

// ReadF32 returns the values of a float32 tensor after Compute (a view is
// read with its own strides: element order is ne0 fastest).
func (gr *Graph) ReadF32(t Tensor) ([]float32, error) {
	if gr.err != nil {
		return nil, gr.err
	}
	if !gr.done || gr.buf == 0 {
		return nil, errors.New("ggmlref graph: ReadF32 before a successful Compute")
	}
	if t.p == 0 || tensor(t.p).typ() != TypeF32 {
		return nil, errors.New("ggmlref graph: ReadF32 of a tensor that is not F32")
	}
	ne, nb := tensor(t.p).ne(), tensor(t.p).nb()
	out := make([]float32, ne[0]*ne[1]*ne[2]*ne[3])
	if nb[0] == 4 && nb[1] == uintptr(4*ne[0]) && nb[2] == nb[1]*uintptr(ne[1]) && nb[3] == nb[2]*uintptr(ne[2]) {
		gr.g.tensorGet(t.p, unsafe.Pointer(&out[0]), 0, uintptr(4*len(out)))
		return out, nil
	}
	// Strided: row by row.
	i := 0
	for i3 := range ne[3] {
		for i2 := range ne[2] {
			for i1 := range ne[1] {
				for i0 := range ne[0] {
					off := uintptr(i0)*nb[0] + uintptr(i1)*nb[1] + uintptr(i2)*nb[2] + uintptr(i3)*nb[3]
					gr.g.tensorGet(t.p, unsafe.Pointer(&out[i]), off, 4)
					i++
				}
			}
		}
	}
	return out, nil
}
