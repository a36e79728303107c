package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/builtin"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// slotTraces returns every slot of tr with its name, in trace order.
func slotTraces(tr *trace.Trace) map[string]*trace.SlotTrace {
	out := map[string]*trace.SlotTrace{"embed": &tr.Embed, "final_norm": &tr.FinalNorm, "logits": &tr.Logits}
	for i := range tr.Layers {
		for _, s := range trace.LayerSlots() {
			out[fmt.Sprintf("layer %d %s", i, s)] = tr.Layers[i].Slot(s)
		}
	}
	return out
}

func statsBits(t *testing.T, s trace.Stats) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTraceStatsAreSerialStats: the statistics a traced forward records
// (computed off the capture point, several at a time; capturer.flush) are
// the bits of one serial trace.ComputeStats over the recorded vectors: the
// last position's over Last, all tokens' over the positions in order. On
// every fixture model in testdata/ and every builtin model, for 1, 2 and 3
// threads, one prefill and a prefill continued token by token, with and
// without AllPositions (whose all-token statistics must equal the
// AllPositions trace's).
func TestTraceStatsAreSerialStats(t *testing.T) {
	var paths []string
	for _, p := range fixture.Glob("models/*.gguf") {
		if strings.HasPrefix(p, "testdata") || strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
			paths = append(paths, p)
		}
	}
	for _, n := range builtin.Names() {
		if !strings.HasSuffix(n, ".gguf") {
			continue
		}
		p, err := builtin.Path(n)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if len(paths) < 3 {
		t.Fatalf("found %d models (%v), want the testdata fixtures and the builtins", len(paths), paths)
	}
	for _, path := range paths {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		var ref []byte
		for _, threads := range []int{1, 2, 3} {
			all, err := Run(m, prompt, Options{Threads: threads, AllPositions: true, AllLogits: true})
			if err != nil {
				t.Fatal(err)
			}
			lastOnly, err := Run(m, prompt, Options{Threads: threads, AllLogits: true})
			if err != nil {
				t.Fatal(err)
			}
			// The same prompt as a prefill of 3 tokens, then one at a time.
			s, err := NewSession(m, Options{Threads: threads, Trace: true, AllPositions: true, AllLogits: true}, 3, len(prompt))
			if err != nil {
				t.Fatal(err)
			}
			cont := &trace.Trace{}
			for lo := 0; lo < len(prompt); {
				hi := min(lo+3, len(prompt))
				if lo > 0 {
					hi = lo + 1
				}
				if err := s.Forward(prompt[lo:hi], cont); err != nil {
					t.Fatal(err)
				}
				lo = hi
			}
			s.Close()
			for _, tr := range []*trace.Trace{all, cont} {
				for slot, st := range slotTraces(tr) {
					var flat []float32
					for _, p := range st.Positions {
						flat = append(flat, p...)
					}
					if len(st.Positions) != len(prompt) {
						t.Fatalf("%s %s: %d positions, want %d", name, slot, len(st.Positions), len(prompt))
					}
					if got, want := statsBits(t, st.AllTokens), statsBits(t, trace.ComputeStats(flat)); !bytes.Equal(got, want) {
						t.Errorf("%s, %d threads, %s all_tokens: %s, serial %s", name, threads, slot, got, want)
					}
					if got, want := statsBits(t, st.LastToken), statsBits(t, trace.ComputeStats(st.Last)); !bytes.Equal(got, want) {
						t.Errorf("%s, %d threads, %s last_token: %s, serial %s", name, threads, slot, got, want)
					}
				}
			}
			lo := slotTraces(lastOnly)
			for slot, st := range slotTraces(all) {
				if got, want := statsBits(t, lo[slot].AllTokens), statsBits(t, st.AllTokens); !bytes.Equal(got, want) {
					t.Errorf("%s, %d threads, %s: all_tokens without AllPositions %s, with %s", name, threads, slot, got, want)
				}
				if got, want := statsBits(t, lo[slot].LastToken), statsBits(t, st.LastToken); !bytes.Equal(got, want) {
					t.Errorf("%s, %d threads, %s: last_token without AllPositions %s, with %s", name, threads, slot, got, want)
				}
			}
			if got := traceBits(t, all); ref == nil {
				ref = got
			} else if !bytes.Equal(ref, got) {
				t.Errorf("%s: trace with %d threads differs from the 1-thread trace", name, threads)
			}
		}
		m.Close()
	}
}

// TestLastPositionLogits: without AllLogits a traced run computes the
// logits of the last position only and says so (LogitsPositions last):
// the logits slot holds the last vector and its statistics, all_tokens
// count 0 and no positions, and is not empty; every other slot, and the
// last logits, have the bits of the run with every position's logits. A
// prefill continued token by token gives the same trace either way.
func TestLastPositionLogits(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	for _, threads := range []int{1, 2} {
		for _, prefill := range []int{0, 3} {
			full, err := Run(m, prompt, Options{Threads: threads, AllPositions: true, AllLogits: true, Prefill: prefill})
			if err != nil {
				t.Fatal(err)
			}
			last, err := Run(m, prompt, Options{Threads: threads, AllPositions: true, Prefill: prefill})
			if err != nil {
				t.Fatal(err)
			}
			at := fmt.Sprintf("%d threads, prefill %d", threads, prefill)
			if full.LogitsPositions != trace.PositionsAll || !full.HasAllLogits() || len(full.Logits.Positions) != len(prompt) {
				t.Errorf("%s: AllLogits trace: logits_positions %q, %d logits positions", at, full.LogitsPositions, len(full.Logits.Positions))
			}
			if last.LogitsPositions != trace.PositionsLast || last.HasAllLogits() {
				t.Errorf("%s: default trace: logits_positions %q, want last", at, last.LogitsPositions)
			}
			lg := &last.Logits
			if lg.Empty() || lg.AllTokens.Count != 0 || len(lg.Positions) != 0 || lg.LastToken.Count != m.Hyper.NVocab {
				t.Errorf("%s: last-position logits slot: empty %v, all_tokens count %d, %d positions, last_token count %d",
					at, lg.Empty(), lg.AllTokens.Count, len(lg.Positions), lg.LastToken.Count)
			}
			if !last.HasAllPositions() {
				t.Errorf("%s: the other slots lost their positions", at)
			}
			want := *full
			want.Layers = append([]trace.LayerTrace(nil), full.Layers...)
			want.KeepLastLogits()
			if d := firstBitDifference(&want, last); d != "" {
				t.Errorf("%s: the last-position-logits trace differs from the full trace past its logits: %s", at, d)
			}
			if !bytes.Equal(traceBits(t, &want), traceBits(t, last)) {
				t.Errorf("%s: traces differ in a field firstBitDifference does not compare", at)
			}
		}
	}
}
