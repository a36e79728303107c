package backendtest

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/ggmlref"
	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

// Context sizes of a session: MatMul runs up to maxBatch tokens, the
// caches hold maxCtx positions.
const (
	threads  = 2
	maxBatch = 8
	maxCtx   = 2112 // past 256 and 2048: attention kernels that keep scores in shared memory must loop
	pad      = 3    // guard elements on each side of every view (odd: unaligned offsets)
)

// Shapes of the weights.
const (
	mmRows, mmCols   = 72, 512   // MatMul weights (512: whole K-quant super-blocks)
	mmRowsW, mmColsW = 131, 1280 // a wider MatMul: a prime row count (partial tiles), five super-blocks
	embRows, embCols = 40, 256   // Embed tables
	normCols         = 320       // RMSNorm
	normColsW        = 2880      // a wide RMSNorm (more than one workgroup's worth per row)
)

// session is one backend opened for a geometry and matmul mode, with its
// weights bound and one context.
type session struct {
	geo  geometry
	mode trace.MatmulMode
	lib  *ggmlref.Lib
	ref  *ggmlref.Backend
	be   backend.Backend
	ctx  backend.Context
	w    map[string]*weight
}

func newSession(name string, geo geometry, mode trace.MatmulMode, lib *ggmlref.Lib, ref *ggmlref.Backend) (*session, error) {
	s := &session{geo: geo, mode: mode, lib: lib, ref: ref, w: map[string]*weight{}}
	a := geo.a
	type spec struct {
		name       string
		typ        quant.Type
		rows, cols int
		matrix     bool
	}
	specs := []spec{
		{"attn_norm", quant.F32, 1, normCols, false},
		{"attn_norm_wide", quant.F32, 1, normColsW, false},
		{"q_norm", quant.F32, 1, a.HeadDim, false},
		{"k_norm", quant.F32, 1, a.HeadDim, false},
		{"bias", quant.F32, 1, a.KVDim(), false},
	}
	for _, t := range WeightTypes {
		if mode == trace.MatmulF32 {
			specs = append(specs, spec{"embd." + t.String(), t, embRows, embCols, false})
		}
		specs = append(specs, spec{"mm." + t.String(), t, mmRows, mmCols, true},
			spec{"mmw." + t.String(), t, mmRowsW, mmColsW, true})
	}
	for _, sp := range specs {
		w, err := makeWeight(lib, geo.name+"."+sp.name, sp.typ, sp.rows, sp.cols, sp.matrix)
		if err != nil {
			return nil, err
		}
		s.w[sp.name] = w
	}
	be, err := backend.Open(name, backend.Config{Matmul: mode, Attn: a})
	if err != nil {
		return nil, err
	}
	s.be = be
	for _, sp := range specs {
		w := s.w[sp.name]
		if w.w, err = be.Weight(w.info); err != nil {
			return nil, errors.Join(fmt.Errorf("backendtest: %s: bind %s: %w", name, w.info.Name, err), be.Close())
		}
	}
	if s.ctx, err = be.NewContext(backend.ContextConfig{Threads: threads, MaxBatch: maxBatch, MaxCtx: maxCtx}); err != nil {
		return nil, errors.Join(fmt.Errorf("backendtest: %s: new context: %w", name, err), be.Close())
	}
	return s, nil
}

func (s *session) close() error {
	var errs []error
	if s.ctx != nil {
		errs = append(errs, s.ctx.Close())
	}
	if s.be != nil {
		errs = append(errs, s.be.Close())
	}
	return errors.Join(errs...)
}

