package engine

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/falsify/falsify/trace"
)

// Version identifies the engine's numerics in provenance; bump it when a
// change can alter a single bit of a trace.
const Version = "falsify-engine/0.1.0"

// Options configure a run.
type Options struct {
	Matmul  trace.MatmulMode // default trace.MatmulQuantized
	Threads int              // worker goroutines; 0 means runtime.NumCPU()
	// Trace turns the capture points on. Off, the forward computes the
	// same numbers and skips recording (and computes logits for the last
	// position only).
	Trace bool
	// AllPositions keeps every position's vector of every slot in the
	// trace (trace.SlotTrace.Positions), not only the last one.
	AllPositions bool
	// Prefill, in Run, is the number of tokens the first Forward call
	// takes; the rest follow one token at a time through the KV cache, as
	// a generating model decodes. 0 (or the prompt length) runs the prompt
	// as one batch. The trace records each position once either way.
	Prefill int
	// NudgeEmbedding moves every embedding value one float32 ULP away from
	// zero before the first layer: a harmless change the size of a
	// different summation order, used to measure the noise floor.
	NudgeEmbedding bool
}

func (o Options) withDefaults() Options {
	if o.Matmul == "" {
		o.Matmul = trace.MatmulQuantized
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
	return o
}

// Session holds the run state of one sequence: every scratch buffer and
// the KV cache, allocated once in NewSession; Forward never allocates
// buffers (the trace it fills is the only allocation, and only when
// tracing).
type Session struct {
	m    *Model
	h    Hyper
	opts Options
	mm   *matmuler

	maxBatch int       // tokens per Forward call
	maxCtx   int       // positions the KV cache holds
	pos      int       // positions already in the cache
	capt     *capturer // the traced sequence's capturer (capturerFor)

	x       []float32 // (maxBatch, NEmbd) residual stream
	xb      []float32 // (maxBatch, NEmbd) normed input of a block
	qkv     []float32 // (maxBatch, QDim+2*KVDim) [Q|K|V] per token
	kqv     []float32 // (maxBatch, QDim) attention result, heads concatenated
	attnOut []float32 // (maxBatch, NEmbd)
	gate    []float32 // (maxBatch, NFF)
	up      []float32 // (maxBatch, NFF)
	act     []float32 // (maxBatch, NFF) silu(gate), then silu(gate)*up
	ffnOut  []float32 // (maxBatch, NEmbd)
	logits  []float32 // (maxBatch, NVocab)

	kCache []float32 // (NLayer, maxCtx, KVDim)
	vCache []float32 // (NLayer, maxCtx, KVDim)
	scores []float32 // (Threads, maxCtx) attention probabilities, one row per worker
	ropeC  []float32 // (maxBatch, NRot/2) cos for each token's position
	ropeS  []float32 // (maxBatch, NRot/2) sin
}

// NewSession allocates the run state for sequences of up to maxCtx
// positions processed maxBatch tokens at a time.
func NewSession(m *Model, opts Options, maxBatch, maxCtx int) (*Session, error) {
	if maxBatch <= 0 || maxCtx <= 0 || maxBatch > maxCtx {
		return nil, fmt.Errorf("engine: bad session size: batch %d, context %d", maxBatch, maxCtx)
	}
	opts = opts.withDefaults()
	if _, err := trace.ParseMatmulMode(string(opts.Matmul)); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	h := m.Hyper
	s := &Session{m: m, h: h, opts: opts, maxBatch: maxBatch, maxCtx: maxCtx}
	qkvDim := h.QDim() + 2*h.KVDim()
	f := func(n int) []float32 { return make([]float32, n) }
	s.x, s.xb = f(maxBatch*h.NEmbd), f(maxBatch*h.NEmbd)
	s.qkv, s.kqv = f(maxBatch*qkvDim), f(maxBatch*h.QDim())
	s.attnOut, s.ffnOut = f(maxBatch*h.NEmbd), f(maxBatch*h.NEmbd)
	s.gate, s.up, s.act = f(maxBatch*h.NFF), f(maxBatch*h.NFF), f(maxBatch*h.NFF)
	s.logits = f(maxBatch * h.NVocab)
	s.kCache, s.vCache = f(h.NLayer*maxCtx*h.KVDim()), f(h.NLayer*maxCtx*h.KVDim())
	s.scores = f(opts.Threads * maxCtx)
	s.ropeC, s.ropeS = f(maxBatch*h.NRot/2), f(maxBatch*h.NRot/2)
	var err error
	if s.mm, err = newMatmuler(m, opts.Matmul, opts.Threads, maxBatch); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return s, nil
}

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

// Logits returns the logits of the last position of the last Forward call
// (a view into the session, valid until the next call).
func (s *Session) Logits(n int) []float32 {
	return s.logits[(n-1)*s.h.NVocab : n*s.h.NVocab]
}

// ErrContextFull is returned when a Forward call would pass maxCtx.
var ErrContextFull = errors.New("context full")

// Forward runs tokens at the next positions of the sequence. With tracing
// on it records into tr: a call that continues the previous traced call's
// sequence into the same tr appends its positions there (AllPositions on;
// see capturerFor), any other call resets tr; tr may be nil otherwise.
// The logits of the last token are available from Logits(len(tokens))
// afterwards.
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

	if err := s.embed(tokens); err != nil {
		return err
	}
	if s.opts.NudgeEmbedding {
		for i, v := range s.x[:n*h.NEmbd] {
			if v != 0 {
				s.x[i] = math.Nextafter32(v, float32(math.Copysign(math.Inf(1), float64(v))))
			}
		}
	}
	c.record(c.embed(), s.x, h.NEmbd)
	for l := range h.NLayer {
		s.block(l, n, c)
	}
	// Without tracing only the last position's logits are needed.
	first := n - 1
	if c != nil {
		first = 0
	}
	d := h.NEmbd
	s.normRows(s.xb[first*d:], s.x[first*d:], s.m.OutputNorm, n-first)
	c.record(c.finalNorm(), s.xb, d)
	s.mm.matmul(s.logits[first*h.NVocab:], h.NVocab, 0, s.xb[first*d:], n-first, s.m.Output)
	c.record(c.logits(), s.logits, h.NVocab)
	s.pos += n
	return nil
}

