package engine

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// TestDecodeTraceMatchesPrefill: a prompt run as one batch and the same
// prompt run as a prefill followed by one token at a time through the KV
// cache give bit-identical traces, every slot at every position, for every
// fixture model in both matmul modes. Each position is computed by the
// same operations in both paths (row-wise matmul, per-position
// attention over the cached keys), so any difference is a bug in the
// cache or the capture.
func TestDecodeTraceMatchesPrefill(t *testing.T) {
	models := fixture.Glob("models/qwen2-tiny-*.gguf")
	if len(models) == 0 {
		t.Fatal("no fixture models found")
	}
	for _, path := range models {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		for _, mode := range trace.MatmulModes() {
			t.Run(filepath.Base(path)+" "+string(mode), func(t *testing.T) {
				opts := Options{Matmul: mode, Threads: 2, AllPositions: true, AllLogits: true}
				ref, err := Run(m, prompt, opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, prefill := range []int{1, 3, len(prompt) - 1} {
					opts.Prefill = prefill
					got, err := Run(m, prompt, opts)
					if err != nil {
						t.Fatal(err)
					}
					if d := firstBitDifference(ref, got); d != "" {
						t.Errorf("prefill %d then decode: %s", prefill, d)
					}
				}
			})
		}
	}
}

// TestDecodeTraceShape: a decode trace without AllPositions has the shape
// of a one-call trace (no positions kept) and the same bits; a trace
// handed to a Forward call that does not continue it starts afresh.
func TestDecodeTraceShape(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q8_0.gguf")
	ref, err := Run(m, prompt, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Run(m, prompt, Options{Threads: 2, Prefill: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Embed.Positions) != 0 || len(got.Tokens) != len(prompt) {
		t.Errorf("decode trace keeps %d positions, %d tokens", len(got.Embed.Positions), len(got.Tokens))
	}
	// The provenance names the decode path (options.prefill); the
	// numbers are the batch path's.
	if p := got.Provenance.Options["prefill"]; p != "2" || ref.Provenance.Options != nil {
		t.Errorf("provenance options: decode %v, batch %v; want prefill 2 and none", got.Provenance.Options, ref.Provenance.Options)
	}
	got.Provenance.Options = nil
	if !bytes.Equal(traceBits(t, ref), traceBits(t, got)) {
		t.Errorf("decode trace without positions differs from the prefill trace: %s", firstBitDifference(ref, got))
	}
	if _, err := Run(m, prompt, Options{Prefill: len(prompt) + 1}); err == nil {
		t.Error("prefill beyond the prompt: no error")
	}

	// A fresh trace at a later position holds only that call's positions.
	s, err := NewSession(m, Options{Threads: 2, Trace: true, AllPositions: true}, len(prompt), len(prompt))
	if err != nil {
		t.Fatal(err)
	}
	var a, b trace.Trace
	if err := s.Forward(prompt[:4], &a); err != nil {
		t.Fatal(err)
	}
	if err := s.Forward(prompt[4:], &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Tokens) != 4 || len(b.Tokens) != 3 || len(b.Embed.Positions) != 3 {
		t.Errorf("separate traces: %d and %d tokens, %d positions", len(a.Tokens), len(b.Tokens), len(b.Embed.Positions))
	}
}

// firstBitDifference names the first slot and position where two traces
// with every position differ in a bit, or a statistic differs, or "".
func firstBitDifference(a, b *trace.Trace) string {
	if fmt.Sprint(a.Tokens) != fmt.Sprint(b.Tokens) || len(a.Layers) != len(b.Layers) {
		return fmt.Sprintf("tokens %v vs %v, %d vs %d layers", a.Tokens, b.Tokens, len(a.Layers), len(b.Layers))
	}
	cmp := func(where string, x, y *trace.SlotTrace) string {
		if len(x.Positions) != len(y.Positions) {
			return fmt.Sprintf("%s: %d vs %d positions", where, len(x.Positions), len(y.Positions))
		}
		for p := range x.Positions {
			for i := range x.Positions[p] {
				if math.Float32bits(x.Positions[p][i]) != math.Float32bits(y.Positions[p][i]) {
					return fmt.Sprintf("%s position %d index %d: %g vs %g", where, p, i, x.Positions[p][i], y.Positions[p][i])
				}
			}
		}
		if fmt.Sprint(x.AllTokens, x.LastToken, x.Last) != fmt.Sprint(y.AllTokens, y.LastToken, y.Last) {
			return where + ": statistics or last vector differ"
		}
		return ""
	}
	if d := cmp("embed", &a.Embed, &b.Embed); d != "" {
		return d
	}
	for l := range a.Layers {
		for s, name := range trace.LayerSlots() {
			if d := cmp(fmt.Sprintf("layer %d %s", l, name), &a.Layers[l].Slots[s], &b.Layers[l].Slots[s]); d != "" {
				return d
			}
		}
	}
	if d := cmp("final_norm", &a.FinalNorm, &b.FinalNorm); d != "" {
		return d
	}
	return cmp("logits", &a.Logits, &b.Logits)
}

// TestRunUntracedMatchesRun: RunUntraced gives the last logits of Run,
// bit for bit, in one batch and with a prefill continued token by token,
// and a positive time.
func TestRunUntracedMatchesRun(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	for _, prefill := range []int{0, 3} {
		opts := Options{Threads: 2, Prefill: prefill}
		tr, err := Run(m, prompt, opts)
		if err != nil {
			t.Fatal(err)
		}
		logits, d, err := RunUntraced(m, prompt, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 || len(logits) != len(tr.Logits.Last) {
			t.Fatalf("prefill %d: time %v, %d logits, want %d", prefill, d, len(logits), len(tr.Logits.Last))
		}
		for i := range logits {
			if math.Float32bits(logits[i]) != math.Float32bits(tr.Logits.Last[i]) {
				t.Fatalf("prefill %d: logit %d untraced %v, traced %v", prefill, i, logits[i], tr.Logits.Last[i])
			}
		}
	}
	if _, _, err := RunUntraced(m, prompt, Options{Prefill: len(prompt) + 1}); err == nil {
		t.Error("prefill beyond the prompt: no error")
	}
}