// run runs every case of the session; all (the first geometry) adds the
// cases that do not depend on the geometry.
func (s *session) run(all bool) []Result {
	type cas struct {
		op  string // the backend.Context method
		run func() Result
	}
	var cases []cas
	add := func(op string, f func() Result) { cases = append(cases, cas{op, f}) }
	matmuls := func() {
		for _, t := range WeightTypes {
			for _, n := range []int{1, 5} {
				add("MatMul", func() Result { return s.matMul(t, n, false) })
			}
			// n = 5 again: ggml-vulkan compiles a matrix-vector pipeline
			// per (type, n <= 8), tens of seconds each on lavapipe.
			for _, n := range []int{1, 5} {
				add("MatMul", func() Result { return s.matMul(t, n, true) })
			}
		}
	}
	switch {
	case s.mode == trace.MatmulQuantized:
		matmuls()
	default:
		if all {
			for _, t := range WeightTypes {
				add("Embed", func() Result { return s.embed(t) })
			}
			matmuls()
			for _, n := range []int{1, 5} {
				add("RMSNorm", func() Result { return s.rmsNorm(n, false) })
			}
			add("RMSNorm", func() Result { return s.rmsNorm(3, true) })
			for _, op := range []string{"SiLU", "Mul", "Add"} {
				for _, n := range []int{1000, 5 * 4864} { // 4864: a 0.5B model's FFN width
					add(op, func() Result { return s.elementwise(op, n) })
				}
			}
		}
		// prefill, a later batch, decode, and past 256 and 2048 cached
		// positions
		for _, c := range []struct{ n, pos int }{{5, 0}, {3, 6}, {1, 20}, {2, 297}, {2, 2100}} {
			add("AddBias", func() Result { return s.addBias(c.n) })
			add("QKNorm", func() Result { return s.qkNorm(c.n, true) })
			add("RoPE", func() Result { return s.rope(c.n, c.pos) })
			add("KVWrite", func() Result { return s.kvWrite(c.n, c.pos) })
			add("Attention", func() Result { return s.attention(c.n, c.pos, false) })
			add("Attention", func() Result { return s.attention(c.n, c.pos, true) })
		}
		add("QKNorm", func() Result { return s.qkNorm(3, false) })
	}
	var out []Result
	for _, c := range cases {
		out = append(out, c.run())
	}
	return out
}

// guarded is a view of pad guard elements on each side inside a larger
// tensor; the guards must come back unchanged.
type guarded struct {
	parent, view backend.Tensor
	init         []float32 // the parent's values as written
}

// alloc makes a guarded tensor holding v (guards random).
func (s *session) alloc(label string, v []float32) *guarded {
	init := uniform(seedOf(label+".guard"), len(v)+2*pad, -9, 9)
	copy(init[pad:], v)
	p := s.ctx.Alloc(len(init))
	s.ctx.Write(p, 0, init)
	return &guarded{parent: p, view: s.ctx.View(p, pad, len(v)), init: init}
}

// read returns the view's values after the operations queued, and an
// error if any guard changed.
func (s *session) read(g *guarded, what string) ([]float32, error) {
	all, err := s.ctx.Read(g.parent, len(g.init))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	all = slices.Clone(all) // valid until the next operation only
	n := len(g.init) - 2*pad
	for _, i := range []int{0, 1, 2, n + pad, n + pad + 1, n + pad + 2} {
		if math.Float32bits(all[i]) != math.Float32bits(g.init[i]) {
			return nil, fmt.Errorf("%s: element %d outside the view (offset %d, length %d) changed from %g to %g", what, i, pad, n, g.init[i], all[i])
		}
	}
	return all[pad : pad+n], nil
}

// unchanged checks that got equals want at every index keep(i) is true.
func unchanged(what string, got, want []float32, keep func(i int) bool) error {
	for i := range got {
		if keep(i) && math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return fmt.Errorf("%s: element %d, which the operation must not write, changed from %g to %g", what, i, want[i], got[i])
		}
	}
	return nil
}

// refRun computes outputs on the ggml reference: build adds tensors to
// the graph and returns the outputs to compute and read.
func (s *session) refRun(build func(g *ggmlref.Graph) []ggmlref.Tensor) ([][]float32, error) {
	return s.refRunRead(func(g *ggmlref.Graph) (compute, read []ggmlref.Tensor) {
		outs := build(g)
		return outs, outs
	})
}

