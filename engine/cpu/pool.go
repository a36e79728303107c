package cpu

import "sync/atomic"

// pool runs the chunks of a parallel loop on threads-1 persistent worker
// goroutines and the calling goroutine, so that a matmul costs no
// goroutine creation. The split is parallelFor's: chunk w of a loop is
// [w*chunk, min((w+1)*chunk, n)) and is passed to fn as worker w, so
// per-worker scratch and results do not depend on which goroutine ran
// which chunk. Chunks are claimed, in order, by whoever comes first: the
// caller takes chunk 0 and then any chunk no worker has started, so a
// worker that the operating system has not scheduled (a busy machine)
// delays nothing; the caller then waits only for chunks in progress.
//
// A loop is published by writing fn, n and chunk and then storing claim =
// loop number << 32 | chunk count << 16 | 0 (the next chunk to take); a
// chunk is taken by a
// compare-and-swap of claim, which fails for a goroutine still looking at
// an older loop, so fn, n and chunk are read only for a chunk taken in
// the current loop (which cannot end before that chunk is done). left
// counts the chunks not yet done. Idle workers block at once: Dekker's
// handshake on sequentially consistent atomics (a worker sets parked and
// then re-reads claim, the caller stores claim and then reads parked)
// guarantees that at least one of them sees the other, so no wake-up is
// lost (a spare token in a wake channel costs one more look at claim);
// the same between the caller's waiting flag and left.
//
// Workers do not poll for the next loop before blocking: on this 2-core
// machine shared with other jobs, polling (pure, or yielding the thread
// every 64 polls, for 4096 to 65536 polls) made a 2-thread decode step of
// the Qwen2-0.5B shape about 2x slower than blocking at once (medians of
// 5 interleaved rounds: 123-139 ms polling, 63 ms blocking; 116 ms for
// goroutines per loop), as a polling thread takes the time slices that
// the thread with work needs.
type pool struct {
	threads int

	claim atomic.Uint64 // loop number << 32 | chunk count << 16 | next chunk
	fn    func(worker, lo, hi int)
	n     int
	chunk int
	left  atomic.Int32 // chunks of the current loop not yet done

	parked  []atomic.Bool   // worker w+1 is blocking on wake[w]
	wake    []chan struct{} // capacity 1
	waiting atomic.Bool     // the caller is blocking on done
	done    chan struct{}   // capacity 1
	quit    atomic.Bool
}

// newPool starts threads-1 workers; a pool of one thread has none and runs
// every loop on the caller. The workers end with stop.
func newPool(threads int) *pool {
	p := &pool{threads: max(threads, 1), done: make(chan struct{}, 1)}
	if p.threads <= 1 {
		return p
	}
	p.parked = make([]atomic.Bool, p.threads-1)
	p.wake = make([]chan struct{}, p.threads-1)
	for w := range p.wake {
		p.wake[w] = make(chan struct{}, 1)
		go p.work(w)
	}
	return p
}

// stop ends the workers (after the loop in progress, if any).
func (p *pool) stop() {
	if p.quit.Swap(true) {
		return
	}
	for _, c := range p.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// parallelFor splits [0, n) into at most threads (and at most the pool's
// threads) contiguous chunks and runs fn(worker, lo, hi) on each, worker
// being the chunk's index, and returns when all are done.
func (p *pool) parallelFor(threads, n int, fn func(worker, lo, hi int)) {
	threads = min(threads, p.threads, 1<<15)
	if threads <= 1 || n <= 1 {
		fn(0, 0, n)
		return
	}
	chunk := (n + threads - 1) / threads
	chunks := (n + chunk - 1) / chunk
	if chunks <= 1 {
		fn(0, 0, n)
		return
	}
	p.fn, p.n, p.chunk = fn, n, chunk
	p.left.Store(int32(chunks))
	loop := p.claim.Load()>>32 + 1
	p.claim.Store(loop<<32 | uint64(chunks)<<16)
	for w := range chunks - 1 {
		if p.parked[w].Load() {
			select {
			case p.wake[w] <- struct{}{}:
			default:
			}
		}
	}
	p.runChunks(loop)
	for p.left.Load() != 0 {
		p.waiting.Store(true)
		if p.left.Load() != 0 {
			<-p.done
		}
		p.waiting.Store(false)
	}
	p.fn = nil
}

// runChunks takes and runs chunks of loop until there are none left (or
// the pool has moved on to a later loop), and tells a waiting caller when
// the last chunk is done.
func (p *pool) runChunks(loop uint64) {
	for {
		c := p.claim.Load()
		if c>>32 != loop {
			return
		}
		i, chunks := int(c&0xffff), int(c>>16&0xffff)
		if i >= chunks {
			return
		}
		if !p.claim.CompareAndSwap(c, c+1) {
			continue
		}
		lo := i * p.chunk
		p.fn(i, lo, min(lo+p.chunk, p.n))
		if p.left.Add(-1) == 0 && p.waiting.Load() {
			select {
			case p.done <- struct{}{}:
			default:
			}
		}
	}
}

// work is worker w's loop: wait for a new loop, help run its chunks.
func (p *pool) work(w int) {
	var last uint64 // loop before the first (not read here: the goroutine may start after it)
	for {
		loop := p.claim.Load() >> 32
		if loop == last {
			p.parked[w].Store(true)
			if p.claim.Load()>>32 == last && !p.quit.Load() {
				<-p.wake[w]
			}
			p.parked[w].Store(false)
			if p.quit.Load() {
				return
			}
			continue
		}
		last = loop
		p.runChunks(loop)
	}
}
