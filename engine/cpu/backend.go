package cpu

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
)

// Name is the CPU backend's registry name, and the engine's default.
const Name = "cpu"

func init() { backend.Register(Name, Open) }

// Backend is the CPU implementation of backend.Backend: weights are views
// into the model file's mapping, with the kernels their types need in the
// backend's matmul mode.
type Backend struct {
	cfg backend.Config
	k   *kernels
}

// Open returns a CPU backend for cfg; it is always available.
func Open(cfg backend.Config) (backend.Backend, error) {
	a := cfg.Attn
	if a.NHead <= 0 || a.NHeadKV <= 0 || a.NHead%a.NHeadKV != 0 || a.HeadDim <= 0 || a.NRot <= 0 || a.NRot > a.HeadDim || a.NRot%2 != 0 {
		return nil, fmt.Errorf("bad attention geometry %+v", a)
	}
	return &Backend{cfg: cfg, k: newKernels(cfg.Matmul)}, nil
}

// context is the per-sequence state of the CPU backend: host tensors,
// and work split across Threads goroutines.
type context struct {
	b   *Backend
	a   *backend.Attn
	cfg backend.ContextConfig
	mm  *matmuler
	// pool runs the parallel loops on Threads goroutines (persistent
	// workers and the caller).
	pool *pool

	scores []float32 // (Threads, MaxCtx) attention probabilities, one row per worker
	ropeC  []float32 // (MaxBatch, NRot/2) cos for each token's position
	ropeS  []float32 // (MaxBatch, NRot/2) sin
	// The positions ropeC and ropeS hold: [ropePos, ropePos+ropeN). Every
	// layer of a forward call rotates the same positions, so the table is
	// computed by the first and reused by the others.
	ropePos, ropeN int
	err            error // first failure since the last Read
}

// NewContext allocates a context's scratch; matrices' kernels and widths
// come from the weights bound before.
func (b *Backend) NewContext(cfg backend.ContextConfig) (backend.Context, error) {
	if err := backend.CheckContextConfig(cfg); err != nil {
		return nil, err
	}
	p := newPool(cfg.Threads)
	mm, err := newMatmuler(b.k, p, cfg.MaxBatch)
	if err != nil {
		p.stop()
		return nil, err
	}
	half := b.cfg.Attn.NRot / 2
	c := &context{
		b: b, a: &b.cfg.Attn, cfg: cfg, mm: mm, pool: p,
		scores: make([]float32, cfg.Threads*cfg.MaxCtx),
		ropeC:  make([]float32, cfg.MaxBatch*half),
		ropeS:  make([]float32, cfg.MaxBatch*half),
	}
	// A context dropped without Close still ends its workers (they
	// reference the pool, not the context).
	runtime.AddCleanup(c, (*pool).stop, p)
	return c, nil
}

// tensor is a host buffer.
type tensor struct{ v []float32 }

func (t *tensor) Len() int { return len(t.v) }

// weight is a view of a model weight; f32 is set for F32 data.
type weight struct {
	backend.WeightInfo
	rowBytes int
	f32      []float32
}

func (w *weight) Info() backend.WeightInfo { return w.WeightInfo }

// host returns the slice behind a tensor of this backend. It panics if t
// belongs to another backend (a programmer error).
func host(t backend.Tensor) []float32 { return t.(*tensor).v }

func wt(w backend.Weight) *weight { return w.(*weight) }

// The methods of Backend and context implement backend.Backend and
// backend.Context, whose docs state each one's contract; the comments here
// say only what is CPU-specific.

// Name returns "cpu".
func (b *Backend) Name() string { return Name }

// Device names the CPU model as Linux reports it and the SIMD level the
// kernels use: this package's (norms, attention, SiLU) and the matmuls'
// (quant.Kernels), which differ where the CPU has AVX-512 VNNI. The
// thread count is in provenance already; neither changes a bit.
func (b *Backend) Device() string {
	simd := "generic"
	if useAVX2 {
		simd = "avx2"
	}
	return fmt.Sprintf("%s (%s/%s, %s kernels, %s matmul kernels)", cpuModel(), runtime.GOOS, runtime.GOARCH, simd, quant.Kernels())
}

// Close does nothing: the weights are views of the model's mapping.
func (b *Backend) Close() error { return nil }

// Weight wraps w without copying. Matrices get their type's kernels and
// buffers ready for the matmul mode; vectors (norms, biases) must be F32.
func (b *Backend) Weight(w backend.WeightInfo) (backend.Weight, error) {
	if w.Rows <= 0 || w.Cols <= 0 || len(w.Data)%w.Rows != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes do not hold %d rows", w.Name, len(w.Data), w.Rows)
	}
	cw := &weight{WeightInfo: w, rowBytes: len(w.Data) / w.Rows}
	if w.Type == quant.F32 {
		cw.f32 = f32View(w.Data)
	}
	switch {
	case w.Matrix:
		if err := b.k.prepare(cw); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", w.Name, err)
		}
	case w.Rows == 1 && w.Type != quant.F32:
		return nil, fmt.Errorf("tensor %q: type %s: norm and bias weights must be F32", w.Name, w.Type)
	}
	return cw, nil
}

