package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// f32ModeModels: the core fixtures first (in testdata/ of a plain clone),
// then the Q4_K_M and F32 ones of ../shared/fixtures.
var f32ModeModels = []string{"qwen2-tiny-q8_0.gguf", "qwen2-tiny-q6_k.gguf", "qwen2-tiny-q4_k_m.gguf", "qwen2-tiny-f32.gguf"}

// TestF32MatmulMatchesDequantizeThenDot: the f32 mode's matmul (rows
// dequantized in groups, three dots at a time) gives every output the bits
// of the plain sequence it stands for, DequantizeRow of the row then the
// documented dot order, for 1 to 8 tokens and 1 to 3 threads, on every
// matrix type of the fixtures (Q8_0, Q6_K, Q4_K with the AVX2
// dequantizers, and F32 weights).
func TestF32MatmulMatchesDequantizeThenDot(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, name := range f32ModeModels {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			seen := map[quant.Type]bool{}
			for _, w := range m.matrices() {
				if !seen[w.Type] {
					seen[w.Type] = true
					checkF32Matmul(t, r, m, w)
				}
			}
			t.Logf("types %v", seen)
		})
	}
}

func checkF32Matmul(t *testing.T, r *rand.Rand, m *Model, w *Tensor) {
	t.Helper()
	cols, rows, rb := w.Cols(), w.Rows(), w.rowBytes()
	want := make([]float32, rows*cols)
	for i := range rows {
		if err := quant.DequantizeRow(w.Type, want[i*cols:(i+1)*cols], w.Data[i*rb:(i+1)*rb]); err != nil {
			t.Fatal(err)
		}
	}
	for threads := 1; threads <= 3; threads++ {
		for n := 1; n <= 8; n++ {
			mm, err := newMatmuler(m, trace.MatmulF32, threads, n)
			if err != nil {
				t.Fatal(err)
			}
			x := randomF32(r, n*cols, false)
			stride, off := rows+5, 3
			out := make([]float32, n*stride)
			mm.matmul(out, stride, off, x, n, w)
			for tok := range n {
				for row := range rows {
					got := out[tok*stride+off+row]
					ref := dotSpec(want[row*cols:(row+1)*cols], x[tok*cols:(tok+1)*cols])
					if !sameFloat(got, ref) {
						t.Fatalf("%s (%s) threads=%d n=%d: row %d token %d: %v (%#08x), dequantize+dot %v (%#08x)",
							w.Name, w.Type, threads, n, row, tok, got, math.Float32bits(got), ref, math.Float32bits(ref))
					}
				}
			}
		}
	}
}

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
