package engine

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/falsify/falsify/trace"
)

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
	allLogits    bool // the logits of every position (Options.AllLogits), else the last one's
	n            int  // tokens in the current forward call
	start        int  // positions the trace held before the current call
	end          int  // cache position after the current call: where a continuation starts

	// The statistics are not computed where a slot is recorded but queued
	// (jobs, over copies the capturer owns) and computed by flush, the
	// jobs spread over threads goroutines. Each job is one ComputeStats
	// call over the same values in the same order as before, so the bits
	// do not depend on the thread count; only independent vectors run at
	// the same time. flush runs when pending values pass flushValues and
	// at the end of every Forward call, between the forward's own
	// parallel loops, so the session never uses more than its threads.
	// flush takes the jobs eight at a time (trace.ComputeStatsMany: eight
	// vectors' summation chains side by side with AVX-512, two without;
	// a single chain is bound by the latency of its additions), which
	// is why one thread queues them too: the cost is a copy of the rows.
	threads int
	jobs    []statsJob
	pending int         // values the queued jobs cover
	owned   [][]float32 // copies of rows the queued jobs read, reused after each flush
	nOwned  int
}

// statsJob is one queued ComputeStats: dst = ComputeStats(v).
type statsJob struct {
	dst *trace.Stats
	v   []float32
}

// flushValues bounds the values the queued statistics cover (2 Mi
// values, 8 MiB of copies: about one layer of a 0.5B model's 64-token
// prefill) so the copies are read back while still in cache and a long
// prefill does not hold every slot's rows until the end of the call.
const flushValues = 2 << 20

// newCapturer resets tr for a traced sequence of a model of the given
// layer count; the trace says which positions its logits will cover.
func newCapturer(tr *trace.Trace, layers int, allPositions, allLogits bool, threads int) *capturer {
	*tr = trace.Trace{Layers: make([]trace.LayerTrace, layers), LogitsPositions: trace.PositionsLast}
	if allLogits {
		tr.LogitsPositions = trace.PositionsAll
	}
	for i := range tr.Layers {
		tr.Layers[i].Layer = i
	}
	return &capturer{tr: tr, allPositions: allPositions, allLogits: allLogits, threads: max(threads, 1)}
}

// begin prepares the capturer for a call over n tokens that follow the
// start positions the trace holds and end at cache position end. Jobs an
// abandoned call left queued are dropped.
func (c *capturer) begin(start, n, end int) {
	c.start, c.n, c.end = start, n, end
	c.dropJobs()
}

func (c *capturer) dropJobs() {
	clear(c.jobs) // let the trace's vectors go
	c.jobs, c.pending, c.nOwned = c.jobs[:0], 0, 0
}

// own returns a copy of v the capturer keeps until the next flush.
func (c *capturer) own(v []float32) []float32 {
	if c.nOwned == len(c.owned) {
		c.owned = append(c.owned, nil)
	}
	b := append(c.owned[c.nOwned][:0], v...)
	c.owned[c.nOwned] = b
	c.nOwned++
	return b
}

// stats queues dst = ComputeStats(v); v must not change until flush.
func (c *capturer) stats(dst *trace.Stats, v []float32) {
	c.jobs = append(c.jobs, statsJob{dst, v})
	c.pending += len(v)
}

// flush computes the queued statistics, the largest first so the threads
// finish together, statsGroup jobs of similar length at a time
// (neighbours in that order), each group claimed by one goroutine.
func (c *capturer) flush() {
	if c == nil || len(c.jobs) == 0 {
		return
	}
	slices.SortStableFunc(c.jobs, func(a, b statsJob) int { return len(b.v) - len(a.v) })
	var next atomic.Int64
	groups := (len(c.jobs) + statsGroup - 1) / statsGroup
	run := func() {
		var vs [statsGroup][]float32
		var st [statsGroup]trace.Stats
		for {
			g := int(next.Add(1) - 1)
			if g >= groups {
				return
			}
			jobs := c.jobs[g*statsGroup : min((g+1)*statsGroup, len(c.jobs))]
			for k, j := range jobs {
				vs[k] = j.v
			}
			trace.ComputeStatsMany(st[:len(jobs)], vs[:len(jobs)])
			for k, j := range jobs {
				*j.dst = st[k]
			}
		}
	}
	if workers := min(c.threads, groups); workers > 1 {
		var wg sync.WaitGroup
		for range workers - 1 {
			wg.Go(run)
		}
		run()
		wg.Wait()
	} else {
		run()
	}
	c.dropJobs()
}