func (c *context) Alloc(n int) backend.Tensor { return &tensor{v: make([]float32, n)} }

func (c *context) View(t backend.Tensor, off, n int) backend.Tensor {
	return &tensor{v: host(t)[off : off+n]}
}

func (c *context) Write(dst backend.Tensor, off int, src []float32) { copy(host(dst)[off:], src) }

// Read returns a view of src without copying.
func (c *context) Read(src backend.Tensor, n int) ([]float32, error) {
	err := c.err
	c.err = nil
	return host(src)[:n], err
}

// Close does nothing: the buffers are garbage collected.
func (c *context) Close() error {
	c.pool.stop()
	return nil
}

func (c *context) Embed(dst backend.Tensor, table backend.Weight, tokens []int32) {
	e, x := wt(table), host(dst)
	d := e.Cols
	for t, tok := range tokens {
		row := e.Data[int(tok)*e.rowBytes : (int(tok)+1)*e.rowBytes]
		if err := quant.DequantizeRow(e.Type, x[t*d:(t+1)*d], row); err != nil && c.err == nil {
			c.err = fmt.Errorf("embedding of token %d: %w", tok, err)
		}
	}
}

func (c *context) RMSNorm(dst, x backend.Tensor, w backend.Weight, n int, eps float32) {
	out, in, wf := host(dst), host(x), wt(w).f32
	d := len(wf)
	// Tokens split across workers (each row is normalized by the same
	// operations whatever the split) when there is enough work for each.
	c.pool.parallelFor(workersFor(c.cfg.Threads, n*d, normChunk), n, func(_, lo, hi int) {
		for t := lo; t < hi; t++ {
			rmsNorm(out[t*d:(t+1)*d], in[t*d:(t+1)*d], wf, eps)
		}
	})
}

func (c *context) MatMul(dst backend.Tensor, stride, off int, x backend.Tensor, n int, w backend.Weight) {
	c.mm.matmul(host(dst), stride, off, host(x), n, wt(w))
}

func (c *context) MatMuls(x backend.Tensor, n int, outs []backend.MatMulOut) {
	ps := make([]product, len(outs))
	for i, o := range outs {
		ps[i] = product{out: host(o.Dst), stride: o.Stride, off: o.Off, w: wt(o.W)}
	}
	c.mm.matmuls(host(x), n, ps)
}

func (c *context) AddBias(dst backend.Tensor, stride, off, n int, bias backend.Weight) {
	out, bv := host(dst), wt(bias).f32
	for t := range n {
		row := out[t*stride+off : t*stride+off+len(bv)]
		for i, v := range bv {
			row[i] += v
		}
	}
}

func (c *context) QKNorm(qkv backend.Tensor, n int, qNorm, kNorm backend.Weight) {
	a := c.a
	x := host(qkv)
	hd, qd, stride := a.HeadDim, a.QDim(), a.QDim()+2*a.KVDim()
	for t := range n {
		row := x[t*stride : (t+1)*stride]
		if qNorm != nil {
			for h := range a.NHead {
				q := row[h*hd : (h+1)*hd]
				rmsNorm(q, q, wt(qNorm).f32, a.RMSEps)
			}
		}
		if kNorm != nil {
			for g := range a.NHeadKV {
				k := row[qd+g*hd : qd+(g+1)*hd]
				rmsNorm(k, k, wt(kNorm).f32, a.RMSEps)
			}
		}
	}
}

func (c *context) RoPE(qkv backend.Tensor, n, pos int) {
	a := c.a
	x := host(qkv)
	hd, qd, stride, half := a.HeadDim, a.QDim(), a.QDim()+2*a.KVDim(), a.NRot/2
	if c.ropePos != pos || c.ropeN < n {
		for t := range n {
			backend.RopeCache(c.ropeC[t*half:(t+1)*half], c.ropeS[t*half:(t+1)*half], pos+t, a)
		}
		c.ropePos, c.ropeN = pos, n
	}
	for t := range n {
		row := x[t*stride : (t+1)*stride]
		cos, sin := c.ropeC[t*half:(t+1)*half], c.ropeS[t*half:(t+1)*half]
		for h := range a.NHead {
			rope(row[h*hd:(h+1)*hd], cos, sin, a.NRot, a.RopeNeox)
		}
		for g := range a.NHeadKV {
			rope(row[qd+g*hd:qd+(g+1)*hd], cos, sin, a.NRot, a.RopeNeox)
		}
	}
}

