package backendtest_test

import (
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/backend/backendtest"
	"github.com/falsify/falsify/engine/cpu"
)

// broken is the CPU backend with three planted bugs of the kinds a GPU
// port makes: RoPE one position off, Add writing one element past n, and
// Attention one cache position short.
type broken struct{ backend.Backend }

func (b broken) NewContext(cfg backend.ContextConfig) (backend.Context, error) {
	c, err := b.Backend.NewContext(cfg)
	return brokenCtx{c}, err
}

type brokenCtx struct{ backend.Context }

// RoPE rotates to the next position.
func (c brokenCtx) RoPE(qkv backend.Tensor, n, pos int) { c.Context.RoPE(qkv, n, pos+1) }

// Add also adds element n (outside the operation's range).
func (c brokenCtx) Add(dst, x backend.Tensor, n int) { c.Context.Add(dst, x, n+1) }

// Attention lets each token see one cache position less.
func (c brokenCtx) Attention(dst, qkv, k, v backend.Tensor, n, pos int) {
	c.Context.Attention(dst, qkv, k, v, n, pos-1+boolInt(pos == 0))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const brokenName = "backendtest-broken-cpu"

func init() {
	backend.Register(brokenName, func(cfg backend.Config) (backend.Backend, error) {
		b, err := cpu.Open(cfg)
		if err != nil {
			return nil, err
		}
		return broken{b}, nil
	})
}

// The checker catches each planted bug, in the operation it was planted
// in and only there.
func TestBrokenBackendFails(t *testing.T) {
	rep, err := backendtest.CompareWith(brokenName, "cpu")
	if backendtest.Unavailable(err) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	planted := map[string]bool{"RoPE": true, "Add": true, "Attention": true}
	failed := map[string]int{}
	for _, r := range rep.Results {
		switch {
		case planted[r.Op] && r.OK():
			// Attention at pos 0 is run with pos 0 (no earlier position to
			// drop). Against llama.cpp's graph (tolerance 5e-4) one position
			// of ~300 dropped stays under the tolerance (NMSE ~3e-4): the
			// per-head row, at 1e-7, is the one that must catch it.
			if !(r.Op == "Attention" && (strings.Contains(r.Setup, "pos=0") || r.Variant == "llama.cpp")) {
				t.Errorf("planted bug in %s (%s) %s not caught: NMSE %.3g", r.Op, r.Variant, r.Setup, r.NMSE)
			}
		case !planted[r.Op] && !r.OK():
			t.Errorf("%s %s %s failed without a planted bug: %v", r.Op, r.Type, r.Setup, r.Err)
		case !r.OK():
			failed[r.Op]++
		}
	}
	for op := range planted {
		if failed[op] == 0 {
			t.Errorf("no %s row failed", op)
		}
	}
	for _, r := range rep.Results {
		if r.Op == "Add" && (r.Err == nil || !strings.Contains(r.Err.Error(), "past the n=")) {
			t.Errorf("Add writing past n: error %v, want it named", r.Err)
		}
	}
	t.Logf("failed rows per planted op: %v", failed)
}
