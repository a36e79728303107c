package vulkan

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	_ "github.com/falsify/falsify/engine/cpu" // the reference backend, registered as "cpu"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// The op tests run every non-matmul operation on the Vulkan backend and on
// the CPU backend with the same inputs and compare the results by NMSE
// (sum((gpu-cpu)^2) / sum(cpu^2), logged per op and case). Bands, from
// what each shader computes (see the shaders' headers):
//
//   - exact (NMSE 0, bit for bit): Embed (dq32 is bit-exact with the
//     CPU's dequantizer by the type-include contract), KVWrite (a copy),
//     Add, Mul, AddBias and RoPE (each value one or two correctly rounded
//     float32 operations, products kept out of FMAs by `precise`, RoPE's
//     cos/sin table computed on the host by the CPU's formula). Vulkan
//     requires add, subtract and multiply to be correctly rounded, so any
//     conforming device must pass these bit for bit on normal numbers.
//   - nmseApprox (1e-10): RMSNorm, QKNorm, SiLU, Attention, where exp,
//     division and square root enter (Vulkan allows the device's a few
//     ulp). The shaders do not use the device's exp (exp_cpu: a
//     float-float exp, correctly rounded) and correct each quotient and
//     square root by its exact residual, so on lavapipe all four matched
//     the CPU bit for bit; the band leaves room for near-ties, subnormal
//     results and other drivers, and is still a thousand times stricter
//     than ggml's test-backend-ops (1e-7).
const nmseApprox = 1e-10

// rig holds one CPU and one Vulkan context opened for the same geometry.
type rig struct {
	t      *testing.T
	cb, vb backend.Backend
	cc, vc backend.Context
	rng    *rand.Rand
}

// newRig opens both backends for attention geometry a and a context of
// maxBatch rows and maxCtx positions; it skips the test with the reason
// when there is no Vulkan device.
func newRig(t *testing.T, a backend.Attn, maxBatch, maxCtx int) *rig {
	t.Helper()
	cfg := backend.Config{Matmul: trace.MatmulF32, Attn: a}
	vb, err := backend.Open("vulkan", cfg)
	if errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatalf("open vulkan: %v", err)
	}
	cb, err := backend.Open("cpu", cfg)
	if err != nil {
		vb.Close()
		t.Fatalf("open cpu: %v", err)
	}
	ccfg := backend.ContextConfig{Threads: 1, MaxBatch: maxBatch, MaxCtx: maxCtx}
	r := &rig{t: t, cb: cb, vb: vb, rng: rand.New(rand.NewPCG(uint64(maxBatch), uint64(maxCtx)))}
	if r.cc, err = cb.NewContext(ccfg); err != nil {
		t.Fatalf("cpu context: %v", err)
	}
	if r.vc, err = vb.NewContext(ccfg); err != nil {
		t.Fatalf("vulkan context: %v", err)
	}
	t.Cleanup(func() {
		if err := r.vc.Close(); err != nil {
			t.Errorf("close vulkan context: %v", err)
		}
		if err := r.vb.Close(); err != nil {
			t.Errorf("close vulkan backend: %v", err)
		}
		r.cc.Close()
		r.cb.Close()
	})
	return r
}

// randn returns n values from N(0, sigma^2).
func (r *rig) randn(n int, sigma float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.rng.NormFloat64() * sigma)
	}
	return v
}

// pair is the same tensor on both backends.
type pair struct{ c, v backend.Tensor }

// tensor allocates n values on both backends and writes vals (may be
// shorter than n, or nil: zeros).
func (r *rig) tensor(n int, vals []float32) pair {
	p := pair{r.cc.Alloc(n), r.vc.Alloc(n)}
	if len(vals) > 0 {
		r.cc.Write(p.c, 0, vals)
		r.vc.Write(p.v, 0, vals)
	}
	return p
}

// view is the same View on both backends.
func (r *rig) view(p pair, off, n int) pair {
	return pair{r.cc.View(p.c, off, n), r.vc.View(p.v, off, n)}
}

