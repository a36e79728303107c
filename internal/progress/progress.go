// Package progress prints how far a long forward pass has got: on a 7B
// model one traced pass takes seconds to minutes, and a user watching a CI
// log must see what runs, how far and how long. It is the engine's
// Options.Progress hook turned into throttled log lines.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Layers returns an engine Options.Progress function that writes
// "LABEL: layer L/N, Ts" to w at most once per every (and never for a
// pass that ends before the first interval), so short runs stay quiet.
// A nil w gives nil (no hook).
func Layers(w io.Writer, label string, every time.Duration) func(layer, nLayer int) {
	if w == nil {
		return nil
	}
	var mu sync.Mutex
	start := time.Now()
	last := start
	return func(layer, nLayer int) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if now.Sub(last) < every {
			return
		}
		last = now
		fmt.Fprintf(w, "%s: layer %d/%d, %.0fs\n", label, layer+1, nLayer, now.Sub(start).Seconds())
	}
}
