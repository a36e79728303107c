package engine

import (
	"math"
	"testing"

	"github.com/falsify/falsify/trace"
)

// f32ModeModels: the core fixtures first (in testdata/ of a plain clone),
// then the Q4_K_M and F32 ones of ../shared/fixtures.
var f32ModeModels = []string{"qwen2-tiny-q8_0.gguf", "qwen2-tiny-q6_k.gguf", "qwen2-tiny-q4_k_m.gguf", "qwen2-tiny-f32.gguf"}

// TestF32ModeDecodeMatchesPrefill: in f32 mode too, the prompt one token
// at a time through the KV cache (every matmul a decode step: weight rows
// in threes per token) gives the last logits of one prefill (tokens in
// threes per weight row) bit for bit.
func TestF32ModeDecodeMatchesPrefill(t *testing.T) {
	for _, name := range f32ModeModels {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			opts := Options{Threads: 2, Matmul: trace.MatmulF32}
			pre, err := NewSession(m, opts, len(prompt), len(prompt))
			if err != nil {
				t.Fatal(err)
			}
			if err := pre.Forward(prompt, nil); err != nil {
				t.Fatal(err)
			}
			dec, err := NewSession(m, opts, 1, len(prompt))
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
		})
	}
}