// weight makes the same weight on both backends.
func (r *rig) weight(info backend.WeightInfo) (backend.Weight, backend.Weight) {
	r.t.Helper()
	cw, err := r.cb.Weight(info)
	if err != nil {
		r.t.Fatalf("cpu weight %s: %v", info.Name, err)
	}
	vw, err := r.vb.Weight(info)
	if err != nil {
		r.t.Fatalf("vulkan weight %s: %v", info.Name, err)
	}
	return cw, vw
}

// f32Weight is an F32 vector weight (a norm or a bias).
func (r *rig) f32Weight(name string, vals []float32) (backend.Weight, backend.Weight) {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return r.weight(backend.WeightInfo{Name: name, Type: quant.F32, Rows: 1, Cols: len(vals), Data: b})
}

// check reads n values of p on both backends and compares them: the NMSE
// is logged and must be at most tol (0: the values must be bit-identical).
// It returns the NMSE.
func (r *rig) check(op, name string, p pair, n int, tol float64) float64 {
	r.t.Helper()
	cv, err := r.cc.Read(p.c, n)
	if err != nil {
		r.t.Fatalf("%s %s: cpu: %v", op, name, err)
	}
	cv = append([]float32(nil), cv...)
	vv, err := r.vc.Read(p.v, n)
	if err != nil {
		r.t.Fatalf("%s %s: vulkan: %v", op, name, err)
	}
	var num, den float64
	diff, first := 0, -1
	for i := range n {
		a, b := float64(vv[i]), float64(cv[i])
		if math.IsNaN(a) != math.IsNaN(b) {
			r.t.Fatalf("%s %s: element %d: vulkan %g, cpu %g", op, name, i, a, b)
		}
		if math.Float32bits(vv[i]) != math.Float32bits(cv[i]) {
			if first < 0 {
				first = i
			}
			diff++
		}
		num += (a - b) * (a - b)
		den += b * b
	}
	if den == 0 {
		den = 1
	}
	nmse := num / den
	r.t.Logf("%-9s %-40s NMSE %.3g (%d of %d values differ in bits)", op, name, nmse, diff, n)
	if tol == 0 && diff > 0 {
		r.t.Errorf("%s %s: %d of %d values differ from the CPU's (first: [%d] vulkan %g, cpu %g); want bit-identical",
			op, name, diff, n, first, vv[first], cv[first])
	}
	if nmse > tol || math.IsNaN(nmse) {
		r.t.Errorf("%s %s: NMSE %g > %g", op, name, nmse, tol)
	}
	return nmse
}

// geometry returns an attention geometry; hd need not be a multiple of 32
// nor of any workgroup size.
func geometry(nHead, nHeadKV, hd, nRot int, neox bool) backend.Attn {
	return backend.Attn{NHead: nHead, NHeadKV: nHeadKV, HeadDim: hd, NRot: nRot, RopeTheta: 10000, RopeNeox: neox, RMSEps: 1e-6}
}

