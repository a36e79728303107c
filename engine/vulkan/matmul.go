package vulkan

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// mmTile is the tokens per workgroup of the mul_mm shaders (TN in
// build.sh); q81Words is the size of one Q8_1 block of the quantized
// mode's activations in 32-bit words (quantize_q8_1.comp).
const (
	mmTile   = 8
	mmRows   = 8 // weight rows per workgroup (RPW in mul_mat.comp)
	q81Words = 10
)

// matmulState is what the backend learns from its matrices: the widest
// row, which sizes each context's Q8_1 activation buffer.
type matmulState struct {
	maxCols int
}

// shaderType is the lower-case ggml name of t that shader files use.
func shaderType(t quant.Type) string { return strings.ToLower(t.String()) }

// hasShader reports whether this build embeds the named shader.
func hasShader(name string) bool {
	if _, ok := extraShaders[name]; ok {
		return true
	}
	_, err := fs.Stat(spvFS, "shaders/spv/"+name+".spv")
	return err == nil
}

// typeSupported reports whether the shaders decode weights of type t
// (its types/<t>.glsl was built into this binary).
func typeSupported(t quant.Type) bool { return hasShader("mul_mat_vec_" + shaderType(t)) }

// supportedTypes lists the types with shaders, for error messages.
func supportedTypes() string {
	var names []string
	for _, t := range []quant.Type{quant.F32, quant.F16, quant.BF16, quant.Q4_0, quant.Q4_1, quant.Q5_0, quant.Q5_1, quant.Q8_0,
		quant.Q2_K, quant.Q3_K, quant.Q4_K, quant.Q5_K, quant.Q6_K} {
		if typeSupported(t) {
			names = append(names, t.String())
		}
	}
	return strings.Join(names, ", ")
}

// matmulShaders returns the matrix-vector and matrix-matrix shaders for w
// in mode, and whether activations go through quantize_q8_1 first.
func matmulShaders(t quant.Type, mode trace.MatmulMode) (vec, mm string, q81 bool) {
	ts := shaderType(t)
	switch {
	case t == quant.F32 || mode == trace.MatmulF32:
		return "mul_mat_vec_" + ts, "mul_mm_" + ts, false
	case t == quant.F16 || t == quant.BF16:
		return "mul_mat_vec_x" + ts + "_" + ts, "mul_mm_x" + ts + "_" + ts, false
	default:
		return "mul_mat_vec_q8_1_" + ts, "mul_mm_q8_1_" + ts, true
	}
}

// prepareMatrix checks that matrix w can be multiplied in the backend's
// mode and records its width.
func (b *Backend) prepareMatrix(w backend.WeightInfo) error {
	if err := quant.CheckDecodable(w.Type); err != nil {
		return err
	}
	vec, mm, _ := matmulShaders(w.Type, b.cfg.Matmul)
	if !hasShader(vec) || !hasShader(mm) {
		return fmt.Errorf("type %s: the Vulkan backend has no %s matmul shader for it (supported: %s)", w.Type, b.cfg.Matmul, supportedTypes())
	}
	if w.Cols%32 != 0 || w.Cols%w.Type.BlockSize() != 0 {
		return fmt.Errorf("type %s: %d columns is not a multiple of 32 (the shaders' sub-block)", w.Type, w.Cols)
	}
	if rb := int64(w.Cols/w.Type.BlockSize()) * int64(w.Type.TypeSize()); rb*int64(w.Rows) != int64(len(w.Data)) {
		return fmt.Errorf("type %s: %d bytes for %d rows of %d columns (want %d)", w.Type, len(w.Data), w.Rows, w.Cols, rb*int64(w.Rows))
	}
	b.mu.Lock()
	b.mm.maxCols = max(b.mm.maxCols, w.Cols)
	b.mu.Unlock()
	return nil
}

// mulMatPush is the push-constant block of mul_mat.comp.
type mulMatPush struct {
	Rows, Cols, N, XOff, DOff, DStride uint32
}

// quantizePush is the push-constant block of quantize_q8_1.comp.
type quantizePush struct {
	N, Cols, XOff, QOff uint32
}

// MatMul records, in the backend's mode, dst[t*stride+off+r] = w[r] · x[t]
// for t < n: the matrix-vector shader for one token, the matrix-matrix
// one for more; in the quantized mode on quantized weights, a
// quantize_q8_1 dispatch of x first.
func (c *context) MatMul(dst backend.Tensor, stride, off int, x backend.Tensor, n int, w backend.Weight) {
	d, xt, wv := tens(dst), tens(x), wt(w)
	if n <= 0 {
		return
	}
	cols, rows := wv.Cols, wv.Rows
	if xt.n < n*cols || d.n < (n-1)*stride+off+rows {
		c.fail(fmt.Errorf("vulkan: matmul %q: %d tokens need %d inputs and %d outputs, tensors hold %d and %d",
			wv.Name, n, n*cols, (n-1)*stride+off+rows, xt.n, d.n))
		return
	}
	vec, mm, q81 := matmulShaders(wv.Type, c.b.cfg.Matmul)
	shader := mm
	if n == 1 {
		shader = vec
	}
	g := grid((rows + mmRows - 1) / mmRows)
	g[2] = uint32((n + mmTile - 1) / mmTile)
	push := mulMatPush{Rows: uint32(rows), Cols: uint32(cols), N: uint32(n), XOff: uint32(xt.off), DOff: uint32(d.off + off), DStride: uint32(stride)}
	if !q81 {
		c.dispatch(shader, push, g, wv.buf, xt.buf, d.buf)
		return
	}
	nblk := n * cols / 32
	need := uint64(nblk) * q81Words * 4
	if c.q81 == nil || c.q81.size < need {
		// Sized for the widest matrix at MaxBatch when first needed; a
		// bigger request (not seen from the engine) grows it after the
		// work that used the old one is done.
		if c.q81 != nil {
			c.fail(c.flush())
			c.q81.free(c.b.dev)
			c.q81 = nil
		}
		c.b.mu.Lock()
		size := max(need, uint64(c.cfg.MaxBatch*c.b.mm.maxCols/32)*q81Words*4)
		c.b.mu.Unlock()
		buf, err := c.b.newBuffer(size, c.b.mem.device, false)
		if err != nil {
			c.fail(fmt.Errorf("vulkan: Q8_1 activations (%d bytes): %w", size, err))
			return
		}
		c.q81 = buf
	}
	c.dispatch("quantize_q8_1", quantizePush{N: uint32(n), Cols: uint32(cols), XOff: uint32(xt.off)}, grid((nblk+63)/64), xt.buf, c.q81)
	push.XOff = 0
	c.dispatch(shader, push, g, wv.buf, c.q81, d.buf)
}