// embed copies each token's embedding row, dequantized, into x (ggml
// get_rows).
func (s *Session) embed(tokens []int32) error {
	e := s.m.TokEmbd
	rb := e.rowBytes()
	for t, tok := range tokens {
		row := e.Data[int(tok)*rb : (int(tok)+1)*rb]
		if err := dequantizeRow(e.Type, s.x[t*s.h.NEmbd:(t+1)*s.h.NEmbd], row); err != nil {
			return fmt.Errorf("engine: embedding of token %d: %w", tok, err)
		}
	}
	return nil
}

// block runs transformer layer l over n tokens, in the paper's order. The
// c.record lines are the capture points of capture-points.md.
func (s *Session) block(l, n int, c *capturer) {
	h := &s.h
	d, ff, qkvDim := h.NEmbd, h.NFF, h.QDim()+2*h.KVDim()

	s.attnNorm(l, n)
	c.record(c.slot(l, trace.SlotAttnNorm), s.xb, d)
	s.projectQKV(l, n)
	c.record(c.slot(l, trace.SlotQKV), s.qkv, qkvDim)
	s.attention(l, n)
	s.projectAttnOut(l, n)
	c.record(c.slot(l, trace.SlotAttnOut), s.attnOut, d)
	s.ffnNorm(l, n)
	c.record(c.slot(l, trace.SlotFFNNorm), s.xb, d)
	s.projectGateUp(l, n)
	c.record(c.slot(l, trace.SlotFFNGate), s.gate, ff)
	c.record(c.slot(l, trace.SlotFFNUp), s.up, ff)
	s.siluGate(n)
	c.record(c.slot(l, trace.SlotFFNSiluGate), s.act, ff)
	s.swiglu(n)
	c.record(c.slot(l, trace.SlotFFNSwigluInner), s.act, ff)
	s.projectDown(l, n)
	c.record(c.slot(l, trace.SlotFFNOut), s.ffnOut, d)
	s.addResidual(s.ffnOut, n)
	c.record(c.slot(l, trace.SlotOutput), s.x, d)
}

