package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/falsify/falsify/engine/backend"
)

// The non-matmul operations of the forward pass: each records one or two
// dispatches of its shader (shaders/<op>.comp, whose header states the
// formula and the order of operations) into the context's command buffer.
// Every tensor is bound whole, with its element offset in the push
// constants, so Views cost nothing. Each op checks its shapes against
// the tensors' lengths before recording, so a wrong call fails the
// context (reported by the next Read) instead of reading or writing past
// a buffer on the device.

// Workgroup sizes of the grid-stride shaders (local_size_x in the .comp).
const (
	wgElementwise  = 256 // add, mul, silu, add_bias, kv_write
	wgRoPE         = 64
	wgGetRows      = 32  // invocations per workgroup, one per 32 values
	maxAttnHeadDim = 512 // attention.comp's MAX_HD
)

// strideGroups is the workgroup count of a grid-stride shader over total
// invocations of wg-wide workgroups: enough for one element each, capped
// at 65535 (the smallest maxComputeWorkGroupCount[0] Vulkan allows; the
// shaders loop over the rest).
func strideGroups(total, wg int) [3]uint32 {
	g := min(max((total+wg-1)/wg, 1), 65535)
	return [3]uint32{uint32(g), 1, 1}
}

// within fails the context, naming the op and the operand, unless the
// tensor holds need values and has a device buffer; it reports whether it
// does.
func (c *context) within(op, what string, t *tensor, need int) bool {
	if need < 0 || need > t.n {
		c.fail(fmt.Errorf("vulkan: %s: %s needs %d values, the tensor holds %d", op, what, need, t.n))
		return false
	}
	if t.buf == nil {
		c.fail(fmt.Errorf("vulkan: %s: %s has no device buffer (its allocation failed)", op, what))
		return false
	}
	return true
}

// attn is the model's attention geometry.
func (c *context) attn() *backend.Attn { return &c.b.cfg.Attn }

// Embed dequantizes the table's rows for tokens on the device
// (get_rows_<type>). Token ids outside the table fail the context.
func (c *context) Embed(dst backend.Tensor, table backend.Weight, tokens []int32) {
	if len(tokens) == 0 {
		return
	}
	e, d := wt(table), tens(dst)
	cols := e.Cols
	for _, tok := range tokens {
		if tok < 0 || int(tok) >= e.Rows {
			c.fail(fmt.Errorf("vulkan: embedding of token %d: the table %q has %d rows", tok, e.Name, e.Rows))
			return
		}
	}
	if bs := e.Type.BlockSize(); cols%32 != 0 || bs == 0 || cols%bs != 0 {
		c.fail(fmt.Errorf("vulkan: embedding table %q: %d columns of %s are not whole blocks of 32 values", e.Name, cols, e.Type))
		return
	}
	if !c.within("Embed", "dst", d, len(tokens)*cols) {
		return
	}
	ids := make([]byte, 4*len(tokens))
	for i, tok := range tokens {
		binary.LittleEndian.PutUint32(ids[4*i:], uint32(tok))
	}
	up, word := c.upload(ids)
	if up == nil {
		return
	}
	push := struct{ NCols, N, WBase, TokOff, DOff uint32 }{uint32(cols), uint32(len(tokens)), 0, word, uint32(d.off)}
	groups := [3]uint32{uint32((cols/32 + wgGetRows - 1) / wgGetRows), uint32(len(tokens)), 1}
	c.dispatch("get_rows_"+shaderType(e.Type), push, groups, e.buf, up, d.buf)
}

// RMSNorm normalizes n rows of w.Cols values (rms_norm, one workgroup per
// row).
func (c *context) RMSNorm(dst, x backend.Tensor, w backend.Weight, n int, eps float32) {
	if n <= 0 {
		return
	}
	ww, d, s := wt(w), tens(dst), tens(x)
	cols := ww.Cols
	if !c.within("RMSNorm", "dst", d, n*cols) || !c.within("RMSNorm", "x", s, n*cols) {
		return
	}
	push := struct {
		NCols, XOff, DOff, WOff uint32
		Eps                     float32
	}{uint32(cols), uint32(s.off), uint32(d.off), 0, eps}
	c.dispatch("rms_norm", push, [3]uint32{uint32(n), 1, 1}, ww.buf, s.buf, d.buf)
}

