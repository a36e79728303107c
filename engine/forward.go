package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"time"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/trace"
)

// Version identifies the engine's numerics in provenance; bump it when a
// change can alter a single bit of a trace.
const Version = "falsify-engine/0.1.0"

// Options configure a run.
type Options struct {
	Backend string           // registered backend name (backend.Register); default DefaultBackend
	Matmul  trace.MatmulMode // default trace.MatmulQuantized
	Threads int              // worker goroutines; 0 means runtime.NumCPU()
	// Trace turns the capture points on. Off, the forward computes the
	// same numbers and skips recording (and computes logits for the last
	// position only).
	Trace bool
	// AllPositions keeps every position's vector of every slot in the
	// trace (trace.SlotTrace.Positions), not only the last one; for the
	// logits slot, of the positions whose logits were computed (AllLogits).
	AllPositions bool
	// AllLogits computes, in a traced call, the logits of every position
	// (the output matmul, vocabulary x width, for each token) and records
	// them in the logits slot: all_tokens statistics, and every position's
	// vector with AllPositions. Off (the default), a traced call computes
	// the logits of its last position only, as an untraced call does, and
	// the trace says so (trace.Trace.LogitsPositions "last": the logits
	// slot has last_token and last, all_tokens count 0, no positions).
	// The default is off because the output matmul of every position is
	// the largest single cost of tracing (about a quarter of a 64-token
	// prefill's multiply-adds on a 0.5B model, whose vocabulary is 170
	// times its width) and most gates read only the last position's
	// logits; a gate or a comparison over the logits of every position
	// asks for them (harness.NeedsAllLogits, falsify trace --logits all),
	// and one that finds them missing refuses the trace by name. The
	// last position's logits have the same bits either way.
	AllLogits bool
	// Prefill, in Run, is the number of tokens the first Forward call
	// takes; the rest follow one token at a time through the KV cache, as
	// a generating model decodes. 0 (or the prompt length) runs the prompt
	// as one batch. The trace records each position once either way.
	Prefill int
	// NudgeEmbedding moves every embedding value one float32 ULP away from
	// zero before the first layer: a harmless change the size of a
	// different summation order, used to measure the noise floor.
	NudgeEmbedding bool
	// Progress, when set, is called after each transformer layer of each
	// Forward call with the layer index and the layer count, from the
	// goroutine that called Forward (internal/progress prints it). On a
	// GPU backend a layer "done" has been queued, not necessarily run.
	Progress func(layer, nLayer int)
}