func (c *context) KVWrite(k, v, qkv backend.Tensor, n, pos int) {
	a := c.a
	kc, vc, x := host(k), host(v), host(qkv)
	kvd, qd := a.KVDim(), a.QDim()
	stride := qd + 2*kvd
	for t := range n {
		row := x[t*stride : (t+1)*stride]
		at := (pos + t) * kvd
		copy(kc[at:at+kvd], row[qd:qd+kvd])
		copy(vc[at:at+kvd], row[qd+kvd:qd+2*kvd])
	}
}

// Attention splits the work by (token, head), so the result does not
// depend on the thread count.
func (c *context) Attention(dst, qkv, k, v backend.Tensor, n, pos int) {
	a := c.a
	kqv, x, kc, vc := host(dst), host(qkv), host(k), host(v)
	hd, kvd, qd := a.HeadDim, a.KVDim(), a.QDim()
	stride := qd + 2*kvd
	scale := 1 / sqrtf(float32(hd))
	group := a.NHead / a.NHeadKV
	maxCtx := c.cfg.MaxCtx
	// Split by (token, head) when the scores and weighted sums, about
	// n*NHead*(pos+n/2)*HeadDim multiply-adds each, pay for a hand-off:
	// a short prompt's or an early decode step's attention does not.
	work := n * a.NHead * (pos + (n+1)/2) * hd
	c.pool.parallelFor(workersFor(c.cfg.Threads, work, attnChunk), n*a.NHead, func(worker, lo, hi int) {
		for job := lo; job < hi; job++ {
			t, h := job/a.NHead, job%a.NHead
			g := h / group
			q := x[t*stride+h*hd : t*stride+(h+1)*hd]
			visible := pos + t + 1
			p := c.scores[worker*maxCtx : worker*maxCtx+visible]
			for j := range visible {
				p[j] = dotF32(q, kc[j*kvd+g*hd:j*kvd+(g+1)*hd])
			}
			softmaxScaled(p, scale)
			weightedSum(kqv[t*qd+h*hd:t*qd+(h+1)*hd], p, vc[g*hd:], kvd)
		}
	})
}

func (c *context) SiLU(dst, x backend.Tensor, n int) {
	out, in := host(dst), host(x)[:n]
	// Elements split across workers (each is computed alone), in chunks
	// large enough to pay for the handoff.
	c.pool.parallelFor(min(c.cfg.Threads, n/siluChunk), n, func(_, lo, hi int) {
		silus(out[lo:hi], in[lo:hi])
	})
}

// siluChunk is the fewest SiLU elements worth giving a worker. With the
// scalar expf (~17 ns per element) it was 8192 (~140 us; with 2048 the
// 0.5B decode step split in two and was 7.6% slower at 2 threads, median
// of 10 interleaved rounds on a loaded 2-core machine: waking a worker
// cost more than half of 80 us). The four-lane kernel (silus) takes ~3 ns
// per element, so the same ~40 us of hand-off pays for about 16384
// elements: a 7-token prefill of the 0.5B shape (34048) splits, decode
// steps do not. (Scaled from those measurements, not measured again.)
const siluChunk = 16384

// Mul and Add split their elements across workers above elementChunk
// each (a prefill's SiLU x up and residuals); every element is one
// operation whatever the split.
func (c *context) Mul(dst, x backend.Tensor, n int) {
	out, in := host(dst), host(x)[:n]
	c.pool.parallelFor(min(c.cfg.Threads, n/elementChunk), n, func(_, lo, hi int) {
		for i, u := range in[lo:hi] {
			out[lo+i] *= u
		}
	})
}

func (c *context) Add(dst, x backend.Tensor, n int) {
	out, in := host(dst), host(x)[:n]
	c.pool.parallelFor(min(c.cfg.Threads, n/elementChunk), n, func(_, lo, hi int) {
		for i, v := range in[lo:hi] {
			out[lo+i] += v
		}
	})
}

// workersFor is how many of threads workers a loop of work units gets:
// one per chunk units, at least one.
func workersFor(threads, work, chunk int) int {
	return max(1, min(threads, work/chunk))
}

// normChunk (elements normalized) and attnChunk (attention multiply-adds)
// are the least work worth a worker's hand-off, ~40 us on a busy 2-core
// machine (siluChunk): RMSNorm runs ~2-3 ns per element, attention's
// loops well under 1 ns per multiply-add. A 7-token prefill keeps both on
// the calling goroutine, a 64-token one splits them. (Estimates from
// those per-element costs, not tuned by measurement.)
const (
	normChunk = 16384
	attnChunk = 131072
)

// elementChunk is the fewest elements of a one-operation elementwise loop
// (~1 ns each) worth handing to a worker, against the ~40 us a hand-off
// costs (siluChunk): a 64-token prefill of the 0.5B shape splits its
// SiLU x up (311296 elements), decode steps and short prompts do not.
const elementChunk = 65536

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Context = (*context)(nil)
)

// cpuModel is the "model name" line of /proc/cpuinfo (Linux), read once,
// or the architecture where there is none.
var cpuModel = sync.OnceValue(func() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
})