func TestOpsElementwise(t *testing.T) {
	r := newRig(t, geometry(4, 2, 64, 64, false), 8, 16)
	t.Logf("device: %s", r.vb.Device())
	for _, n := range []int{1, 7, 256, 1000, 70001} {
		x := r.randn(n, 2)
		y := r.randn(n, 2)
		name := "n=" + strconv.Itoa(n)

		d := r.tensor(n, x)
		s := r.tensor(n, y)
		r.cc.Add(d.c, s.c, n)
		r.vc.Add(d.v, s.v, n)
		r.check("Add", name, d, n, 0)

		d = r.tensor(n, x)
		r.cc.Mul(d.c, s.c, n)
		r.vc.Mul(d.v, s.v, n)
		r.check("Mul", name, d, n, 0)

		d = r.tensor(n, nil)
		src := r.tensor(n, r.randn(n, 4))
		r.cc.SiLU(d.c, src.c, n)
		r.vc.SiLU(d.v, src.v, n)
		r.check("SiLU", name, d, n, nmseApprox)
	}
	// Views at element offsets, only part of the buffer: the rest must
	// stay as it was.
	big := r.tensor(3000, r.randn(3000, 1))
	other := r.tensor(3000, r.randn(3000, 1))
	r.cc.Add(r.view(big, 1001, 999).c, r.view(other, 17, 999).c, 999)
	r.vc.Add(r.view(big, 1001, 999).v, r.view(other, 17, 999).v, 999)
	r.check("Add", "views off 1001 and 17, n=999", big, 3000, 0)
	r.cc.Mul(r.view(big, 5, 333).c, r.view(other, 2000, 333).c, 333)
	r.vc.Mul(r.view(big, 5, 333).v, r.view(other, 2000, 333).v, 333)
	r.check("Mul", "views off 5 and 2000, n=333", big, 3000, 0)
	r.cc.SiLU(r.view(big, 2500, 400).c, r.view(other, 3, 400).c, 400)
	r.vc.SiLU(r.view(big, 2500, 400).v, r.view(other, 3, 400).v, 400)
	r.check("SiLU", "views off 2500 and 3, n=400", big, 3000, nmseApprox)
	// In place (dst and x the same elements).
	r.cc.SiLU(big.c, big.c, 3000)
	r.vc.SiLU(big.v, big.v, 3000)
	r.check("SiLU", "in place, n=3000", big, 3000, nmseApprox)
	// A sweep over the range where exp(-x) goes from overflow to
	// underflow, and the float32 thresholds of both.
	sweep := make([]float32, 200000)
	for i := range sweep {
		sweep[i] = float32(r.rng.Float64()*210 - 105)
	}
	sweep = append(sweep, -88.72283, -88.722824, -88.72284, 103.97207, 103.97208, 87.33654, 87.33655, -0.0, 1e-45, -1e-45)
	sw := r.tensor(len(sweep), sweep)
	r.cc.SiLU(sw.c, sw.c, len(sweep))
	r.vc.SiLU(sw.v, sw.v, len(sweep))
	r.check("SiLU", "x uniform in [-105, 105] and exp's thresholds", sw, len(sweep), nmseApprox)
	// Large magnitudes: exp overflow and underflow give +-0 and x.
	ext := []float32{-1000, -100, -88, -20, -1e-30, 0, 1e-30, 20, 88, 100, 1000}
	e := r.tensor(len(ext), ext)
	r.cc.SiLU(e.c, e.c, len(ext))
	r.vc.SiLU(e.v, e.v, len(ext))
	r.check("SiLU", "extremes", e, len(ext), nmseApprox)
}

func TestOpsRMSNorm(t *testing.T) {
	r := newRig(t, geometry(4, 2, 64, 64, false), 9, 16)
	for _, c := range []struct{ n, d int }{{1, 256}, {9, 256}, {3, 100}, {2, 1}, {5, 4099}} {
		name := "n=" + strconv.Itoa(c.n) + " d=" + strconv.Itoa(c.d)
		x := r.tensor(c.n*c.d, r.randn(c.n*c.d, 3))
		cw, vw := r.f32Weight("norm", r.randn(c.d, 1))
		d := r.tensor(c.n*c.d, nil)
		r.cc.RMSNorm(d.c, x.c, cw, c.n, 1e-6)
		r.vc.RMSNorm(d.v, x.v, vw, c.n, 1e-6)
		r.check("RMSNorm", name, d, c.n*c.d, nmseApprox)
	}
	// Views (the final norm of the last token reads one row of x).
	x := r.tensor(4*256, r.randn(4*256, 1))
	cw, vw := r.f32Weight("norm", r.randn(256, 1))
	d := r.tensor(4*256, nil)
	r.cc.RMSNorm(r.view(d, 256, 256).c, r.view(x, 768, 256).c, cw, 1, 1e-5)
	r.vc.RMSNorm(r.view(d, 256, 256).v, r.view(x, 768, 256).v, vw, 1, 1e-5)
	r.check("RMSNorm", "views (row 3 to row 1)", d, 4*256, nmseApprox)
	// Tiny and huge inputs: eps dominates, or the squares are large.
	tiny := r.randn(256, 1e-6)
	xt := r.tensor(256, tiny)
	dt := r.tensor(256, nil)
	r.cc.RMSNorm(dt.c, xt.c, cw, 1, 1e-5)
	r.vc.RMSNorm(dt.v, xt.v, vw, 1, 1e-5)
	r.check("RMSNorm", "x ~ 1e-6, eps 1e-5", dt, 256, nmseApprox)
	xh := r.tensor(256, r.randn(256, 1e15))
	r.cc.RMSNorm(dt.c, xh.c, cw, 1, 1e-6)
	r.vc.RMSNorm(dt.v, xh.v, vw, 1, 1e-6)
	r.check("RMSNorm", "x ~ 1e15", dt, 256, nmseApprox)
}

