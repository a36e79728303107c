package engine

import "github.com/falsify/falsify/trace"

// capturer records capture points into a trace.Trace. A nil capturer
// records nothing, so the forward pass reads the same with tracing off and
// the numbers cannot depend on it: recording only reads the buffers.
//
// One capturer serves every Forward call of a traced sequence: a call that
// continues the positions the previous call recorded (prefill, then one
// token at a time through the KV cache) appends its positions to the same
// trace, so each position is recorded once, by the call that computed it.
type capturer struct {
	tr           *trace.Trace
	allPositions bool
	n            int // tokens in the current forward call
	start        int // positions the trace held before the current call
	end          int // cache position after the current call: where a continuation starts
	scratch      []float32
}

func newCapturer(tr *trace.Trace, layers int, allPositions bool) *capturer {
	*tr = trace.Trace{Layers: make([]trace.LayerTrace, layers)}
	for i := range tr.Layers {
		tr.Layers[i].Layer = i
	}
	return &capturer{tr: tr, allPositions: allPositions}
}

// begin prepares the capturer for a call over n tokens that follow the
// start positions the trace holds and end at cache position end.
func (c *capturer) begin(start, n, end int) {
	c.start, c.n, c.end = start, n, end
}

// capturerFor returns the capturer of a traced Forward call over tokens
// at cache position s.pos. The call continues the trace of the previous
// traced call when it is the same tr, the cache still ends where that
// call left it, tr holds exactly the cached positions, and the session
// keeps every position (AllPositions: the all_tokens statistics are
// recomputed over them). Any other call starts tr afresh, holding only
// this call's positions.
func (s *Session) capturerFor(tr *trace.Trace, tokens []int32) *capturer {
	c := s.capt
	if c == nil || c.tr != tr || s.pos == 0 || c.end != s.pos || len(tr.Tokens) != s.pos || !s.opts.AllPositions {
		c = newCapturer(tr, s.h.NLayer, s.opts.AllPositions)
		s.capt = c
	}
	c.begin(len(tr.Tokens), len(tokens), s.pos+len(tokens))
	tr.Tokens = append(tr.Tokens, tokens...)
	return c
}

func (c *capturer) embed() *trace.SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.Embed
}

func (c *capturer) slot(layer int, s trace.Slot) *trace.SlotTrace {
	if c == nil {
		return nil
	}
	return c.tr.Layers[layer].Slot(s)
}

func (c *capturer) finalNorm() *trace.SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.FinalNorm
}

func (c *capturer) logits() *trace.SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.Logits
}

// record takes the first n rows of buf (row length width, rows
// contiguous): the statistics of the last row and of every position the
// trace holds, the last row, and every row when asked.
func (c *capturer) record(dst *trace.SlotTrace, buf []float32, width int) {
	if c == nil || dst == nil {
		return
	}
	rows := buf[:c.n*width]
	last := rows[(c.n-1)*width:]
	dst.LastToken = trace.ComputeStats(last)
	dst.Last = append(trace.Vector(nil), last...)
	if !c.allPositions {
		dst.AllTokens = trace.ComputeStats(rows)
		return
	}
	for t := range c.n {
		dst.Positions = append(dst.Positions, append(trace.Vector(nil), rows[t*width:(t+1)*width]...))
	}
	if c.start == 0 {
		dst.AllTokens = trace.ComputeStats(rows)
		return
	}
	// A continuation: the statistics over every position, in position
	// order, are those a single call over all of them would compute.
	c.scratch = c.scratch[:0]
	for _, p := range dst.Positions {
		c.scratch = append(c.scratch, p...)
	}
	dst.AllTokens = trace.ComputeStats(c.scratch)
}