// The steps of block, each reading and writing session buffers, so a test
// can feed any one of them its golden input.

// attnNorm: xb = RMSNorm(x) * attn_norm.
func (s *Session) attnNorm(l, n int) {
	s.normRows(s.xb, s.x, s.m.Layers[l].AttnNorm, n)
}

// projectQKV: qkv = [Wq xb + bq | Wk xb + bk | Wv xb + bv].
func (s *Session) projectQKV(l, n int) {
	h, w := &s.h, &s.m.Layers[l]
	qkvDim := h.QDim() + 2*h.KVDim()
	s.mm.matmul(s.qkv, qkvDim, 0, s.xb, n, w.Wq)
	s.mm.matmul(s.qkv, qkvDim, h.QDim(), s.xb, n, w.Wk)
	s.mm.matmul(s.qkv, qkvDim, h.QDim()+h.KVDim(), s.xb, n, w.Wv)
	addBias(s.qkv, qkvDim, 0, n, w.Bq)
	addBias(s.qkv, qkvDim, h.QDim(), n, w.Bk)
	addBias(s.qkv, qkvDim, h.QDim()+h.KVDim(), n, w.Bv)
}

// projectAttnOut: attnOut = Wo kqv + bo.
func (s *Session) projectAttnOut(l, n int) {
	w := &s.m.Layers[l]
	s.mm.matmul(s.attnOut, s.h.NEmbd, 0, s.kqv, n, w.Wo)
	addBias(s.attnOut, s.h.NEmbd, 0, n, w.Bo)
}

// ffnNorm: x += attnOut; xb = RMSNorm(x) * ffn_norm.
func (s *Session) ffnNorm(l, n int) {
	s.addResidual(s.attnOut, n)
	s.normRows(s.xb, s.x, s.m.Layers[l].FFNNorm, n)
}

// projectGateUp: gate = Wgate xb; up = Wup xb.
func (s *Session) projectGateUp(l, n int) {
	w := &s.m.Layers[l]
	s.mm.matmul(s.gate, s.h.NFF, 0, s.xb, n, w.WGate)
	s.mm.matmul(s.up, s.h.NFF, 0, s.xb, n, w.WUp)
}

// siluGate: act = silu(gate).
func (s *Session) siluGate(n int) {
	for i, g := range s.gate[:n*s.h.NFF] {
		s.act[i] = silu(g)
	}
}

// swiglu: act = silu(gate) * up, given act = silu(gate).
func (s *Session) swiglu(n int) {
	for i, u := range s.up[:n*s.h.NFF] {
		s.act[i] *= u
	}
}

// projectDown: ffnOut = Wdown act.
func (s *Session) projectDown(l, n int) {
	s.mm.matmul(s.ffnOut, s.h.NEmbd, 0, s.act, n, s.m.Layers[l].WDown)
}

// addResidual: x += v.
func (s *Session) addResidual(v []float32, n int) {
	for i := range s.x[:n*s.h.NEmbd] {
		s.x[i] += v[i]
	}
}

// normRows applies RMSNorm with weight w to n rows of width NEmbd.
func (s *Session) normRows(out, x []float32, w *Tensor, n int) {
	d := s.h.NEmbd
	wf := f32View(w.Data)
	for t := range n {
		rmsNorm(out[t*d:(t+1)*d], x[t*d:(t+1)*d], wf, s.h.RMSEps)
	}
}

// addBias adds b to columns [off, off+len(b)) of each of n rows of stride
// width (ggml_add).
func addBias(out []float32, stride, off, n int, b *Tensor) {
	if b == nil {
		return
	}
	bias := f32View(b.Data)
	for t := range n {
		row := out[t*stride+off : t*stride+off+len(bias)]
		for i, v := range bias {
			row[i] += v
		}
	}
}

