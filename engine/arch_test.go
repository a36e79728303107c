package engine_test

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/engine/synth"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/llamacpp"
	"github.com/falsify/falsify/internal/numcmp"
)

var prompt = []int32{3838, 374, 220, 17, 10, 17, 30}

// tinyTokenizer returns the metadata of the qwen2-tiny fixture, whose
// tokenizer.* keys synthetic models borrow.
func tinyTokenizer(t testing.TB) *gguf.Metadata {
	t.Helper()
	f, err := gguf.Open(fixture.Require(t, "models/qwen2-tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.Metadata
}

// archSpecs are the architecture variants the fixtures do not cover.
func archSpecs(tok *gguf.Metadata) map[string]synth.Spec {
	base := synth.Spec{Layers: 2, Embd: 128, Heads: 4, FF: 256, Tokenizer: tok, Seed: 7, RopeTheta: 10000}
	with := func(f func(*synth.Spec)) synth.Spec { s := base; f(&s); return s }
	return map[string]synth.Spec{
		// normal RoPE, no biases, separate output, GQA 4:1
		"llama-gqa4-untied": with(func(s *synth.Spec) { s.Arch, s.KVHeads = "llama", 1 }),
		// qwen3: per-head Q/K RMSNorm, head_dim 64 with 4 heads over 128 (q_dim 256 != embd)
		"qwen3-qknorm": with(func(s *synth.Spec) { s.Arch, s.KVHeads, s.HeadDim, s.QKNorm, s.Tied = "qwen3", 2, 64, true, true }),
		// qwen2 with a single KV head and biases, tied output
		"qwen2-one-kv-head": with(func(s *synth.Spec) { s.Arch, s.KVHeads, s.QKVBias, s.Tied = "qwen2", 1, true, true }),
		// llama with Q8_0 weights (quantized path on another architecture)
		"llama-q8_0": with(func(s *synth.Spec) {
			s.Arch, s.KVHeads = "llama", 2
			s.TypeFor = synth.QuantizedMix(quant.Q8_0, quant.F32)
		}),
	}
}

// TestArchitecturesMatchLlamaCpp generates each variant, asks llama.cpp
// (the oracle) for the next-token distribution after every prompt position
// and checks the engine's log-softmax against it: same argmax everywhere,
// and log-probabilities of llama.cpp's ten most likely tokens within 1e-3.
func TestArchitecturesMatchLlamaCpp(t *testing.T) {
	llamacpp.Require(t)
	tok := tinyTokenizer(t)
	for name, spec := range archSpecs(tok) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name+".gguf")
			if err := synth.Write(path, spec); err != nil {
				t.Fatal(err)
			}
			m, err := engine.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			tr, err := engine.Run(m, prompt, engine.Options{Threads: 2, AllPositions: true, AllLogits: true})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := llamacpp.Run(t.Context(), llamacpp.Request{Model: path, Tokens: prompt, Top: 10})
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for p, pos := range ref.Positions {
				logits := tr.Logits.Positions[p]
				logp := numcmp.LogSoftmax(nil, logits)
				if top := int(pos.Top[0][0]); numcmp.Argmax(logits) != top {
					t.Errorf("position %d: engine argmax %d, llama.cpp %d", p, numcmp.Argmax(logits), top)
				}
				for _, e := range pos.Top {
					if e[1] < 1e-12 {
						continue
					}
					d := math.Abs(logp[int(e[0])] - math.Log(e[1]))
					worst = math.Max(worst, d)
					if d > 1e-3 {
						t.Errorf("position %d token %d: log p engine %.6f, llama.cpp %.6f", p, int(e[0]), logp[int(e[0])], math.Log(e[1]))
					}
				}
			}
			t.Logf("%s: worst |log p| difference from llama.cpp %.3g over %d positions x top 10", name, worst, len(ref.Positions))
		})
	}
}

// TestMistralIsLlama: "mistral" GGUF files run the llama graph; the same
// weights under either name give bit-identical traces.
func TestMistralIsLlama(t *testing.T) {
	tok := tinyTokenizer(t)
	spec := archSpecs(tok)["llama-gqa4-untied"]
	traces := map[string][]byte{}
	for _, arch := range []string{"llama", "mistral"} {
		spec.Arch = arch
		path := filepath.Join(t.TempDir(), arch+".gguf")
		if err := synth.Write(path, spec); err != nil {
			t.Fatal(err)
		}
		m, err := engine.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := engine.Run(m, prompt, engine.Options{Threads: 2})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(tr.Layers)
		traces[arch] = b
	}
	if !bytes.Equal(traces["llama"], traces["mistral"]) {
		t.Error("mistral and llama traces of the same weights differ")
	}
}

func TestUnsupportedArchitecture(t *testing.T) {
	spec := archSpecs(tinyTokenizer(t))["llama-gqa4-untied"]
	spec.Arch = "gpt2"
	path := filepath.Join(t.TempDir(), "gpt2.gguf")
	if err := synth.Write(path, spec); err != nil {
		t.Fatal(err)
	}
	_, err := engine.Load(path)
	if err == nil {
		t.Fatal("gpt2 architecture loaded")
	}
	for _, want := range []string{"gpt2", "llama", "mistral", "qwen2", "qwen3", path} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
