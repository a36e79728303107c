package cpu

import (
	"fmt"
	"slices"

	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// kernels are a backend's choices per weight type for its matmul mode:
// the dot kernel (quantized mode) or row decoder (f32 mode), the vec-dot
// types activations are quantized to, and the widest matrix row. They are
// filled by prepare as the model's weights arrive and read-only after.
//
// F32 weights take the same float32 path (dotF32) in both modes, so on an
// F32 model the modes are bit-identical: only quantized weights see a
// difference, which is what gate 005 of apr-vs-gguf-forward-parity checks.
type kernels struct {
	mode    trace.MatmulMode
	maxCols int // widest matrix row seen by prepare
	dots    map[quant.Type]quant.DotMatrixKernel
	vdts    map[quant.Type]bool // vec-dot types in use (quantized mode)
	deq     map[quant.Type]func(dst []float32, src []byte)
}

func newKernels(mode trace.MatmulMode) *kernels {
	return &kernels{mode: mode, dots: map[quant.Type]quant.DotMatrixKernel{}, vdts: map[quant.Type]bool{},
		deq: map[quant.Type]func([]float32, []byte){}}
}

// prepare readies the kernels for matrix w. Errors name the type.
func (k *kernels) prepare(w *weight) error {
	k.maxCols = max(k.maxCols, w.Cols)
	if w.Type == quant.F32 {
		return nil
	}
	if err := quant.CheckDecodable(w.Type); err != nil {
		return err
	}
	if k.mode == trace.MatmulQuantized {
		if _, done := k.dots[w.Type]; !done {
			dot, err := quant.DotMatrixFunc(w.Type)
			if err != nil {
				return err
			}
			k.dots[w.Type] = dot
		}
		k.vdts[quant.VecDotType(w.Type)] = true
		return nil
	}
	if _, done := k.deq[w.Type]; !done {
		deq, err := quant.DequantizeFunc(w.Type)
		if err != nil {
			return err
		}
		k.deq[w.Type] = deq
	}
	return nil
}

// quantChunk is the fewest activation values worth a worker's hand-off
// when quantizing (normChunk).
const quantChunk = 65536

// matmuler multiplies weight matrices by batches of activation rows with a
// backend's kernels, with every buffer it needs allocated up front: one
// per context, so contexts of one backend can run concurrently.
type matmuler struct {
	*kernels
	threads int
	pool    *pool // the context's workers
	// quantized mode: activations quantized to each vec-dot type in use
	// (maxBatch rows of the widest input).
	qx map[quant.Type][]byte
	// qxStride and qxDone: the row size of each type's quantized rows in
	// the current matmuls call, and whether they hold this call's x.
	qxStride map[quant.Type]int
	qxDone   map[quant.Type]bool
	// f32 mode: dequantized weight rows per worker,
	// (max(3*maxCols, f32GroupFloats)).
	rows [][]float32
}

func newMatmuler(k *kernels, p *pool, maxBatch int) (*matmuler, error) {
	threads := p.threads
	mm := &matmuler{kernels: k, threads: threads, pool: p, qx: map[quant.Type][]byte{},
		qxStride: map[quant.Type]int{}, qxDone: map[quant.Type]bool{}}
	for vdt := range k.vdts {
		rs, err := quant.RowSize(vdt, int64(k.maxCols))
		if err != nil {
			return nil, fmt.Errorf("activation rows of %d as %s: %w", k.maxCols, vdt, err)
		}
		mm.qx[vdt] = make([]byte, int(rs)*maxBatch)
	}
	if k.mode == trace.MatmulF32 {
		mm.rows = make([][]float32, threads)
		for i := range mm.rows {
			mm.rows[i] = make([]float32, max(3*k.maxCols, f32GroupFloats))
		}
	}
	return mm, nil
}

// matmul computes, for each of n tokens t and each row r of w,
//
//	out[t*stride + off + r] = w[r] · x[t*cols : (t+1)*cols]
//
// where w is (rows, cols) in its stored type. Rows are split across
// workers; each output is computed by the same sequence of operations
// whatever the split, so results do not depend on the thread count.
func (mm *matmuler) matmul(out []float32, stride, off int, x []float32, n int, w *weight) {
	cols, rows, rb := w.Cols, w.Rows, w.rowBytes
	switch {
	case w.Type == quant.F32:
		// A group of rows at a time, so that every token meets them while
		// they are in cache (dotF32Matrix takes the tokens left over from
		// its threes in a second pass over the rows).
		wf := w.f32
		group := f32Group(cols)
		mm.pool.parallelFor(mm.threads, rows, func(_, lo, hi int) {
			for r := lo; r < hi; r += group {
				r2 := min(r+group, hi)
				dotF32Matrix(out[off+r:], stride, wf[r*cols:r2*cols], r2-r, x, n)
			}
		})
	case mm.mode == trace.MatmulF32:
		// Consecutive rows are consecutive blocks, so one call decodes a
		// group of them; the group then meets every token while it is in
		// cache.
		group, dequant := f32Group(cols), mm.deq[w.Type]
		mm.pool.parallelFor(mm.threads, rows, func(worker, lo, hi int) {
			buf := mm.rows[worker]
			for r := lo; r < hi; r += group {
				r2 := min(r+group, hi)
				wr := buf[:(r2-r)*cols]
				dequant(wr, w.Data[r*rb:r2*rb])
				dotF32Matrix(out[off+r:], stride, wr, r2-r, x, n)
			}
		})
	default:
		mm.matmuls(x, n, []product{{out: out, stride: stride, off: off, w: w}})
	}
}

// product is one weight's product in a matmuls call: out[t*stride + off +
// r] = w[r] · x[t].
type product struct {
	out         []float32
	stride, off int
	w           *weight
}

// matmulRowUnit is how many rows matmuls hands out together, so that a
// split between workers never leaves a weight's four-row kernels a
// partial group of four (or a pair kernel's sixteen).
const matmulRowUnit = 16

// matmuls computes every product of ps against the same n rows of x, all
// weights of one width. In quantized mode x is quantized once per
// activation type in use (each row alone, as llama.cpp quantizes all of
// a batch's rows before its matmul), and the rows of all the weights are
// split over one parallel loop; each output keeps the bits of a one-row
// dot product (quant.DotMatrixFunc), so neither the split nor the
// grouping changes a bit. The f32 paths run each product through matmul.
func (mm *matmuler) matmuls(x []float32, n int, ps []product) {
	if mm.mode == trace.MatmulF32 || slices.ContainsFunc(ps, func(p product) bool { return p.w.Type == quant.F32 }) {
		for _, p := range ps {
			mm.matmul(p.out, p.stride, p.off, x, n, p.w)
		}
		return
	}
	cols := ps[0].w.Cols
	total := 0
	for _, p := range ps {
		if p.w.Cols != cols {
			panic(fmt.Sprintf("cpu: matmuls of weights %q (%d columns) and %q (%d) against the same activations", ps[0].w.Name, cols, p.w.Name, p.w.Cols))
		}
		total += p.w.Rows
	}
	for _, p := range ps {
		mm.quantize(x, n, cols, quant.VecDotType(p.w.Type), p.w.Name)
	}
	units := (total + matmulRowUnit - 1) / matmulRowUnit
	mm.pool.parallelFor(mm.threads, units, func(_, lo, hi int) {
		lo, hi = lo*matmulRowUnit, min(hi*matmulRowUnit, total)
		base := 0
		for _, p := range ps {
			a, b := max(lo, base), min(hi, base+p.w.Rows)
			if a < b {
				w, vdt := p.w, quant.VecDotType(p.w.Type)
				xs := mm.qxStride[vdt]
				// The weight's rows a..b against every token in one
				// call: the kernel takes four weight rows at a time
				// against all tokens (Q8_0 decodes a weight block once
				// for all of them).
				mm.dots[w.Type](cols, w.Data[(a-base)*w.rowBytes:(b-base)*w.rowBytes], w.rowBytes, b-a,
					mm.qx[vdt][:n*xs], xs, n, p.out[p.off+a-base:], p.stride)
			}
			base += p.w.Rows
		}
	})
	clear(mm.qxDone)
}

// quantize quantizes the n rows of x (cols wide) to vdt into mm.qx[vdt]
// unless this matmuls call already has (mm.qxDone), the tokens in
// parallel (each row alone) when there are enough values for each worker:
// the SIMD quantizers take well under 1 ns per value.
func (mm *matmuler) quantize(x []float32, n, cols int, vdt quant.Type, name string) {
	if mm.qxDone[vdt] {
		return
	}
	xrb, _ := quant.RowSize(vdt, int64(cols))
	xs := int(xrb)
	qx := mm.qx[vdt][:n*xs]
	mm.pool.parallelFor(workersFor(mm.threads, n*cols, quantChunk), n, func(_, lo, hi int) {
		for t := lo; t < hi; t++ {
			if err := quant.QuantizeRow(vdt, qx[t*xs:(t+1)*xs], x[t*cols:(t+1)*cols]); err != nil {
				panic(fmt.Sprintf("cpu: quantize activations for %q to %s: %v", name, vdt, err))
			}
		}
	})
	mm.qxStride[vdt], mm.qxDone[vdt] = xs, true
}

// f32GroupFloats is how many dequantized floats the f32 mode decodes at
// once per worker (12 KiB, well inside an L1 data cache), in whole rows
// and at least three (the three-dot kernel's group in a decode step).
// Measured on the Qwen2-0.5B shape (rows of 896), 3 to 4 rows decoded a
// token 20% faster than 1 row or 6 to 9 (which crowd the L1 cache).
const f32GroupFloats = 3072

// f32Group is how many weight rows of cols elements the f32 paths take
// at a time: f32GroupFloats' worth, at least three.
func f32Group(cols int) int { return max(3, f32GroupFloats/max(cols, 1)) }