// statsGroup is how many queued statistics one ComputeStatsMany call
// takes: eight vectors' summation chains run side by side with AVX-512
// (two at a time without it, within the group).
const statsGroup = 8

// capturerFor returns the capturer of a traced Forward call over tokens
// at cache position s.pos. The call continues the trace of the previous
// traced call when it is the same tr, the cache still ends where that
// call left it, tr holds exactly the cached positions, and the session
// keeps every position (AllPositions: the all_tokens statistics are
// recomputed over them). Any other call starts tr afresh, holding only
// this call's positions. Without AllLogits the logits slot of a
// continued trace holds the last call's last position, as a single call
// over every position would.
func (s *Session) capturerFor(tr *trace.Trace, tokens []int32) *capturer {
	c := s.capt
	if c == nil || c.tr != tr || s.pos == 0 || c.end != s.pos || len(tr.Tokens) != s.pos || !s.opts.AllPositions {
		old := c
		c = newCapturer(tr, s.h.NLayer, s.opts.AllPositions, s.opts.AllLogits, s.opts.Threads)
		if old != nil {
			c.owned = old.owned // the copies' buffers serve the next call
		}
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
// trace holds, the last row, and every row when asked. The statistics are
// queued (see flush); buf may change as soon as record returns.
func (c *capturer) record(dst *trace.SlotTrace, buf []float32, width int) {
	if c == nil || dst == nil {
		return
	}
	rows := buf[:c.n*width]
	if !c.allPositions {
		dst.Last = append(trace.Vector(nil), rows[(c.n-1)*width:]...)
		c.stats(&dst.AllTokens, c.own(rows))
	} else if c.start == 0 {
		// One copy of the rows serves the positions, the last vector and
		// the statistics; each position is capped so an append cannot
		// reach the next.
		all := append(trace.Vector(nil), rows...)
		for t := range c.n {
			dst.Positions = append(dst.Positions, all[t*width:(t+1)*width:(t+1)*width])
		}
		dst.Last = dst.Positions[c.n-1]
		c.stats(&dst.AllTokens, all)
	} else {
		// A continuation: the statistics over every position, in position
		// order, are those a single call over all of them would compute.
		for t := range c.n {
			dst.Positions = append(dst.Positions, append(trace.Vector(nil), rows[t*width:(t+1)*width]...))
		}
		v := c.own(nil)
		for _, p := range dst.Positions {
			v = append(v, p...)
		}
		c.owned[c.nOwned-1] = v
		c.stats(&dst.AllTokens, v)
		dst.Last = dst.Positions[len(dst.Positions)-1]
	}
	c.stats(&dst.LastToken, dst.Last)
	if c.pending >= flushValues {
		c.flush()
	}
}

// recordLast records the logits of the call's last position only (row:
// NVocab values, copied): the last vector and its statistics, no
// all_tokens statistics (count 0) and no positions, replacing what an
// earlier call of a continued trace recorded. The trace says so
// (LogitsPositions "last"), so a reader does not take the slot for one
// that recorded nothing.
func (c *capturer) recordLast(dst *trace.SlotTrace, row []float32) {
	if c == nil || dst == nil {
		return
	}
	dst.Last = append(trace.Vector(nil), row...)
	dst.AllTokens, dst.Positions = trace.Stats{}, nil
	c.stats(&dst.LastToken, dst.Last)
}
