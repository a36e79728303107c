package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

var prompt = []int32{3838, 374, 220, 17, 10, 17, 30}

func loadFixture(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(fixture.Require(t, "models/"+name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// traceBits returns the trace's numbers as JSON, which keeps every bit
// (trace.Vector's encoding round-trips float32), without the timing fields.
func traceBits(t testing.TB, tr *trace.Trace) []byte {
	t.Helper()
	c := *tr
	c.Provenance.Seconds, c.Provenance.StartedAt, c.Provenance.Threads = 0, "", 0
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterministicAcrossRunsAndThreads: the same model, tokens and options
// give bit-identical traces on every run and for 1, 2 and 3 threads.
func TestDeterministicAcrossRunsAndThreads(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
		var ref []byte
		for _, threads := range []int{1, 2, 2, 3} {
			tr, err := Run(m, prompt, Options{Matmul: mode, Threads: threads, AllPositions: true})
			if err != nil {
				t.Fatal(err)
			}
			got := traceBits(t, tr)
			if ref == nil {
				ref = got
				continue
			}
			if !bytes.Equal(ref, got) {
				t.Errorf("%s mode: trace with %d threads differs from the 1-thread trace", mode, threads)
			}
		}
	}
}

// TestUntracedLogitsBitIdentical: tracing never changes a bit. The last
// position's logits of an untraced run equal the traced run's, with the
// logits of the last position only (the default) or of every position.
func TestUntracedLogitsBitIdentical(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	for _, c := range []struct {
		mode      trace.MatmulMode
		allLogits bool
	}{{trace.MatmulQuantized, false}, {trace.MatmulQuantized, true}, {trace.MatmulF32, false}, {trace.MatmulF32, true}} {
		mode := c.mode
		tr, err := Run(m, prompt, Options{Matmul: mode, Threads: 2, AllLogits: c.allLogits})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Logits.Last) != m.Hyper.NVocab {
			t.Fatalf("%s mode, all logits %v: last logits hold %d values, want %d", mode, c.allLogits, len(tr.Logits.Last), m.Hyper.NVocab)
		}
		s, err := NewSession(m, Options{Matmul: mode, Threads: 2}, len(prompt), len(prompt))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Forward(prompt, nil); err != nil {
			t.Fatal(err)
		}
		untraced := s.Logits(len(prompt))
		for i, v := range tr.Logits.Last {
			if math.Float32bits(v) != math.Float32bits(untraced[i]) {
				t.Fatalf("%s mode, all logits %v: logit %d traced %v, untraced %v", mode, c.allLogits, i, v, untraced[i])
			}
		}
	}
}

// TestDecodeMatchesPrefill: running the prompt one token at a time through
// the KV cache gives the same last logits as one prefill (the same
// operations in the same order per position).
func TestDecodeMatchesPrefill(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	pre, err := NewSession(m, Options{Threads: 2}, len(prompt), len(prompt))
	if err != nil {
		t.Fatal(err)
	}
	if err := pre.Forward(prompt, nil); err != nil {
		t.Fatal(err)
	}
	dec, err := NewSession(m, Options{Threads: 2}, 1, len(prompt))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range prompt {
		if err := dec.Forward([]int32{tok}, nil); err != nil {
			t.Fatal(err)
		}
	}
	want, got := pre.Logits(len(prompt)), dec.Logits(1)
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("logit %d: prefill %v, decode %v", i, want[i], got[i])
		}
	}
	if err := dec.Forward([]int32{1}, nil); err == nil {
		t.Error("forward past the context: no error")
	}
}

// TestF32ModelModesBitIdentical: on an F32 model both matmul modes take the
// same float32 path, so their traces are bit-identical (gate 005 of
// apr-vs-gguf-forward-parity-v1).
func TestF32ModelModesBitIdentical(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-f32.gguf")
	a, err := Run(m, prompt, Options{Matmul: trace.MatmulF32, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(m, prompt, Options{Matmul: trace.MatmulQuantized, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	a.Provenance.Matmul, b.Provenance.Matmul = "", ""
	if !bytes.Equal(traceBits(t, a), traceBits(t, b)) {
		t.Error("f32 and quantized traces of the F32 model differ")
	}
}

func TestForwardRejectsBadTokens(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	if _, err := Run(m, []int32{1, 5000}, Options{}); err == nil {
		t.Error("token 5000 of a 4099-token vocabulary: no error")
	}
	if _, err := Run(m, []int32{-1}, Options{}); err == nil {
		t.Error("negative token: no error")
	}
	if _, err := Run(m, nil, Options{}); err == nil {
		t.Error("no tokens: no error")
	}
}

func TestTraceJSONRoundTrip(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	tr, err := Run(m, prompt, Options{Threads: 2, AllPositions: true})
	if err != nil {
		t.Fatal(err)
	}
	b := traceBits(t, tr)
	var back trace.Trace
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, traceBits(t, &back)) {
		t.Error("trace JSON does not round-trip")
	}
	if back.Layers[3].Slot(trace.SlotFFNSwigluInner).LastToken.Count != 512 || back.Layers[3].Slot(trace.SlotFFNSwigluInner).AllTokens.Count != 7*512 {
		t.Errorf("counts %+v", back.Layers[3].Slot(trace.SlotFFNSwigluInner).LastToken)
	}
}

// TestReplayLayerReproducesRun: replaying a layer on the run's own input
// to that layer gives back the run's slots bit for bit.
func TestReplayLayerReproducesRun(t *testing.T) {
	m := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	tr, err := Run(m, prompt, Options{Threads: 2, AllPositions: true})
	if err != nil {
		t.Fatal(err)
	}
	for l := range m.Hyper.NLayer {
		input := tr.Embed.Positions
		if l > 0 {
			input = tr.Layers[l-1].Slot(trace.SlotOutput).Positions
		}
		rows := make([][]float32, len(input))
		for i, v := range input {
			rows[i] = v
		}
		lt, err := ReplayLayer(m, l, rows, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(lt)
		b, _ := json.Marshal(tr.Layers[l])
		if !bytes.Equal(a, b) {
			t.Errorf("layer %d replay differs from the run", l)
		}
	}
}