// AddBias adds the bias to columns [off, off+len(b)) of n rows (add_bias).
func (c *context) AddBias(dst backend.Tensor, stride, off, n int, b backend.Weight) {
	if n <= 0 {
		return
	}
	bw, d := wt(b), tens(dst)
	if off < 0 || off+bw.Cols > stride {
		c.fail(fmt.Errorf("vulkan: AddBias: bias %q of %d values at column %d of rows of %d", bw.Name, bw.Cols, off, stride))
		return
	}
	if !c.within("AddBias", "dst", d, (n-1)*stride+off+bw.Cols) {
		return
	}
	push := struct{ Len, N, Stride, DOff, BOff uint32 }{uint32(bw.Cols), uint32(n), uint32(stride), uint32(d.off + off), 0}
	c.dispatch("add_bias", push, strideGroups(n*bw.Cols, wgElementwise), bw.buf, d.buf)
}

// QKNorm normalizes the query heads with qNorm and the key heads with
// kNorm (qk_norm, one dispatch per weight given, one workgroup per head
// and row).
func (c *context) QKNorm(qkv backend.Tensor, n int, qNorm, kNorm backend.Weight) {
	a := c.attn()
	if n <= 0 {
		return
	}
	x := tens(qkv)
	stride := a.QDim() + 2*a.KVDim()
	if !c.within("QKNorm", "qkv", x, n*stride) {
		return
	}
	for _, h := range []struct {
		w            backend.Weight
		first, heads int
	}{{qNorm, 0, a.NHead}, {kNorm, a.QDim(), a.NHeadKV}} {
		if h.w == nil {
			continue
		}
		ww := wt(h.w)
		if ww.Cols != a.HeadDim {
			c.fail(fmt.Errorf("vulkan: QKNorm: %q has %d values, the head dimension is %d", ww.Name, ww.Cols, a.HeadDim))
			return
		}
		push := struct {
			HD, Stride, First, XOff, WOff uint32
			Eps                           float32
		}{uint32(a.HeadDim), uint32(stride), uint32(h.first), uint32(x.off), 0, a.RMSEps}
		c.dispatch("qk_norm", push, [3]uint32{uint32(h.heads), uint32(n), 1}, ww.buf, x.buf)
	}
}