// attention applies QK-norm (qwen3) and RoPE to the n tokens' Q and K,
// appends K and V to the cache, and writes softmax(QK^T/sqrt(d)) V for
// every head and token to kqv. Heads of a token see positions up to their
// own (causal). Work is split by (token, head), so the result does not
// depend on the thread count.
func (s *Session) attention(l, n int) {
	h := &s.h
	w := &s.m.Layers[l]
	hd, kvd, qd := h.HeadDim, h.KVDim(), h.QDim()
	qkvDim := qd + 2*kvd
	half := h.NRot / 2
	for t := range n {
		ropeCacheScaled(s.ropeC[t*half:(t+1)*half], s.ropeS[t*half:(t+1)*half], s.pos+t, h, s.m.RopeFreqs)
	}
	cacheBase := l * s.maxCtx * kvd
	for t := range n {
		row := s.qkv[t*qkvDim : (t+1)*qkvDim]
		cos, sin := s.ropeC[t*half:(t+1)*half], s.ropeS[t*half:(t+1)*half]
		for hh := range h.NHead {
			q := row[hh*hd : (hh+1)*hd]
			if w.QNorm != nil {
				rmsNorm(q, q, f32View(w.QNorm.Data), h.RMSEps)
			}
			rope(q, cos, sin, h.NRot, h.Rope)
		}
		for g := range h.NHeadKV {
			k := row[qd+g*hd : qd+(g+1)*hd]
			if w.KNorm != nil {
				rmsNorm(k, k, f32View(w.KNorm.Data), h.RMSEps)
			}
			rope(k, cos, sin, h.NRot, h.Rope)
		}
		at := cacheBase + (s.pos+t)*kvd
		copy(s.kCache[at:at+kvd], row[qd:qd+kvd])
		copy(s.vCache[at:at+kvd], row[qd+kvd:qd+2*kvd])
	}
	scale := 1 / sqrtf(float32(hd))
	group := h.NHead / h.NHeadKV
	kc := s.kCache[cacheBase : cacheBase+s.maxCtx*kvd]
	vc := s.vCache[cacheBase : cacheBase+s.maxCtx*kvd]
	parallelFor(s.opts.Threads, n*h.NHead, func(worker, lo, hi int) {
		for job := lo; job < hi; job++ {
			t, hh := job/h.NHead, job%h.NHead
			g := hh / group
			q := s.qkv[t*qkvDim+hh*hd : t*qkvDim+(hh+1)*hd]
			visible := s.pos + t + 1
			p := s.scores[worker*s.maxCtx : worker*s.maxCtx+visible]
			for j := range visible {
				p[j] = dotF32(q, kc[j*kvd+g*hd:j*kvd+(g+1)*hd])
			}
			softmaxScaled(p, scale)
			out := s.kqv[t*qd+hh*hd : t*qd+(hh+1)*hd]
			clear(out)
			for j, pj := range p {
				v := vc[j*kvd+g*hd : j*kvd+(g+1)*hd]
				for i := range out {
					out[i] += float32(pj * v[i]) // rounded product: no FMA on arm64
				}
			}
		}
	})
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
	tr := &trace.Trace{}
	start := time.Now()
	if err := s.forwardSteps(tokens, tr); err != nil {
		return nil, err
	}
	tr.Provenance = trace.Provenance{
		Model: m.Path, Format: m.Format, Arch: m.Hyper.Arch, Backend: "cpu",
		Matmul: opts.Matmul, Threads: opts.Threads, EngineVersion: Version,
		Seconds: time.Since(start).Seconds(), StartedAt: start.UTC().Format(time.RFC3339),
		UnusedTensors: m.Unused, Warnings: m.Warnings(len(tokens)),
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
	s, err := NewSession(m, opts, n, n)
	if err != nil {
		return nil, err
	}
	for t, row := range input {
		if len(row) != m.Hyper.NEmbd {
			return nil, fmt.Errorf("engine: input position %d has %d values, the model's width is %d", t, len(row), m.Hyper.NEmbd)
		}
		copy(s.x[t*m.Hyper.NEmbd:], row)
	}
	tr := &trace.Trace{}
	c := newCapturer(tr, l+1, true)
	c.begin(0, n, n)
	s.block(l, n, c)
	lt := tr.Layers[l]
	return &lt, nil
}