func (o Options) withDefaults() Options {
	if o.Backend == "" {
		o.Backend = DefaultBackend
	}
	if o.Matmul == "" {
		o.Matmul = trace.MatmulQuantized
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
	return o
}

// Session holds the run state of one sequence: every activation buffer
// and the KV cache, allocated once in NewSession as tensors of a context
// of the model's backend; Forward never allocates buffers (the trace it
// fills is the only allocation, and only when tracing).
type Session struct {
	m    *Model
	h    Hyper
	opts Options
	be   backend.Backend            // opened once per model (Model.backend)
	w    map[*Tensor]backend.Weight // the model's weights as the backend holds them
	ctx  backend.Context            // this session's

	maxBatch int       // tokens per Forward call
	maxCtx   int       // positions the KV cache holds
	pos      int       // positions already in the cache
	capt     *capturer // the traced sequence's capturer (capturerFor)

	x       backend.Tensor // (maxBatch, NEmbd) residual stream
	xb      backend.Tensor // (maxBatch, NEmbd) normed input of a block
	qkv     backend.Tensor // (maxBatch, QDim+2*KVDim) [Q|K|V] per token
	kqv     backend.Tensor // (maxBatch, QDim) attention result, heads concatenated
	attnOut backend.Tensor // (maxBatch, NEmbd)
	gate    backend.Tensor // (maxBatch, NFF)
	up      backend.Tensor // (maxBatch, NFF)
	act     backend.Tensor // (maxBatch, NFF) silu(gate), then silu(gate)*up
	ffnOut  backend.Tensor // (maxBatch, NEmbd)
	logits  backend.Tensor // (maxBatch, NVocab)

	kCache []backend.Tensor // NLayer x (maxCtx, KVDim)
	vCache []backend.Tensor // NLayer x (maxCtx, KVDim)

	hostLogits []float32 // logits of the last Forward read back: its last row, or every row when tracing with AllLogits
	lastN      int       // tokens of the last Forward
	readErr    error     // first failed capture read of a Forward call
}

// NewSession allocates the run state for sequences of up to maxCtx
// positions processed maxBatch tokens at a time, on the backend of opts
// (opened for the model on first use and kept until Model.Close). A
// backend that is not registered or has no device here gives an error
// wrapping ErrBackendUnavailable.
func NewSession(m *Model, opts Options, maxBatch, maxCtx int) (*Session, error) {
	if maxBatch <= 0 || maxCtx <= 0 || maxBatch > maxCtx {
		return nil, fmt.Errorf("engine: bad session size: batch %d, context %d", maxBatch, maxCtx)
	}
	opts = opts.withDefaults()
	if _, err := trace.ParseMatmulMode(string(opts.Matmul)); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	bb, err := m.backend(opts.Backend, opts.Matmul)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	ctx, err := bb.be.NewContext(backend.ContextConfig{Threads: opts.Threads, MaxBatch: maxBatch, MaxCtx: maxCtx})
	if err != nil {
		return nil, fmt.Errorf("engine: %s backend: %w", bb.be.Name(), err)
	}
	h := m.Hyper
	s := &Session{m: m, h: h, opts: opts, be: bb.be, w: bb.w, ctx: ctx, maxBatch: maxBatch, maxCtx: maxCtx}
	qkvDim := h.QDim() + 2*h.KVDim()
	f := ctx.Alloc
	s.x, s.xb = f(maxBatch*h.NEmbd), f(maxBatch*h.NEmbd)
	s.qkv, s.kqv = f(maxBatch*qkvDim), f(maxBatch*h.QDim())
	s.attnOut, s.ffnOut = f(maxBatch*h.NEmbd), f(maxBatch*h.NEmbd)
	s.gate, s.up, s.act = f(maxBatch*h.NFF), f(maxBatch*h.NFF), f(maxBatch*h.NFF)
	s.logits = f(maxBatch * h.NVocab)
	s.kCache, s.vCache = make([]backend.Tensor, h.NLayer), make([]backend.Tensor, h.NLayer)
	for l := range h.NLayer {
		s.kCache[l], s.vCache[l] = f(maxCtx*h.KVDim()), f(maxCtx*h.KVDim())
	}
	return s, nil
}

// Backend returns the session's backend (for its Name and Device in
// provenance).
func (s *Session) Backend() backend.Backend { return s.be }

// Close releases the session's context (not the backend, which the model
// keeps).
func (s *Session) Close() error { return s.ctx.Close() }

// Pos is the number of positions in the KV cache.
func (s *Session) Pos() int { return s.pos }

// Reset empties the KV cache so the session can run a new sequence.
func (s *Session) Reset() { s.pos = 0 }

// Rewind drops the cache positions from pos on (pos <= Pos()), so a
// benchmark or a sampler can re-run the next step.
func (s *Session) Rewind(pos int) {
	if pos >= 0 && pos <= s.pos {
		s.pos = pos
	}
}

// Logits returns the logits of the last position of the last Forward call,
// n being that call's token count (a host view, valid until the next
// call). It panics if n is not that count.
func (s *Session) Logits(n int) []float32 {
	if n != s.lastN {
		panic(fmt.Sprintf("engine: Logits(%d) after a Forward call of %d tokens", n, s.lastN))
	}
	return s.hostLogits[len(s.hostLogits)-s.h.NVocab:]
}

// ErrContextFull is returned when a Forward call would pass maxCtx.
var ErrContextFull = errors.New("context full")

// Forward runs tokens at the next positions of the sequence. With tracing
// on it records into tr: a call that continues the previous traced call's
// sequence into the same tr appends its positions there (AllPositions on;
// see capturerFor), any other call resets tr; tr may be nil otherwise.
// The trace's logits cover the positions Options.AllLogits says
// (tr.LogitsPositions): every one, or the last of the last call.
// The logits of the last token are available from Logits(len(tokens))
// afterwards: they are the one read back from the backend an untraced
// call makes.
func (s *Session) Forward(tokens []int32, tr *trace.Trace) error {
	n := len(tokens)
	h := &s.h
	switch {
	case n == 0:
		return errors.New("engine: no tokens")
	case n > s.maxBatch:
		return fmt.Errorf("engine: %d tokens exceed the session's batch of %d", n, s.maxBatch)
	case s.pos+n > s.maxCtx:
		return fmt.Errorf("engine: %w: %d positions used, %d more requested, room for %d", ErrContextFull, s.pos, n, s.maxCtx)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= h.NVocab {
			return fmt.Errorf("engine: token %d at index %d is outside the vocabulary (0..%d)", t, i, h.NVocab-1)
		}
	}
	var c *capturer
	if s.opts.Trace {
		if tr == nil {
			return errors.New("engine: tracing on but no trace to fill")
		}
		c = s.capturerFor(tr, tokens)
	}
	s.readErr = nil

	s.ctx.Embed(s.x, s.w[s.m.TokEmbd], tokens)
	if s.opts.NudgeEmbedding {
		if err := s.nudgeEmbedding(n); err != nil {
			return err
		}
	}
	s.capture(c, c.embed(), s.x, h.NEmbd)
	for l := range h.NLayer {
		s.block(l, n, c)
		if s.opts.Progress != nil {
			s.opts.Progress(l, h.NLayer)
		}
	}
	// The final norm runs over every position a trace records; the output
	// matmul over the last position only, unless the logits of every
	// position were asked for (AllLogits). Rows are independent, so the
	// last row has the same bits either way.
	d, nv := h.NEmbd, h.NVocab
	normFirst, first := n-1, n-1
	if c != nil {
		normFirst = 0
		if c.allLogits {
			first = 0
		}
	}
	x, xb := s.x, s.xb
	if normFirst > 0 {
		x, xb = s.ctx.View(x, normFirst*d, d), s.ctx.View(xb, normFirst*d, d)
	}
	s.ctx.RMSNorm(xb, x, s.w[s.m.OutputNorm], n-normFirst, h.RMSEps)
	s.capture(c, c.finalNorm(), s.xb, d)
	xb, logits := s.xb, s.logits
	if first > 0 {
		xb, logits = s.ctx.View(xb, first*d, d), s.ctx.View(logits, first*nv, nv)
	}
	s.ctx.MatMul(logits, nv, 0, xb, n-first, s.w[s.m.Output])
	if c != nil && c.allLogits {
		s.capture(c, c.logits(), s.logits, nv)
	}
	host, err := s.ctx.Read(logits, (n-first)*nv)
	if err == nil && c != nil && !c.allLogits {
		c.recordLast(c.logits(), host[len(host)-nv:])
	}
	c.flush() // the queued statistics of this call's capture points
	if err = errors.Join(s.readErr, err); err != nil {
		return fmt.Errorf("engine: %s backend: %w", s.be.Name(), err)
	}
	s.hostLogits, s.lastN = host, n
	s.pos += n
	return nil
}

// nudgeEmbedding moves every embedding value of the n rows of x one
// float32 ULP away from zero (Options.NudgeEmbedding), on the host.
func (s *Session) nudgeEmbedding(n int) error {
	x, err := s.ctx.Read(s.x, n*s.h.NEmbd)
	if err != nil {
		return fmt.Errorf("engine: %s backend: %w", s.be.Name(), err)
	}
	nudged := make([]float32, len(x))
	for i, v := range x {
		nudged[i] = v
		if v != 0 {
			nudged[i] = math.Nextafter32(v, float32(math.Copysign(math.Inf(1), float64(v))))
		}
	}
	s.ctx.Write(s.x, 0, nudged)
	return nil
}

// capture records the first n rows (width values each) of t at the
// capture point dst, read back from the backend. With tracing off (c nil)
// it reads nothing, so an untraced run moves no activations to the host.
func (s *Session) capture(c *capturer, dst *trace.SlotTrace, t backend.Tensor, width int) {
	if c == nil || dst == nil {
		return
	}
	v, err := s.ctx.Read(t, c.n*width)
	if err != nil {
		s.readErr = cmp.Or(s.readErr, err)
		return
	}
	c.record(dst, v, width)
}

// block runs transformer layer l over n tokens, in the paper's order. The
// s.capture lines are the capture points of capture-points.md.
func (s *Session) block(l, n int, c *capturer) {
	h := &s.h
	d, ff, qkvDim := h.NEmbd, h.NFF, h.QDim()+2*h.KVDim()

	s.attnNorm(l, n)
	s.capture(c, c.slot(l, trace.SlotAttnNorm), s.xb, d)
	s.projectQKV(l, n)
	s.capture(c, c.slot(l, trace.SlotQKV), s.qkv, qkvDim)
	s.attention(l, n)
	s.projectAttnOut(l, n)
	s.capture(c, c.slot(l, trace.SlotAttnOut), s.attnOut, d)
	s.ffnNorm(l, n) // x += attn_out (first residual), then norm
	s.capture(c, c.slot(l, trace.SlotFFNNorm), s.xb, d)
	s.projectGateUp(l, n)
	s.capture(c, c.slot(l, trace.SlotFFNGate), s.gate, ff)
	s.capture(c, c.slot(l, trace.SlotFFNUp), s.up, ff)
	s.siluGate(n)
	s.capture(c, c.slot(l, trace.SlotFFNSiluGate), s.act, ff)
	s.swiglu(n)
	s.capture(c, c.slot(l, trace.SlotFFNSwigluInner), s.act, ff)
	s.projectDown(l, n)
	s.capture(c, c.slot(l, trace.SlotFFNOut), s.ffnOut, d)
	s.addResidual(s.ffnOut, n) // x += ffn_out (second residual)
	s.capture(c, c.slot(l, trace.SlotOutput), s.x, d)
}

// The steps of block, each an operation of the session's backend on
// session tensors, so a test can feed any one of them its golden input.

// attnNorm: xb = RMSNorm(x) * attn_norm.
func (s *Session) attnNorm(l, n int) {
	s.ctx.RMSNorm(s.xb, s.x, s.w[s.m.Layers[l].AttnNorm], n, s.h.RMSEps)
}

// projectQKV: qkv = [Wq xb + bq | Wk xb + bk | Wv xb + bv].
func (s *Session) projectQKV(l, n int) {
	h, w := &s.h, &s.m.Layers[l]
	qkvDim := h.QDim() + 2*h.KVDim()
	backend.MatMuls(s.ctx, s.xb, n,
		backend.MatMulOut{Dst: s.qkv, Stride: qkvDim, Off: 0, W: s.w[w.Wq]},
		backend.MatMulOut{Dst: s.qkv, Stride: qkvDim, Off: h.QDim(), W: s.w[w.Wk]},
		backend.MatMulOut{Dst: s.qkv, Stride: qkvDim, Off: h.QDim() + h.KVDim(), W: s.w[w.Wv]})
	s.addBias(s.qkv, qkvDim, 0, n, w.Bq)
	s.addBias(s.qkv, qkvDim, h.QDim(), n, w.Bk)
	s.addBias(s.qkv, qkvDim, h.QDim()+h.KVDim(), n, w.Bv)
}

// projectAttnOut: attnOut = Wo kqv + bo.
func (s *Session) projectAttnOut(l, n int) {
	w := &s.m.Layers[l]
	s.ctx.MatMul(s.attnOut, s.h.NEmbd, 0, s.kqv, n, s.w[w.Wo])
	s.addBias(s.attnOut, s.h.NEmbd, 0, n, w.Bo)
}

// ffnNorm: x += attnOut; xb = RMSNorm(x) * ffn_norm.
func (s *Session) ffnNorm(l, n int) {
	s.addResidual(s.attnOut, n)
	s.ctx.RMSNorm(s.xb, s.x, s.w[s.m.Layers[l].FFNNorm], n, s.h.RMSEps)
}

// projectGateUp: gate = Wgate xb; up = Wup xb.
func (s *Session) projectGateUp(l, n int) {
	w := &s.m.Layers[l]
	backend.MatMuls(s.ctx, s.xb, n,
		backend.MatMulOut{Dst: s.gate, Stride: s.h.NFF, W: s.w[w.WGate]},
		backend.MatMulOut{Dst: s.up, Stride: s.h.NFF, W: s.w[w.WUp]})
}

// siluGate: act = silu(gate).
func (s *Session) siluGate(n int) { s.ctx.SiLU(s.act, s.gate, n*s.h.NFF) }

// swiglu: act = silu(gate) * up, given act = silu(gate).
func (s *Session) swiglu(n int) { s.ctx.Mul(s.act, s.up, n*s.h.NFF) }

// projectDown: ffnOut = Wdown act.
func (s *Session) projectDown(l, n int) {
	s.ctx.MatMul(s.ffnOut, s.h.NEmbd, 0, s.act, n, s.w[s.m.Layers[l].WDown])
}

// addResidual: x += v.
func (s *Session) addResidual(v backend.Tensor, n int) { s.ctx.Add(s.x, v, n*s.h.NEmbd) }

// addBias adds b, if the model has it, to columns [off, off+len(b)) of
// each of n rows of width stride.
func (s *Session) addBias(out backend.Tensor, stride, off, n int, b *Tensor) {
	if b != nil {
		s.ctx.AddBias(out, stride, off, n, s.w[b])
	}
}

// attention applies QK-norm (qwen3) and RoPE to the n tokens' Q and K,
// appends K and V to layer l's cache, and writes softmax(QK^T/sqrt(d)) V
// for every head and token to kqv; heads of a token see positions up to
// their own (causal).
func (s *Session) attention(l, n int) {
	w := &s.m.Layers[l]
	if w.QNorm != nil || w.KNorm != nil {
		s.ctx.QKNorm(s.qkv, n, s.w[w.QNorm], s.w[w.KNorm]) // s.w[nil] is nil
	}
	s.ctx.RoPE(s.qkv, n, s.pos)
	s.ctx.KVWrite(s.kCache[l], s.vCache[l], s.qkv, n, s.pos)
	s.ctx.Attention(s.kqv, s.qkv, s.kCache[l], s.vCache[l], n, s.pos)
}

// Run traces tokens through m from an empty cache: the one-call form of
// NewSession + Forward that commands and the harness use.
func Run(m *Model, tokens []int32, opts Options) (*trace.Trace, error) {
	opts = opts.withDefaults()
	opts.Trace = true
	if len(tokens) == 0 {
		return nil, errors.New("engine: no tokens")
	}
	s, err := NewSession(m, opts, len(tokens), len(tokens))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tr := &trace.Trace{}
	start := time.Now()
	if err := s.forwardSteps(tokens, tr); err != nil {
		return nil, err
	}
	tr.Provenance = trace.Provenance{
		Model: m.Path, Format: m.Format, Arch: m.Hyper.Arch, Backend: s.be.Name(), Device: s.be.Device(),
		Matmul: opts.Matmul, Threads: opts.Threads, EngineVersion: Version,
		Seconds: time.Since(start).Seconds(), StartedAt: start.UTC().Format(time.RFC3339),
		UnusedTensors: m.Unused, Warnings: m.Warnings(len(tokens)),
		Options: opts.ProvenanceOptions(),
	}
	if m.Path != "" {
		sha, err := m.SHA256()
		if err != nil {
			return nil, err
		}
		tr.Provenance.SHA256 = sha
	}
	return tr, nil
}

// ProvenanceOptions are the run options a trace's provenance names
// beside backend, matmul and threads: prefill for a decode-path run (the
// decode path gives the batch path's bits, so only this says which ran),
// as llama.cpp runs name theirs; nil for a run of the whole prompt as one
// batch.
func (o Options) ProvenanceOptions() map[string]string {
	if o.Prefill <= 0 {
		return nil
	}
	return map[string]string{"prefill": strconv.Itoa(o.Prefill)}
}

// RunUntraced runs tokens through m from an empty cache as Run does (the
// same session shape and Prefill split) with tracing off, and returns
// the last position's logits (NVocab values) and the wall time of the
// forward calls (Run's Provenance.Seconds counts the same span): what
// `falsify trace --time` sets beside the traced run.
func RunUntraced(m *Model, tokens []int32, opts Options) ([]float32, time.Duration, error) {
	opts = opts.withDefaults()
	opts.Trace = false
	if len(tokens) == 0 {
		return nil, 0, errors.New("engine: no tokens")
	}
	s, err := NewSession(m, opts, len(tokens), len(tokens))
	if err != nil {
		return nil, 0, err
	}
	defer s.Close()
	start := time.Now()
	if err := s.forwardSteps(tokens, nil); err != nil {
		return nil, 0, err
	}
	d := time.Since(start)
	return append([]float32(nil), s.Logits(s.lastN)...), d, nil
}

// ReplayLayer runs transformer layer l alone on the given input (one row
// of NEmbd values per prompt position, positions 0..n-1) and returns what
// its capture points record, every position kept. Fed another run's input
// to the layer (teacher forcing), it separates the error a layer adds by
// itself from the error it inherits.
func ReplayLayer(m *Model, l int, input [][]float32, opts Options) (*trace.LayerTrace, error) {
	n := len(input)
	if l < 0 || l >= m.Hyper.NLayer {
		return nil, fmt.Errorf("engine: layer %d out of range (model has %d)", l, m.Hyper.NLayer)
	}
	if n == 0 {
		return nil, errors.New("engine: no input positions")
	}
	opts = opts.withDefaults()
	for t, row := range input {
		if len(row) != m.Hyper.NEmbd {
			return nil, fmt.Errorf("engine: input position %d has %d values, the model's width is %d", t, len(row), m.Hyper.NEmbd)
		}
	}
	s, err := NewSession(m, opts, n, n)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for t, row := range input {
		s.ctx.Write(s.x, t*m.Hyper.NEmbd, row)
	}
	tr := &trace.Trace{}
	c := newCapturer(tr, l+1, true, false, opts.Threads)
	c.begin(0, n, n)
	s.block(l, n, c)
	c.flush()
	if s.readErr != nil {
		return nil, fmt.Errorf("engine: %s backend: %w", s.be.Name(), s.readErr)
	}
	lt := tr.Layers[l]
	return &lt, nil
}