// RoPE rotates the query and key heads of n rows at positions pos..pos+n-1
// (rope), with a cos/sin table computed here by the CPU's formula and
// uploaded with the dispatch (see ropeTable).
func (c *context) RoPE(qkv backend.Tensor, n, pos int) {
	a := c.attn()
	if n <= 0 {
		return
	}
	x := tens(qkv)
	stride := a.QDim() + 2*a.KVDim()
	if !c.within("RoPE", "qkv", x, n*stride) {
		return
	}
	half := a.NRot / 2
	if a.RopeFreqs != nil && len(a.RopeFreqs) < half {
		c.fail(fmt.Errorf("vulkan: RoPE: %d rope_freqs factors for %d dimension pairs", len(a.RopeFreqs), half))
		return
	}
	tab := make([]float32, n*half*2)
	ropeTable(tab, n, pos, a)
	raw := make([]byte, 4*len(tab))
	for i, v := range tab {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	up, word := c.upload(raw)
	if up == nil {
		return
	}
	neox := uint32(0)
	if a.RopeNeox {
		neox = 1
	}
	heads := a.NHead + a.NHeadKV
	push := struct{ N, NHeads, HD, Half, Stride, Neox, XOff, CSOff uint32 }{
		uint32(n), uint32(heads), uint32(a.HeadDim), uint32(half), uint32(stride), neox, uint32(x.off), word}
	c.dispatch("rope", push, strideGroups(n*heads*half, wgRoPE), x.buf, up)
}

// KVWrite copies the K and V parts of n rows of qkv into cache rows
// pos..pos+n-1 (kv_write).
func (c *context) KVWrite(k, v, qkv backend.Tensor, n, pos int) {
	a := c.attn()
	if n <= 0 {
		return
	}
	kt, vt, x := tens(k), tens(v), tens(qkv)
	kvd, qd := a.KVDim(), a.QDim()
	if pos < 0 || !c.within("KVWrite", "qkv", x, n*(qd+2*kvd)) ||
		!c.within("KVWrite", "k cache", kt, (pos+n)*kvd) || !c.within("KVWrite", "v cache", vt, (pos+n)*kvd) {
		return
	}
	push := struct{ N, QDim, KVDim, Pos, QKVOff, KOff, VOff uint32 }{
		uint32(n), uint32(qd), uint32(kvd), uint32(pos), uint32(x.off), uint32(kt.off), uint32(vt.off)}
	c.dispatch("kv_write", push, strideGroups(n*kvd, wgElementwise), x.buf, kt.buf, vt.buf)
}

// Attention is causal grouped-query attention over cache positions
// 0..pos+t for row t (attention, one workgroup per head and row).
func (c *context) Attention(dst, qkv, k, v backend.Tensor, n, pos int) {
	a := c.attn()
	if n <= 0 {
		return
	}
	d, x, kt, vt := tens(dst), tens(qkv), tens(k), tens(v)
	hd, kvd, qd := a.HeadDim, a.KVDim(), a.QDim()
	if hd > maxAttnHeadDim {
		c.fail(fmt.Errorf("vulkan: Attention: head dimension %d, the shader holds at most %d", hd, maxAttnHeadDim))
		return
	}
	if pos < 0 || !c.within("Attention", "dst", d, n*qd) || !c.within("Attention", "qkv", x, n*(qd+2*kvd)) ||
		!c.within("Attention", "k cache", kt, (pos+n)*kvd) || !c.within("Attention", "v cache", vt, (pos+n)*kvd) {
		return
	}
	// The CPU's scale: 1 / sqrtf(HeadDim), both steps rounded to float32.
	scale := 1 / float32(math.Sqrt(float64(float32(hd))))
	push := struct {
		HD, Group, QDim, KVDim, Pos uint32
		Scale                       float32
		QKVOff, KOff, VOff, DOff    uint32
	}{uint32(hd), uint32(a.NHead / a.NHeadKV), uint32(qd), uint32(kvd), uint32(pos), scale,
		uint32(x.off), uint32(kt.off), uint32(vt.off), uint32(d.off)}
	c.dispatch("attention", push, [3]uint32{uint32(a.NHead), uint32(n), 1}, x.buf, kt.buf, vt.buf, d.buf)
}

// elementwise records one of add, mul, silu over n values of dst and x.
func (c *context) elementwise(op, shader string, dst, x backend.Tensor, n int) {
	if n <= 0 {
		return
	}
	d, s := tens(dst), tens(x)
	if !c.within(op, "dst", d, n) || !c.within(op, "x", s, n) {
		return
	}
	push := struct{ N, DOff, XOff uint32 }{uint32(n), uint32(d.off), uint32(s.off)}
	c.dispatch(shader, push, strideGroups(n, wgElementwise), d.buf, s.buf)
}

// SiLU sets dst = x * sigmoid(x) (silu).
func (c *context) SiLU(dst, x backend.Tensor, n int) { c.elementwise("SiLU", "silu", dst, x, n) }

// Mul sets dst *= x (mul).
func (c *context) Mul(dst, x backend.Tensor, n int) { c.elementwise("Mul", "mul", dst, x, n) }

// Add sets dst += x (add).
func (c *context) Add(dst, x backend.Tensor, n int) { c.elementwise("Add", "add", dst, x, n) }

// ropeTable fills tab with (cos, sin) pairs, tab[(t*half+i)*2] and +1,
// for rows t < n at positions pos+t and dimension pairs i < NRot/2, from
// backend.RopeCache: the host computes the angles, so a GPU RoPE gives the
// CPU's bits (a device's sin and cos are only driver-accurate).
func ropeTable(tab []float32, n, pos int, a *backend.Attn) {
	half := a.NRot / 2
	cos, sin := make([]float32, half), make([]float32, half)
	for t := range n {
		backend.RopeCache(cos, sin, pos+t, a)
		row := tab[t*half*2 : (t+1)*half*2]
		for i := range half {
			row[2*i], row[2*i+1] = cos[i], sin[i]
		}
	}
}
