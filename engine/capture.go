package engine

// capturer records capture points into a Trace. A nil capturer records
// nothing, so the forward pass reads the same with tracing off and the
// numbers cannot depend on it: recording only reads the buffers.
type capturer struct {
	tr           *Trace
	n            int // tokens in this forward call
	allPositions bool
}

func newCapturer(tr *Trace, n, layers int, allPositions bool) *capturer {
	*tr = Trace{Tokens: tr.Tokens, Layers: make([]LayerTrace, layers)}
	for i := range tr.Layers {
		tr.Layers[i].Layer = i
	}
	return &capturer{tr: tr, n: n, allPositions: allPositions}
}

func (c *capturer) embed() *SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.Embed
}

func (c *capturer) slot(layer int, s Slot) *SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.Layers[layer].Slots[s]
}

func (c *capturer) finalNorm() *SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.FinalNorm
}

func (c *capturer) logits() *SlotTrace {
	if c == nil {
		return nil
	}
	return &c.tr.Logits
}

// record computes the statistics of the first n rows of buf (row length
// width, rows contiguous) for both samples and keeps the last row (and all
// rows when asked).
func (c *capturer) record(dst *SlotTrace, buf []float32, width int) {
	if c == nil || dst == nil {
		return
	}
	all := buf[:c.n*width]
	last := all[(c.n-1)*width:]
	dst.AllTokens = ComputeStats(all)
	dst.LastToken = ComputeStats(last)
	dst.Last = append(Vector(nil), last...)
	if c.allPositions {
		dst.Positions = make([]Vector, c.n)
		for t := range c.n {
			dst.Positions[t] = append(Vector(nil), all[t*width:(t+1)*width]...)
		}
	}
}