// refRunRead is refRun where the nodes to compute (a ggml_cpy) and the
// tensors to read after (the tensor copied into) differ.
func (s *session) refRunRead(build func(g *ggmlref.Graph) (compute, read []ggmlref.Tensor)) ([][]float32, error) {
	g, err := s.ref.NewGraph()
	if err != nil {
		return nil, err
	}
	defer g.Free()
	compute, read := build(g)
	if err := g.Compute(compute...); err != nil {
		return nil, err
	}
	var vals [][]float32
	for _, o := range read {
		v, err := g.ReadF32(o)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// result fills NMSE and the failure description of r from got vs ref.
func result(r Result, got, ref []float32, err error) Result {
	r.NMSE = math.NaN()
	if err != nil {
		r.Err = err
		return r
	}
	r.NMSE = numcmp.NMSE(got, ref)
	if !(r.NMSE <= r.Tol) {
		r.Err = errors.New(numcmp.Diff("result", got, ref))
	}
	return r
}

func (s *session) setup(format string, args ...any) string {
	return s.geo.name + " " + fmt.Sprintf(format, args...)
}

// rows returns rows [t*stride+off, t*stride+off+width) of v for t < n,
// concatenated.
func rows(v []float32, n, stride, off, width int) []float32 {
	out := make([]float32, 0, n*width)
	for t := range n {
		out = append(out, v[t*stride+off:t*stride+off+width]...)
	}
	return out
}

// inRows reports whether index i of a (n, stride) tensor lies in columns
// [off, off+width).
func inRows(i, stride, off, width int) bool {
	c := i % stride
	return c >= off && c < off+width
}

func (s *session) embed(t quant.Type) Result {
	r := Result{Op: "Embed", Type: t.String(), Tol: TolDefault}
	w := s.w["embd."+t.String()]
	tokens := []int32{7, 0, embRows - 1, 7, 13}
	n := len(tokens)
	r.Setup = s.setup("tokens=%d cols=%d", n, embCols)
	dst := s.alloc("embed.dst", uniform(seedOf("embed.dst"), n*embCols, -1, 1))
	s.ctx.Embed(dst.view, w.w, tokens)
	got, err := s.read(dst, "dst")
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		table := g.Input(uint32(t), w.info.Data, embCols, embRows)
		return []ggmlref.Tensor{g.GetRows(table, g.InputI32(tokens, int64(n)))}
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	return result(r, got, ref[0], nil)
}

func (s *session) matMul(t quant.Type, n int, wide bool) Result {
	mmRows, mmCols, name := mmRows, mmCols, "mm."
	if wide {
		mmRows, mmCols, name = mmRowsW, mmColsW, "mmw."
	}
	r := Result{Op: "MatMul", Type: t.String(), Mode: s.mode, Tol: TolDefault}
	if s.mode == trace.MatmulQuantized && t != quant.F32 {
		r.Tol = TolQuantized
	}
	w := s.w[name+t.String()]
	stride, off := mmRows+9, 5 // outputs land in a wider row at an offset
	r.Setup = s.setup("n=%d rows=%d cols=%d", n, mmRows, mmCols)
	label := fmt.Sprintf("matmul.%d.%d", n, mmCols)
	xv := uniform(seedOf(label+".x"), n*mmCols, -1, 1)
	dv := uniform(seedOf(label+".dst"), n*stride, -1, 1)
	x, dst := s.alloc(label+".x", xv), s.alloc(label+".dst", dv)
	s.ctx.MatMul(dst.view, stride, off, x.view, n, w.w)
	all, err := s.read(dst, "dst")
	if err == nil {
		err = unchanged("dst", all, dv, func(i int) bool { return !inRows(i, stride, off, mmRows) })
	}
	if err == nil {
		var xs []float32
		if xs, err = s.read(x, "x"); err == nil {
			err = unchanged("x", xs, xv, func(int) bool { return true })
		}
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		var wt ggmlref.Tensor
		if s.mode == trace.MatmulF32 {
			wt = g.InputF32(w.f32, int64(mmCols), int64(mmRows))
		} else {
			wt = g.Input(uint32(t), w.info.Data, int64(mmCols), int64(mmRows))
		}
		return []ggmlref.Tensor{g.MulMat(wt, g.InputF32(xv, int64(mmCols), int64(n)))}
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	return result(r, rows(all, n, stride, off, mmRows), ref[0], nil)
}

func (s *session) rmsNorm(n int, wide bool) Result {
	const eps = 1e-5
	normCols, wname := normCols, "attn_norm"
	if wide {
		normCols, wname = normColsW, "attn_norm_wide"
	}
	r := Result{Op: "RMSNorm", Type: "F32", Tol: TolDefault, Setup: s.setup("n=%d d=%d", n, normCols)}
	label := fmt.Sprintf("rmsnorm.%d.%d", n, normCols)
	xv := uniform(seedOf(label+".x"), n*normCols, -3, 3)
	x := s.alloc(label+".x", xv)
	dst := s.alloc(label+".dst", make([]float32, n*normCols))
	w := s.w[wname]
	s.ctx.RMSNorm(dst.view, x.view, w.w, n, eps)
	got, err := s.read(dst, "dst")
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		return []ggmlref.Tensor{g.Mul(g.RMSNorm(g.InputF32(xv, int64(normCols), int64(n)), eps), g.InputF32(w.f32, int64(normCols)))}
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	return result(r, got, ref[0], nil)
}

// elementwise checks SiLU, Mul or Add on the first n values of tensors
// one element longer than n (the last must stay unchanged).
func (s *session) elementwise(op string, n int) Result {
	r := Result{Op: op, Type: "F32", Tol: TolDefault, Setup: s.setup("n=%d", n)}
	label := fmt.Sprintf("elementwise.%s.%d", op, n)
	av := uniform(seedOf(label+".a"), n+1, -8, 8)
	bv := uniform(seedOf(label+".b"), n+1, -2, 2)
	a, b := s.alloc(label+".a", av), s.alloc(label+".b", bv)
	switch op {
	case "SiLU":
		s.ctx.SiLU(a.view, b.view, n) // a = silu(b)
	case "Mul":
		s.ctx.Mul(a.view, b.view, n)
	case "Add":
		s.ctx.Add(a.view, b.view, n)
	}
	got, err := s.read(a, "dst")
	if err == nil && math.Float32bits(got[n]) != math.Float32bits(av[n]) {
		err = fmt.Errorf("dst: element %d, past the n=%d the operation was given, changed", n, n)
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		x, y := g.InputF32(av[:n], int64(n)), g.InputF32(bv[:n], int64(n))
		switch op {
		case "SiLU":
			return []ggmlref.Tensor{g.SiLU(y)}
		case "Mul":
			return []ggmlref.Tensor{g.Mul(x, y)}
		default:
			return []ggmlref.Tensor{g.Add(x, y)}
		}
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	return result(r, got[:n], ref[0], nil)
}

// qkvStride is the width of a fused qkv row.
func (s *session) qkvStride() int { return s.geo.a.QDim() + 2*s.geo.a.KVDim() }

func (s *session) addBias(n int) Result {
	a := s.geo.a
	stride, off, width := s.qkvStride(), a.QDim(), a.KVDim() // the K bias
	r := Result{Op: "AddBias", Type: "F32", Tol: TolDefault, Setup: s.setup("n=%d cols=[%d,%d) of %d", n, off, off+width, stride)}
	label := fmt.Sprintf("addbias.%d", n)
	dv := uniform(seedOf(label), n*stride, -1, 1)
	dst := s.alloc(label, dv)
	b := s.w["bias"]
	s.ctx.AddBias(dst.view, stride, off, n, b.w)
	all, err := s.read(dst, "dst")
	if err == nil {
		err = unchanged("dst", all, dv, func(i int) bool { return !inRows(i, stride, off, width) })
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		return []ggmlref.Tensor{g.Add(g.InputF32(rows(dv, n, stride, off, width), int64(width), int64(n)), g.InputF32(b.f32, int64(width)))}
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	return result(r, rows(all, n, stride, off, width), ref[0], nil)
}

func (s *session) qkNorm(n int, withQ bool) Result {
	a := s.geo.a
	stride, qd, kvd := s.qkvStride(), a.QDim(), a.KVDim()
	r := Result{Op: "QKNorm", Type: "F32", Tol: TolDefault, Setup: s.setup("n=%d", n)}
	if !withQ {
		r.Setup += " k only"
	}
	label := fmt.Sprintf("qknorm.%d", n)
	qv := uniform(seedOf(label), n*stride, -2, 2)
	qkv := s.alloc(label, qv)
	qn, kn := s.w["q_norm"], s.w["k_norm"]
	var qw backend.Weight
	if withQ {
		qw = qn.w
	}
	s.ctx.QKNorm(qkv.view, n, qw, kn.w)
	all, err := s.read(qkv, "qkv")
	normed := func(i int) bool { return inRows(i, stride, qd, kvd) || withQ && inRows(i, stride, 0, qd) }
	if err == nil {
		err = unchanged("qkv", all, qv, func(i int) bool { return !normed(i) })
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		hd := int64(a.HeadDim)
		k := g.InputF32(rows(qv, n, stride, qd, kvd), hd, int64(a.NHeadKV), int64(n))
		outs := []ggmlref.Tensor{g.Mul(g.RMSNorm(k, a.RMSEps), g.InputF32(kn.f32, hd))}
		if withQ {
			q := g.InputF32(rows(qv, n, stride, 0, qd), hd, int64(a.NHead), int64(n))
			outs = append(outs, g.Mul(g.RMSNorm(q, a.RMSEps), g.InputF32(qn.f32, hd)))
		}
		return outs
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	got, want := rows(all, n, stride, qd, kvd), ref[0]
	if withQ {
		got, want = append(got, rows(all, n, stride, 0, qd)...), append(want, ref[1]...)
	}
	return result(r, got, want, nil)
}

// ropeParams are ggml_rope_ext's parameters for the session's geometry
// (backend.Attn's zero scale and factor mean 1).
func (s *session) ropeParams() ggmlref.Rope {
	a := s.geo.a
	p := ggmlref.Rope{NDims: a.NRot, Mode: ggmlref.RopeNormal, NCtxOrig: s.geo.nCtxOrig, FreqBase: a.RopeTheta,
		FreqScale: a.RopeFreqScale, ExtFactor: a.RopeExtFactor, AttnFact: a.RopeAttnFactor,
		BetaFast: s.geo.betaFast, BetaSlow: s.geo.betaSlow}
	if a.RopeNeox {
		p.Mode = ggmlref.RopeNeox
	}
	if p.FreqScale == 0 {
		p.FreqScale = 1
	}
	if p.AttnFact == 0 {
		p.AttnFact = 1
	}
	return p
}

func (s *session) rope(n, pos int) Result {
	a := s.geo.a
	stride, qd, kvd := s.qkvStride(), a.QDim(), a.KVDim()
	r := Result{Op: "RoPE", Type: "F32", Tol: TolDefault, Setup: s.setup("n=%d pos=%d", n, pos)}
	label := fmt.Sprintf("rope.%d.%d", n, pos)
	qv := uniform(seedOf(label), n*stride, -2, 2)
	qkv := s.alloc(label, qv)
	s.ctx.RoPE(qkv.view, n, pos)
	all, err := s.read(qkv, "qkv")
	if err == nil {
		err = unchanged("qkv", all, qv, func(i int) bool { return inRows(i, stride, qd+kvd, kvd) })
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	positions := make([]int32, n)
	for t := range positions {
		positions[t] = int32(pos + t)
	}
	ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
		hd := int64(a.HeadDim)
		p := g.InputI32(positions, int64(n))
		var ff ggmlref.Tensor
		if a.RopeFreqs != nil {
			ff = g.InputF32(a.RopeFreqs, int64(len(a.RopeFreqs)))
		}
		q := g.InputF32(rows(qv, n, stride, 0, qd), hd, int64(a.NHead), int64(n))
		k := g.InputF32(rows(qv, n, stride, qd, kvd), hd, int64(a.NHeadKV), int64(n))
		return []ggmlref.Tensor{g.RopeExt(q, p, ff, s.ropeParams()), g.RopeExt(k, p, ff, s.ropeParams())}
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	got := append(rows(all, n, stride, 0, qd), rows(all, n, stride, qd, kvd)...)
	return result(r, got, append(ref[0], ref[1]...), nil)
}

func (s *session) kvWrite(n, pos int) Result {
	a := s.geo.a
	stride, qd, kvd := s.qkvStride(), a.QDim(), a.KVDim()
	r := Result{Op: "KVWrite", Type: "F32", Tol: TolExact, Setup: s.setup("n=%d pos=%d", n, pos)}
	label := fmt.Sprintf("kvwrite.%d.%d", n, pos)
	qv := uniform(seedOf(label), n*stride, -2, 2)
	kv0 := uniform(seedOf(label+".k"), maxCtx*kvd, -2, 2)
	vv0 := uniform(seedOf(label+".v"), maxCtx*kvd, -2, 2)
	qkv, kc, vc := s.alloc(label, qv), s.alloc(label+".k", kv0), s.alloc(label+".v", vv0)
	s.ctx.KVWrite(kc.view, vc.view, qkv.view, n, pos)
	kGot, err := s.read(kc, "k cache")
	var vGot []float32
	if err == nil {
		vGot, err = s.read(vc, "v cache")
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	ref, err := s.refRunRead(func(g *ggmlref.Graph) (compute, read []ggmlref.Tensor) {
		for i, init := range [][]float32{kv0, vv0} {
			cache := g.InputF32(init, int64(kvd), maxCtx)
			cur := g.InputF32(rows(qv, n, stride, qd+i*kvd, kvd), int64(kvd), int64(n))
			compute = append(compute, g.Cpy(cur, g.View2D(cache, int64(kvd), int64(n), 4*kvd, 4*kvd*pos)))
			read = append(read, cache)
		}
		return compute, read
	})
	if err != nil {
		return result(r, nil, nil, err)
	}
	return result(r, append(kGot, vGot...), append(ref[0], ref[1]...), nil)
}

// attention checks Attention against ggml's attention graph. With
// llamaGraph it is the graph llama.cpp builds without flash attention
// (build_attn_mha): kq = mul_mat(k, q) over all heads at once (GQA by
// mul_mat's broadcast of the key heads), soft_max_ext with the causal
// mask and scale 1/sqrt(HeadDim), kqv = mul_mat(v^T, kq). ggml's Vulkan
// backend computes such a batched (ne2 > 1) float32 mul_mat with about
// F16 precision (NMSE ~6e-8 against ggml's CPU for these shapes, with
// GGML_PREC_F32 and contiguous operands; 1e-14 for the same products one
// head at a time), so this row has mul_mat's tolerance, 5e-4 (also
// test-backend-ops' tolerance for flash_attn_ext). Without llamaGraph the
// same operations run one head at a time (2-D mul_mats of contiguous
// copies of each head), which ggml computes in float32 on both backends,
// at the float32 tolerance 1e-7.
func (s *session) attention(n, pos int, llamaGraph bool) Result {
	a := s.geo.a
	stride, qd, kvd, hd := s.qkvStride(), a.QDim(), a.KVDim(), a.HeadDim
	kvLen := pos + n
	r := Result{Op: "Attention", Variant: "per head", Type: "F32", Tol: TolDefault, Setup: s.setup("n=%d pos=%d", n, pos)}
	if llamaGraph {
		r.Variant, r.Tol = "llama.cpp", TolQuantized
	}
	label := fmt.Sprintf("attention.%d.%d", n, pos)
	qv := uniform(seedOf(label), n*stride, -2, 2)
	kv := uniform(seedOf(label+".k"), maxCtx*kvd, -2, 2)
	vv := uniform(seedOf(label+".v"), maxCtx*kvd, -2, 2)
	qkv, kc, vc := s.alloc(label, qv), s.alloc(label+".k", kv), s.alloc(label+".v", vv)
	dst := s.alloc(label+".dst", uniform(seedOf(label+".dst"), n*qd, -1, 1))
	s.ctx.Attention(dst.view, qkv.view, kc.view, vc.view, n, pos)
	got, err := s.read(dst, "dst")
	for _, in := range []struct {
		g    *guarded
		v    []float32
		name string
	}{{qkv, qv, "qkv"}, {kc, kv, "k cache"}, {vc, vv, "v cache"}} {
		if err != nil {
			break
		}
		var x []float32
		if x, err = s.read(in.g, in.name); err == nil {
			err = unchanged(in.name, x, in.v, func(int) bool { return true })
		}
	}
	if err != nil {
		return result(r, nil, nil, err)
	}
	// mask[t][j] = 0 where cache position j is visible to token t
	// (j <= pos+t), else -inf.
	mask := make([]float32, n*kvLen)
	for t := range n {
		for j := pos + t + 1; j < kvLen; j++ {
			mask[t*kvLen+j] = float32(math.Inf(-1))
		}
	}
	scale := 1 / float32(math.Sqrt(float64(hd))) // llama.cpp: 1.0f/sqrtf(n_embd_head)
	var want []float32
	if llamaGraph {
		ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
			q := g.InputF32(rows(qv, n, stride, 0, qd), int64(hd), int64(a.NHead), int64(n))
			kAll := g.InputF32(kv, int64(hd), int64(a.NHeadKV), maxCtx)
			vAll := g.InputF32(vv, int64(hd), int64(a.NHeadKV), maxCtx)
			k := g.View3D(kAll, int64(hd), int64(a.NHeadKV), int64(kvLen), 4*hd, 4*kvd, 0)
			v := g.View3D(vAll, int64(hd), int64(a.NHeadKV), int64(kvLen), 4*hd, 4*kvd, 0)
			qp := g.Permute(q, 0, 2, 1, 3) // (hd, n, NHead)
			kp := g.Permute(k, 0, 2, 1, 3) // (hd, kvLen, NHeadKV)
			kq := g.MulMat(kp, qp)         // (kvLen, n, NHead)
			kq = g.SoftMaxExt(kq, g.InputF32(mask, int64(kvLen), int64(n)), scale)
			vt := g.Cont(g.Permute(v, 1, 2, 0, 3))                      // (kvLen, hd, NHeadKV)
			kqv := g.MulMat(vt, kq)                                     // (hd, n, NHead)
			return []ggmlref.Tensor{g.Cont(g.Permute(kqv, 0, 2, 1, 3))} // (hd, NHead, n)
		})
		if err != nil {
			return result(r, nil, nil, err)
		}
		want = ref[0]
	} else {
		ref, err := s.refRun(func(g *ggmlref.Graph) []ggmlref.Tensor {
			q := g.InputF32(rows(qv, n, stride, 0, qd), int64(qd), int64(n))
			kAll := g.InputF32(kv, int64(kvd), maxCtx)
			vAll := g.InputF32(vv, int64(kvd), maxCtx)
			m := g.InputF32(mask, int64(kvLen), int64(n))
			var outs []ggmlref.Tensor
			for h := range a.NHead {
				kh := h / (a.NHead / a.NHeadKV)
				qh := g.Cont(g.View2D(q, int64(hd), int64(n), 4*qd, 4*h*hd))         // (hd, n)
				k := g.Cont(g.View2D(kAll, int64(hd), int64(kvLen), 4*kvd, 4*kh*hd)) // (hd, kvLen)
				v := g.View2D(vAll, int64(hd), int64(kvLen), 4*kvd, 4*kh*hd)         // (hd, kvLen)
				kq := g.SoftMaxExt(g.MulMat(k, qh), m, scale)                        // (kvLen, n)
				vt := g.Cont(g.Permute(v, 1, 0, 2, 3))                               // (kvLen, hd)
				outs = append(outs, g.MulMat(vt, kq))                                // (hd, n)
			}
			return outs
		})
		if err != nil {
			return result(r, nil, nil, err)
		}
		want = make([]float32, n*qd)
		for h, o := range ref {
			for t := range n {
				copy(want[t*qd+h*hd:t*qd+(h+1)*hd], o[t*hd:(t+1)*hd])
			}
		}
	}
	return result(r, got, want, nil)
}