func TestOpsAddBias(t *testing.T) {
	a := geometry(4, 2, 64, 64, false)
	r := newRig(t, a, 7, 16)
	stride := a.QDim() + 2*a.KVDim()
	for _, n := range []int{1, 7} {
		// The Q, K and V biases of a qkv tensor: three column ranges.
		qkv := r.tensor(n*stride, r.randn(n*stride, 1))
		for _, part := range []struct {
			name     string
			off, len int
		}{{"q", 0, a.QDim()}, {"k", a.QDim(), a.KVDim()}, {"v", a.QDim() + a.KVDim(), a.KVDim()}} {
			cw, vw := r.f32Weight("bias_"+part.name, r.randn(part.len, 1))
			r.cc.AddBias(qkv.c, stride, part.off, n, cw)
			r.vc.AddBias(qkv.v, stride, part.off, n, vw)
		}
		r.check("AddBias", "q, k, v of n="+strconv.Itoa(n), qkv, n*stride, 0)
	}
	// A width no workgroup divides, on a view.
	buf := r.tensor(5000, r.randn(5000, 1))
	cw, vw := r.f32Weight("bias", r.randn(37, 1))
	r.cc.AddBias(r.view(buf, 11, 3*101).c, 101, 50, 3, cw)
	r.vc.AddBias(r.view(buf, 11, 3*101).v, 101, 50, 3, vw)
	r.check("AddBias", "view off 11, stride 101, cols 50..86", buf, 5000, 0)
}

// ropeCases are the RoPE variants: pairs, partial rotation, frequency
// scaling, rope_freqs factors and YaRN (the ext factor and correction
// dimensions as llama.cpp computes them for a 4x context extension).
func ropeCases() []struct {
	name string
	a    backend.Attn
} {
	normal := geometry(4, 2, 64, 64, false)
	neox := geometry(4, 2, 64, 64, true)
	partial := geometry(3, 1, 80, 32, true) // rotates 32 of 80 dims
	partialNormal := geometry(3, 1, 80, 48, false)
	linear := neox
	linear.RopeFreqScale = 0.25
	linear.RopeAttnFactor = 1.1
	factors := normal
	factors.RopeFreqs = make([]float32, 32)
	for i := range factors.RopeFreqs {
		factors.RopeFreqs[i] = 1 + float32(i)/4
	}
	yarn := neox
	yarn.RopeTheta = 1e6
	yarn.RopeFreqScale = 0.25
	yarn.RopeExtFactor = 1
	yarn.RopeAttnFactor = 0.9
	yarn.RopeCorrDims = [2]float32{9, 23}
	yarnFactors := yarn
	yarnFactors.RopeNeox = false
	yarnFactors.RopeFreqs = factors.RopeFreqs
	return []struct {
		name string
		a    backend.Attn
	}{
		{"normal", normal}, {"neox", neox}, {"neox nrot 32 of 80", partial},
		{"normal nrot 48 of 80", partialNormal}, {"linear scale 0.25, mscale 1.1", linear},
		{"rope_freqs factors", factors}, {"yarn", yarn}, {"yarn + factors, normal", yarnFactors},
	}
}

func TestOpsRoPE(t *testing.T) {
	for _, c := range ropeCases() {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			r := newRig(t, a, 6, 5000)
			stride := a.QDim() + 2*a.KVDim()
			for _, pc := range []struct{ n, pos int }{{1, 0}, {6, 0}, {1, 17}, {6, 4000}, {2, 4998}} {
				qkv := r.tensor(pc.n*stride, r.randn(pc.n*stride, 1))
				r.cc.RoPE(qkv.c, pc.n, pc.pos)
				r.vc.RoPE(qkv.v, pc.n, pc.pos)
				r.check("RoPE", c.name+" n="+strconv.Itoa(pc.n)+" pos="+strconv.Itoa(pc.pos), qkv, pc.n*stride, 0)
			}
			// Two calls at different positions before one Read (a
			// decode step after a prefill without reading between).
			qkv := r.tensor(4*stride, r.randn(4*stride, 1))
			r.cc.RoPE(r.view(qkv, 0, 3*stride).c, 3, 5)
			r.vc.RoPE(r.view(qkv, 0, 3*stride).v, 3, 5)
			r.cc.RoPE(r.view(qkv, 3*stride, stride).c, 1, 8)
			r.vc.RoPE(r.view(qkv, 3*stride, stride).v, 1, 8)
			r.check("RoPE", c.name+" pos 5 (3 rows) then pos 8 (view)", qkv, 4*stride, 0)
		})
	}
}

