package cpu

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// Every loop of the pool covers [0, n) exactly once, in parallelFor's
// chunks (chunk w from worker w), for loops of every size back to back,
// with fewer threads than the pool, and with more threads than
// processors (the workers block instead of polling).
func TestPoolCoversEachIndexOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, runtime.GOMAXPROCS(0) + 2} {
		p := newPool(threads)
		for round := range 300 {
			n := round % 37
			use := 1 + round%(threads+1)
			hits := make([]atomic.Int32, n)
			var bad atomic.Int32
			p.parallelFor(use, n, func(worker, lo, hi int) {
				use := min(use, threads)
				if use > 1 && n > 1 {
					chunk := (n + use - 1) / use
					if lo != worker*chunk || hi != min(lo+chunk, n) {
						bad.Add(1)
					}
				}
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			if bad.Load() != 0 {
				t.Fatalf("threads %d, loop of %d on %d: a chunk ran as another worker", threads, n, use)
			}
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("threads %d, loop of %d on %d: index %d ran %d times", threads, n, use, i, h)
				}
			}
		}
		p.stop()
	}
}

// stop ends the workers, also when they are blocked.
func TestPoolStop(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPool(4)
	p.parallelFor(4, 100, func(_, _, _ int) {})
	time.Sleep(10 * time.Millisecond)
	p.stop()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after stop, %d before the pool", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}
