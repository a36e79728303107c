package backend

import (
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// Config is what a backend is opened for: one model's weights, in one
// matmul mode. The engine opens a backend once per (model, backend name,
// mode) and keeps it until the model is closed, so a GPU uploads each
// weight once however many sessions run on it.
type Config struct {
	Matmul trace.MatmulMode // f32 or quantized (never empty)
	Attn   Attn             // the model's attention geometry (every layer's)
}

// ContextConfig is what a Context is made for: one sequence of up to
// MaxCtx positions, processed MaxBatch tokens per forward call, on Threads
// host worker goroutines.
type ContextConfig struct {
	Threads  int // >= 1
	MaxBatch int // >= 1
	MaxCtx   int // >= MaxBatch
}

// Tensor is a float32 activation buffer a backend owns (host or device
// memory). Rows are contiguous: a (n, width) tensor holds row t at
// [t*width, (t+1)*width).
type Tensor interface {
	Len() int // float32 elements
}

// WeightInfo describes a model weight in its stored ggml type: Rows rows of
// Cols elements (ggml ne[1], ne[0]), Data the raw blocks (a view into the
// model file's mapping, valid while the model is open).
type WeightInfo struct {
	Name   string
	Type   quant.Type
	Rows   int
	Cols   int
	Data   []byte
	Matrix bool // multiplies activations (MatMul); vectors (norms, biases) and the embedding table do not
}

// Weight is a model weight as a backend holds it (a host view, or a
// buffer uploaded once to the device).
type Weight interface {
	Info() WeightInfo
}

// Attn is the geometry of the model's attention layers (Config.Attn). The
// qkv tensor holds per token [Q | K | V]: NHead query heads then NHeadKV key heads then NHeadKV
// value heads, each HeadDim wide.
type Attn struct {
	NHead, NHeadKV, HeadDim int
	NRot                    int     // RoPE dimensions per head (even, <= HeadDim)
	RopeTheta               float32 // RoPE frequency base
	RopeNeox                bool    // pairs (i, i+NRot/2) instead of (2i, 2i+1)
	RMSEps                  float32 // QK-norm epsilon
	// RoPE scaling as llama.cpp reads it (engine.Hyper's fields of the
	// same names): the linear frequency scale, ggml's attention factor
	// (mscale), YaRN's ext_factor (1 for YaRN, else 0) and correction
	// dimensions; 0 scale and factor mean 1.
	RopeFreqScale, RopeAttnFactor, RopeExtFactor float32
	RopeCorrDims                                 [2]float32
	// RopeFreqs are rope_freqs.weight's per-pair frequency factors
	// (NRot/2 of them), nil when the model has none.
	RopeFreqs []float32
}

// QDim is the width of all query heads; KVDim of all key (or value) heads.
func (a Attn) QDim() int  { return a.NHead * a.HeadDim }
func (a Attn) KVDim() int { return a.NHeadKV * a.HeadDim }

// Backend is a backend opened for one model: it holds the weights (on its
// device) and makes a Context per sequence. Weight is called for every
// weight before the first NewContext; Weight and NewContext are not called
// concurrently, but contexts may run concurrently with each other.
type Backend interface {
	// Name is the registry name ("backend" in provenance); Device says
	// what computes (CPU model, GPU name and driver).
	Name() string
	Device() string
	// Weight makes a model weight usable by the operations (for a GPU:
	// uploads it). Errors name the weight and say why (an unsupported
	// type, out of device memory).
	Weight(w WeightInfo) (Weight, error)
	// NewContext allocates the per-sequence state: scratch buffers sized
	// for cfg. Tensors come from the context's Alloc.
	NewContext(cfg ContextConfig) (Context, error)
	// Close releases the weights; the backend's contexts must be closed.
	Close() error
}

// MatMulOut is one product of a MatMuls call: for each token t < n and
// row r of W, Dst[t*Stride + Off + r] = W[r] · x[t], as
// MatMul(Dst, Stride, Off, x, n, W) sets it.
type MatMulOut struct {
	Dst         Tensor
	Stride, Off int
	W           Weight
}

// MultiMatMuler is a Context that computes several products of the same
// activations in one call: the CPU backend quantizes x once per
// activation type rather than once per weight, and splits the rows of
// every weight over one parallel loop rather than one loop each. Every
// output has the bits that one MatMul per weight gives it.
type MultiMatMuler interface {
	MatMuls(x Tensor, n int, outs []MatMulOut)
}

// MatMuls computes outs, every weight against the same n rows of x (all
// weights of one width), with c's MatMuls if it has one, else with one
// MatMul each, in order.
func MatMuls(c Context, x Tensor, n int, outs ...MatMulOut) {
	if m, ok := c.(MultiMatMuler); ok {
		m.MatMuls(x, n, outs)
		return
	}
	for _, o := range outs {
		c.MatMul(o.Dst, o.Stride, o.Off, x, n, o.W)
	}
}

// Context computes the operations of the forward pass on tensors it owns,
// with the weights of its Backend. Shapes: n is the number of tokens
// (rows) of the call, every activation row is contiguous; w (rows, cols) @
// x (cols) -> (rows). The CPU backend gives every output element the same
// bits for every thread count; traces are compared across backends by the
// parity gates, not assumed equal.
type Context interface {
	// Alloc returns a zeroed tensor of n float32 values.
	Alloc(n int) Tensor
	// View returns a tensor sharing t's elements [off, off+n): writes
	// through either are seen by both.
	View(t Tensor, off, n int) Tensor
	// Write copies src into dst from element off on.
	Write(dst Tensor, off int, src []float32)
	// Read returns src's first n values on the host, after every
	// operation queued before it. The slice is valid until the next
	// operation on the context (the CPU returns a view without copying).
	// Its error is the first failure of any operation since the last Read.
	Read(src Tensor, n int) ([]float32, error)
	// Close releases the context's buffers; its tensors are invalid after.
	Close() error

	// Embed writes the dequantized rows of table for tokens to the first
	// len(tokens) rows of dst (ggml_get_rows).
	Embed(dst Tensor, table Weight, tokens []int32)
	// RMSNorm sets, for n rows of w.Cols values,
	// dst = x / sqrt(mean(x^2) + eps) * w (ggml_rms_norm, then ggml_mul).
	RMSNorm(dst, x Tensor, w Weight, n int, eps float32)
	// MatMul sets, for each token t < n and row r of w (rows, cols),
	// dst[t*stride + off + r] = w[r] · x[t*cols : (t+1)*cols], in the
	// backend's matmul mode (Config.Matmul).
	MatMul(dst Tensor, stride, off int, x Tensor, n int, w Weight)
	// AddBias adds b to columns [off, off+len(b)) of n rows of width
	// stride (ggml_add).
	AddBias(dst Tensor, stride, off, n int, b Weight)
	// QKNorm applies RMSNorm with weight qNorm to every query head and
	// with kNorm to every key head of the n rows of qkv, in place
	// (qwen3's attn_q_norm, attn_k_norm); a nil weight leaves its heads
	// as they are.
	QKNorm(qkv Tensor, n int, qNorm, kNorm Weight)
	// RoPE rotates every query and key head of the n rows of qkv in place,
	// row t at position pos+t (ggml_rope_ext, normal or NEOX pairs).
	RoPE(qkv Tensor, n, pos int)
	// KVWrite copies the K and V parts of the n rows of qkv into rows
	// pos..pos+n-1 of one layer's caches k and v (MaxCtx, KVDim).
	KVWrite(k, v, qkv Tensor, n, pos int)
	// Attention writes, for every token t < n and head h, softmax(q k^T /
	// sqrt(HeadDim)) v over cache positions 0..pos+t (causal; grouped
	// query heads share their key/value head) to dst (n, QDim).
	Attention(dst, qkv, k, v Tensor, n, pos int)
	// SiLU sets dst = x * sigmoid(x) for the first n values (ggml_silu).
	SiLU(dst, x Tensor, n int)
	// Mul sets dst *= x for the first n values (the SwiGLU product).
	Mul(dst, x Tensor, n int)
	// Add sets dst += x for the first n values (a residual add).
	Add(dst, x Tensor, n int)
}