func TestOpsQKNorm(t *testing.T) {
	for _, g := range []backend.Attn{geometry(4, 2, 64, 64, false), geometry(6, 6, 80, 80, true), geometry(2, 1, 200, 200, true)} {
		r := newRig(t, g, 5, 8)
		stride := g.QDim() + 2*g.KVDim()
		cq, vq := r.f32Weight("attn_q_norm", r.randn(g.HeadDim, 1))
		ck, vk := r.f32Weight("attn_k_norm", r.randn(g.HeadDim, 1))
		for _, c := range []struct {
			name           string
			cq, vq, ck, vk backend.Weight
		}{{"q and k", cq, vq, ck, vk}, {"q only", cq, vq, nil, nil}, {"k only", nil, nil, ck, vk}, {"neither", nil, nil, nil, nil}} {
			for _, n := range []int{1, 5} {
				qkv := r.tensor(n*stride, r.randn(n*stride, 2))
				r.cc.QKNorm(qkv.c, n, c.cq, c.ck)
				r.vc.QKNorm(qkv.v, n, c.vq, c.vk)
				tol := nmseApprox
				if c.cq == nil && c.ck == nil {
					tol = 0
				}
				r.check("QKNorm", "hd="+strconv.Itoa(g.HeadDim)+" "+c.name+" n="+strconv.Itoa(n), qkv, n*stride, tol)
			}
		}
	}
}

func TestOpsKVWriteAttention(t *testing.T) {
	for _, c := range []struct {
		name   string
		a      backend.Attn
		maxCtx int
		fill   int      // cache rows written (KVWrite alone) before the steps
		steps  [][2]int // (n, pos) calls in order
		qSigma float64
	}{
		{"gqa 4/2 hd 64 prefill 7 then decode", geometry(4, 2, 64, 64, false), 16, 0, [][2]int{{7, 0}, {1, 7}, {1, 8}}, 1},
		{"mha 3/3 hd 80", geometry(3, 3, 80, 80, true), 40, 0, [][2]int{{5, 0}, {3, 5}}, 1},
		{"gqa 8/1 hd 40 (not a multiple of 32)", geometry(8, 1, 40, 40, true), 20, 0, [][2]int{{1, 0}, {2, 1}, {4, 3}}, 1},
		{"gqa 4/2 hd 128, 300 positions (several tiles)", geometry(4, 2, 128, 128, false), 320, 0, [][2]int{{150, 0}, {140, 150}, {1, 290}}, 0.5},
		{"gqa 2/1 hd 72, 2300 positions (past the shader's 2048 cached scores)", geometry(2, 1, 72, 72, true), 2300, 2290, [][2]int{{3, 2290}, {1, 2293}}, 0.3},
		{"hd 64, large scores (softmax max subtraction)", geometry(2, 1, 64, 64, false), 70, 0, [][2]int{{65, 0}, {1, 65}}, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			maxBatch := 0
			for _, s := range c.steps {
				maxBatch = max(maxBatch, s[0])
			}
			r := newRig(t, a, maxBatch, c.maxCtx)
			stride := a.QDim() + 2*a.KVDim()
			kc := r.tensor(c.maxCtx*a.KVDim(), nil)
			vc := r.tensor(c.maxCtx*a.KVDim(), nil)
			for pos := 0; pos < c.fill; pos += maxBatch {
				n := min(maxBatch, c.fill-pos)
				qkv := r.tensor(n*stride, r.randn(n*stride, c.qSigma))
				r.cc.KVWrite(kc.c, vc.c, qkv.c, n, pos)
				r.vc.KVWrite(kc.v, vc.v, qkv.v, n, pos)
			}
			for _, s := range c.steps {
				n, pos := s[0], s[1]
				name := "n=" + strconv.Itoa(n) + " pos=" + strconv.Itoa(pos)
				qkv := r.tensor(n*stride, r.randn(n*stride, c.qSigma))
				r.cc.KVWrite(kc.c, vc.c, qkv.c, n, pos)
				r.vc.KVWrite(kc.v, vc.v, qkv.v, n, pos)
				r.check("KVWrite", name+" k", kc, c.maxCtx*a.KVDim(), 0)
				r.check("KVWrite", name+" v", vc, c.maxCtx*a.KVDim(), 0)
				out := r.tensor(n*a.QDim(), nil)
				r.cc.Attention(out.c, qkv.c, kc.c, vc.c, n, pos)
				r.vc.Attention(out.v, qkv.v, kc.v, vc.v, n, pos)
				r.check("Attention", name, out, n*a.QDim(), nmseApprox)
			}
		})
	}
}

