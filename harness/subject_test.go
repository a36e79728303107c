package harness

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/internal/builtin"
)

// TestUntracedRunHonoursPrefill: an untraced run splits the tokens as a
// traced one does (engine.Run): the same number of Forward calls, counted
// through Options.Progress (once per layer per call), and the same
// last-position logits bit for bit; a prefill beyond the prompt is an
// error, as in engine.Run.
func TestUntracedRunHonoursPrefill(t *testing.T) {
	m, tokens := loadTinyModel(t)
	for _, prefill := range []int{0, 1, 3, len(tokens)} {
		var calls int
		opts := engine.Options{Threads: 2, AllPositions: true, Prefill: prefill,
			Progress: func(layer, nLayer int) {
				if layer == nLayer-1 {
					calls++
				}
			}}
		tr, err := engine.Run(m, tokens, opts)
		if err != nil {
			t.Fatal(err)
		}
		tracedCalls := calls
		calls = 0
		got, err := untracedRun(m, tokens, opts)
		if err != nil {
			t.Fatalf("prefill %d: %v", prefill, err)
		}
		wantCalls := 1
		if prefill > 0 {
			wantCalls = 1 + len(tokens) - prefill
		}
		if calls != wantCalls || tracedCalls != wantCalls {
			t.Errorf("prefill %d: untraced run made %d Forward calls, traced %d; want %d", prefill, calls, tracedCalls, wantCalls)
		}
		if len(got.Logits.Last) != len(tr.Logits.Last) || len(got.Logits.Last) == 0 {
			t.Fatalf("prefill %d: %d untraced logits, %d traced", prefill, len(got.Logits.Last), len(tr.Logits.Last))
		}
		for i := range got.Logits.Last {
			if math.Float32bits(got.Logits.Last[i]) != math.Float32bits(tr.Logits.Last[i]) {
				t.Fatalf("prefill %d: logit %d untraced %v, traced %v", prefill, i, got.Logits.Last[i], tr.Logits.Last[i])
			}
		}
	}
	if _, err := untracedRun(m, tokens, engine.Options{Threads: 2, Prefill: len(tokens) + 1}); err == nil {
		t.Error("prefill beyond the prompt: no error")
	}
}

// TestUntracedRunReportsWarnings: an untraced run's provenance carries
// the model's unused tensors and warnings (here a prompt past a training
// context shortened to 4 positions, and a tensor marked unused), as a
// traced run's does, and its own start time and duration.
func TestUntracedRunReportsWarnings(t *testing.T) {
	m, tokens := loadTinyModel(t)
	m.Hyper.NCtx, m.Unused = 4, []string{"blk.0.unused.weight"}
	opts := engine.Options{Threads: 2}
	tr, err := engine.Run(m, tokens, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := untracedRun(m, tokens, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Provenance.Warnings) != 2 {
		t.Fatalf("traced run: warnings %q, want the context overflow and the unused tensor", tr.Provenance.Warnings)
	}
	p := got.Provenance
	if !slices.Equal(p.Warnings, tr.Provenance.Warnings) || !slices.Equal(p.UnusedTensors, tr.Provenance.UnusedTensors) {
		t.Errorf("untraced run: warnings %q, unused tensors %q; the traced run has %q, %q",
			p.Warnings, p.UnusedTensors, tr.Provenance.Warnings, tr.Provenance.UnusedTensors)
	}
	if p.Seconds <= 0 || p.StartedAt == "" {
		t.Errorf("untraced run: seconds %g, started_at %q", p.Seconds, p.StartedAt)
	}
}

// loadTinyModel loads the builtin tiny Qwen2 Q4_K_M model (closed when the
// test ends) and returns it with a 7-token prompt ("What is 2+2?").
func loadTinyModel(t *testing.T) (*engine.Model, []int32) {
	t.Helper()
	path, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, []int32{3838, 374, 220, 17, 10, 17, 30}
}

// TestPrefillInProvenance: a prefill run says so in its provenance
// (options.prefill), traced or not, since the decode path gives the batch
// path's bits and nothing else in the evidence would tell the two apart;
// a run of the whole prompt as one batch names no options.
func TestPrefillInProvenance(t *testing.T) {
	m, tokens := loadTinyModel(t)
	for _, prefill := range []int{0, 1, 3} {
		opts := engine.Options{Threads: 1, Prefill: prefill}
		tr, err := engine.Run(m, tokens, opts)
		if err != nil {
			t.Fatal(err)
		}
		un, err := untracedRun(m, tokens, opts)
		if err != nil {
			t.Fatal(err)
		}
		for name, o := range map[string]map[string]string{"traced": tr.Provenance.Options, "untraced": un.Provenance.Options} {
			got, ok := o["prefill"]
			switch {
			case prefill == 0 && len(o) != 0:
				t.Errorf("%s run of one batch: options %v, want none", name, o)
			case prefill > 0 && (!ok || got != strconv.Itoa(prefill)):
				t.Errorf("%s run with prefill %d: options %v, want prefill %d", name, prefill, o, prefill)
			}
		}
	}
}
