package cpu

import (
	"runtime"
	"sync/atomic"
)

// pool runs the chunks of a parallel loop on threads-1 persistent worker
// goroutines and the calling goroutine, so that a matmul costs no
// goroutine creation and, while a forward runs, no wake-up either: a
// worker that finishes a chunk polls for the next loop for a while
// (poolSpin) before it blocks, and the caller polls for the workers'
// chunks before it blocks. The split is parallelFor's: chunk w of a loop
// is [w*chunk, min((w+1)*chunk, n)) and runs as worker w, so per-worker
// scratch and results do not depend on which goroutine ran what.
//
// A loop is published by writing fn, n and chunk and then bumping seq
// (which also carries the chunk count, so a worker without a chunk reads
// nothing else); left counts the workers' chunks not yet done. Blocking
// uses Dekker's handshake on sequentially consistent atomics: a worker
// sets parked and then re-reads seq, the caller bumps seq and then reads
// parked, so at least one of them sees the other and no wake-up is lost
// (a spare token in a wake channel only costs one more poll); the same
// between the caller's waiting flag and left.
type pool struct {
	threads int
	spin    int // polls before blocking; 0 where the workers could starve the caller

	seq   atomic.Uint64 // loop number << 16 | chunk count
	fn    func(worker, lo, hi int)
	n     int
	chunk int
	left  atomic.Int32

	parked  []atomic.Bool   // worker w+1 is blocking on wake[w]
	wake    []chan struct{} // capacity 1
	waiting atomic.Bool     // the caller is blocking on done
	done    chan struct{}   // capacity 1
	quit    atomic.Bool
}

// poolSpin is how many times an idle worker (or the waiting caller) polls
// before it blocks: tens of microseconds, longer than the serial steps
// between two matmuls of a forward, far shorter than a forward.
const poolSpin = 1 << 15

// newPool starts threads-1 workers; a pool of one thread has none and runs
// every loop on the caller. The workers end with stop.
func newPool(threads int) *pool {
	p := &pool{threads: max(threads, 1), done: make(chan struct{}, 1)}
	if p.threads <= 1 {
		return p
	}
	// Polling workers need a processor each beside the caller's, or they
	// take its time slices.
	if p.threads <= runtime.GOMAXPROCS(0) {
		p.spin = poolSpin
	}
	p.parked = make([]atomic.Bool, p.threads-1)
	p.wake = make([]chan struct{}, p.threads-1)
	for w := range p.wake {
		p.wake[w] = make(chan struct{}, 1)
		go p.work(w + 1)
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
// threads) contiguous chunks and runs fn(worker, lo, hi) on each, chunk 0
// on the caller, and returns when all are done.
func (p *pool) parallelFor(threads, n int, fn func(worker, lo, hi int)) {
	threads = min(threads, p.threads)
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
	p.left.Store(int32(chunks - 1))
	p.seq.Store((p.seq.Load()>>16+1)<<16 | uint64(chunks))
	for w := 1; w < chunks; w++ {
		if p.parked[w-1].Load() {
			select {
			case p.wake[w-1] <- struct{}{}:
			default:
			}
		}
	}
	fn(0, 0, chunk)
	for i := 0; i < p.spin && p.left.Load() != 0; i++ {
	}
	for p.left.Load() != 0 {
		p.waiting.Store(true)
		if p.left.Load() != 0 {
			<-p.done
		}
		p.waiting.Store(false)
	}
	p.fn = nil
}

// work is worker w's loop: wait for a new loop, run its chunk if it has
// one, tell the caller when the last chunk is done.
func (p *pool) work(w int) {
	var last uint64 // seq before the first loop (not read here: the goroutine may start after it)
	for {
		s := p.seq.Load()
		for i := 0; i < p.spin && s == last; i++ {
			s = p.seq.Load()
		}
		if s == last {
			p.parked[w-1].Store(true)
			if p.seq.Load() == last && !p.quit.Load() {
				<-p.wake[w-1]
			}
			p.parked[w-1].Store(false)
			if p.quit.Load() {
				return
			}
			continue
		}
		last = s
		if w >= int(s&0xffff) {
			continue // no chunk for this worker in this loop
		}
		lo := w * p.chunk
		p.fn(w, lo, min(lo+p.chunk, p.n))
		if p.left.Add(-1) == 0 && p.waiting.Load() {
			select {
			case p.done <- struct{}{}:
			default:
			}
		}
	}
}