// halfFields are the byte offsets of the f16 scales (d, dmin, m) in one
// block of each quantized type (ggml's block structs): TestOpsEmbed fills
// every other byte at random and these with finite scales.
var halfFields = map[quant.Type][]int{
	quant.Q4_0: {0}, quant.Q4_1: {0, 2}, quant.Q5_0: {0}, quant.Q5_1: {0, 2}, quant.Q8_0: {0},
	quant.Q2_K: {80, 82}, quant.Q3_K: {108}, quant.Q4_K: {0, 2}, quant.Q5_K: {0, 2}, quant.Q6_K: {208},
}

// randomTable returns rows of cols values of type ty: F32/F16/BF16 from
// N(0,1), quantized types as random bytes (every quant and sub-scale bit
// pattern) with finite f16 scales.
func (r *rig) randomTable(ty quant.Type, rows, cols int) []byte {
	r.t.Helper()
	rs, err := quant.RowSize(ty, int64(cols))
	if err != nil {
		r.t.Fatal(err)
	}
	data := make([]byte, rows*int(rs))
	switch ty {
	case quant.F32, quant.F16, quant.BF16:
		src := r.randn(rows*cols, 1)
		for row := range rows {
			if err := quant.QuantizeRowRef(ty, data[row*int(rs):(row+1)*int(rs)], src[row*cols:(row+1)*cols]); err != nil {
				r.t.Fatalf("%s: %v", ty, err)
			}
		}
		return data
	}
	for i := range data {
		data[i] = byte(r.rng.Uint32())
	}
	bs := ty.TypeSize()
	for blk := 0; blk < len(data); blk += bs {
		for _, off := range halfFields[ty] {
			h := quant.FP32ToFP16(float32(r.rng.Float64()*0.1 + 0.001))
			binary.LittleEndian.PutUint16(data[blk+off:], h)
		}
	}
	return data
}

func TestOpsEmbed(t *testing.T) {
	r := newRig(t, geometry(4, 2, 64, 64, false), 9, 16)
	const rows, cols = 37, 512 // 512: two blocks of every K-quant
	tokens := []int32{5, 0, 36, 5, 17, 1, 2, 35, 36}
	for _, ty := range []quant.Type{quant.F32, quant.F16, quant.BF16, quant.Q4_0, quant.Q4_1, quant.Q5_0, quant.Q5_1, quant.Q8_0,
		quant.Q2_K, quant.Q3_K, quant.Q4_K, quant.Q5_K, quant.Q6_K} {
		info := backend.WeightInfo{Name: "token_embd.weight", Type: ty, Rows: rows, Cols: cols, Data: r.randomTable(ty, rows, cols)}
		if _, err := r.vb.Weight(info); err != nil {
			// A type the Vulkan backend does not decode yet is refused
			// by name (CORE's and QUANT's to test); the op cannot run.
			t.Errorf("%s: vulkan refuses the embedding table: %v", ty, err)
			continue
		}
		cw, vw := r.weight(info)
		for _, n := range []int{1, len(tokens)} {
			d := r.tensor(len(tokens)*cols+7, nil)
			r.cc.Embed(r.view(d, 7, n*cols).c, cw, tokens[:n])
			r.vc.Embed(r.view(d, 7, n*cols).v, vw, tokens[:n])
			r.check("Embed", ty.String()+" n="+strconv.Itoa(n), d, len(tokens)*cols+7, 0)
		}
	}
}

