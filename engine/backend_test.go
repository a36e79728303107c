package engine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/cpu"
	"github.com/falsify/falsify/trace"
)

// readCounter is the CPU backend with its contexts' host reads counted:
// what a GPU backend would synchronize for.
type readCounter struct{ backend.Backend }

type readCounterContext struct{ backend.Context }

var counterReads, counterOpens int

func (r readCounter) Name() string { return "test-readcounter" }

func (r readCounter) NewContext(cfg backend.ContextConfig) (backend.Context, error) {
	c, err := r.Backend.NewContext(cfg)
	return readCounterContext{c}, err
}

func (r readCounterContext) Read(t backend.Tensor, n int) ([]float32, error) {
	counterReads++
	return r.Context.Read(t, n)
}

func init() {
	backend.Register("test-readcounter", func(cfg backend.Config) (backend.Backend, error) {
		counterOpens++
		b, err := cpu.Open(cfg)
		return readCounter{b}, err
	})
}

// TestBackendReadsOnlyAtCapturePoints: an untraced forward reads one
// tensor back from its backend (the logits), a traced one each capture
// point once plus the logits; two sessions on one model open its backend
// once; and the trace of a backend that wraps the CPU kernels is the CPU's
// trace bit for bit, with its own name in the provenance.
func TestBackendReadsOnlyAtCapturePoints(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	s, err := NewSession(m, Options{Backend: "test-readcounter", Threads: 2}, len(prompt), len(prompt))
	if err != nil {
		t.Fatal(err)
	}
	counterReads = 0
	if err := s.Forward(prompt, nil); err != nil {
		t.Fatal(err)
	}
	if counterReads != 1 {
		t.Errorf("untraced forward read %d tensors back, want 1 (the logits)", counterReads)
	}

	// With last-position logits (the default) the one read of the logits
	// serves the trace and Logits.
	counterReads = 0
	if _, err := Run(m, prompt, Options{Backend: "test-readcounter", Threads: 2, AllPositions: true}); err != nil {
		t.Fatal(err)
	}
	// embed, NumSlots per layer, final_norm, the last position's logits.
	if want := 1 + len(trace.LayerSlots())*m.Hyper.NLayer + 1 + 1; counterReads != want {
		t.Errorf("traced forward (last-position logits) read %d tensors back, want %d", counterReads, want)
	}
	counterReads = 0
	tr, err := Run(m, prompt, Options{Backend: "test-readcounter", Threads: 2, AllPositions: true, AllLogits: true})
	if err != nil {
		t.Fatal(err)
	}
	// embed, NumSlots per layer, final_norm, logits, then the logits for Logits.
	if want := 1 + len(trace.LayerSlots())*m.Hyper.NLayer + 2 + 1; counterReads != want {
		t.Errorf("traced forward (every position's logits) read %d tensors back, want %d", counterReads, want)
	}
	if tr.Provenance.Backend != "test-readcounter" || tr.Provenance.Device == "" {
		t.Errorf("provenance backend %q device %q", tr.Provenance.Backend, tr.Provenance.Device)
	}
	if counterOpens != 1 {
		t.Errorf("backend opened %d times for one model and mode, want once", counterOpens)
	}
	ref, err := Run(m, prompt, Options{Threads: 2, AllPositions: true, AllLogits: true})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Provenance.Backend != DefaultBackend {
		t.Errorf("default run's provenance backend %q, want %q", ref.Provenance.Backend, DefaultBackend)
	}
	tr.Provenance.Backend = ref.Provenance.Backend // the one field that should differ
	if !bytes.Equal(traceBits(t, tr), traceBits(t, ref)) {
		t.Error("the wrapped backend's trace differs from the CPU's")
	}
}

// TestUnavailableBackend: a backend this build does not have is an error
// wrapping ErrBackendUnavailable, from CheckBackend and from a run.
func TestUnavailableBackend(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	if err := CheckBackend(""); err != nil {
		t.Errorf("default backend: %v", err)
	}
	for _, err := range []error{CheckBackend("test-missing"), func() error {
		_, err := Run(m, prompt, Options{Backend: "test-missing"})
		return err
	}()} {
		if !errors.Is(err, ErrBackendUnavailable) {
			t.Errorf("%v: not ErrBackendUnavailable", err)
		}
	}
}
