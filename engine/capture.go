package engine

import "github.com/falsify/falsify/trace"

// capturer records capture points into a trace.Trace. A nil capturer records
// nothing, so the forward pass reads the same with tracing off and the
// numbers cannot depend on it: recording only reads the buffers.
type capturer struct {
	tr           *trace.Trace
	n            int // tokens in this forward call
	allPositions bool
}

func newCapturer(tr *trace.Trace, n, layers int, allPositions bool) *capturer {
	*tr = trace.Trace{Tokens: tr.Tokens, Layers: make([]trace.LayerTrace, layers)}
	for i := range tr.Layers {
		tr.Layers[i].Layer = i
	}
	return &capturer{tr: tr, n: n, allPositions: allPositions}
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

// record computes the statistics of the first n rows of buf (row length
// width, rows contiguous) for both samples and keeps the last row (and all
// rows when asked).
func (c *capturer) record(dst *trace.SlotTrace, buf []float32, width int) {
	if c == nil || dst == nil {
		return
	}
	all := buf[:c.n*width]
	last := all[(c.n-1)*width:]
	dst.AllTokens = trace.ComputeStats(all)
	dst.LastToken = trace.ComputeStats(last)
	dst.Last = append(trace.Vector(nil), last...)
	if c.allPositions {
		dst.Positions = make([]trace.Vector, c.n)
		for t := range c.n {
			dst.Positions[t] = append(trace.Vector(nil), all[t*width:(t+1)*width]...)
		}
	}
}