// TestOpsEmbedBadToken: a token id outside the table is an error of the
// next Read naming the token (the engine checks ids against the vocabulary
// before, so this guards the device against reading past the table).
func TestOpsEmbedBadToken(t *testing.T) {
	r := newRig(t, geometry(4, 2, 64, 64, false), 4, 16)
	vals := r.randn(4*64, 1)
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	vw, err := r.vb.Weight(backend.WeightInfo{Name: "token_embd.weight", Type: quant.F32, Rows: 4, Cols: 64, Data: b})
	if err != nil {
		t.Fatal(err)
	}
	d := r.vc.Alloc(2 * 64)
	r.vc.Embed(d, vw, []int32{1, 4})
	if _, err := r.vc.Read(d, 64); err == nil {
		t.Fatal("token 4 of a 4-row table: Read returned no error")
	} else {
		t.Logf("token 4 of 4 rows: %v", err)
	}
	// The error is reported once; the context keeps working.
	r.vc.Embed(d, vw, []int32{3})
	if _, err := r.vc.Read(d, 64); err != nil {
		t.Fatalf("after the error: %v", err)
	}
}

// BenchmarkOps times single ops on the Vulkan device in the attention
// geometry of Qwen2-0.5B (14 query heads, 2 key/value heads, head dim 64,
// width 896, FFN 4864): each iteration records the op and reads back one
// value, so the time includes one submit and wait; pipeline builds are
// outside the timing (reported, never asserted).
func BenchmarkOps(b *testing.B) {
	a := geometry(14, 2, 64, 64, true)
	be, err := backend.Open("vulkan", backend.Config{Matmul: trace.MatmulF32, Attn: a})
	if errors.Is(err, backend.ErrUnavailable) {
		b.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	const maxCtx = 1024
	ctx, err := be.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: 64, MaxCtx: maxCtx})
	if err != nil {
		b.Fatal(err)
	}
	defer ctx.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	tensor := func(n int) backend.Tensor {
		t := ctx.Alloc(n)
		ctx.Write(t, 0, randn(n))
		return t
	}
	stride := a.QDim() + 2*a.KVDim()
	norm := make([]byte, 4*896)
	for i := 0; i < 896; i++ {
		binary.LittleEndian.PutUint32(norm[4*i:], math.Float32bits(1))
	}
	w, err := be.Weight(backend.WeightInfo{Name: "norm", Type: quant.F32, Rows: 1, Cols: 896, Data: norm})
	if err != nil {
		b.Fatal(err)
	}
	x, gate, qkv := tensor(64*4864), tensor(64*4864), tensor(64*stride)
	kc, vc, out := tensor(maxCtx*a.KVDim()), tensor(maxCtx*a.KVDim()), tensor(64*a.QDim())
	for _, c := range []struct {
		name string
		op   func()
	}{
		{"SiLU/n=4864", func() { ctx.SiLU(x, gate, 4864) }},
		{"SiLU/n=7x4864", func() { ctx.SiLU(x, gate, 7*4864) }},
		{"Add/n=7x896", func() { ctx.Add(x, gate, 7*896) }},
		{"RMSNorm/n=7", func() { ctx.RMSNorm(x, gate, w, 7, 1e-6) }},
		{"RoPE/n=7", func() { ctx.RoPE(qkv, 7, 100) }},
		{"Attention/n=7,pos=0", func() { ctx.Attention(out, qkv, kc, vc, 7, 0) }},
		{"Attention/n=1,pos=127", func() { ctx.Attention(out, qkv, kc, vc, 1, 127) }},
		{"Attention/n=1,pos=1023", func() { ctx.Attention(out, qkv, kc, vc, 1, 1023) }},
		{"Attention/n=64,pos=960", func() { ctx.Attention(out, qkv, kc, vc, 64, 960) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			// Once before timing: the pipeline is built on first use.
			c.op()
			if _, err := ctx.Read(x, 1); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				c.op()
				if _, err := ctx.Read(x, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
