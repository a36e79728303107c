package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// f32ModeModels: the core fixtures first (in testdata/ of a plain clone),
// then the Q4_K_M and F32 ones of ../shared/fixtures.
var f32ModeModels = []string{"qwen2-tiny-q8_0.gguf", "qwen2-tiny-q6_k.gguf", "qwen2-tiny-q4_k_m.gguf", "qwen2-tiny-f32.gguf"}

// TestF32MatmulMatchesDequantizeThenDot: the f32 mode's MatMul (rows
// dequantized in groups, three dots at a time) gives every output the bits
// of the plain sequence it stands for, DequantizeRow of the row then the
// documented dot order, for 1 to 8 tokens and 1 to 3 threads, on every
// matrix type of the fixtures (Q8_0, Q6_K, Q4_K with the AVX2
// dequantizers, and F32 weights).
func TestF32MatmulMatchesDequantizeThenDot(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, name := range f32ModeModels {
		t.Run(name, func(t *testing.T) {
			f, err := gguf.Open(fixture.Require(t, "models/"+name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			seen := map[quant.Type]bool{}
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				if len(ti.Dims) != 2 || seen[ti.Type] {
					continue
				}
				seen[ti.Type] = true
				checkF32Matmul(t, r, backend.WeightInfo{Name: ti.Name, Type: ti.Type, Rows: int(ti.Dims[1]), Cols: int(ti.Dims[0]), Data: f.Data(ti), Matrix: true})
			}
			t.Logf("types %v", seen)
		})
	}
}

func checkF32Matmul(t *testing.T, r *rand.Rand, w backend.WeightInfo) {
	t.Helper()
	cols, rows := w.Cols, w.Rows
	rb := len(w.Data) / rows
	want := make([]float32, rows*cols)
	for i := range rows {
		if err := quant.DequantizeRow(w.Type, want[i*cols:(i+1)*cols], w.Data[i*rb:(i+1)*rb]); err != nil {
			t.Fatal(err)
		}
	}
	for threads := 1; threads <= 3; threads++ {
		for n := 1; n <= 8; n++ {
			b, err := Open(backend.Config{Matmul: trace.MatmulF32, Attn: backend.Attn{NHead: 1, NHeadKV: 1, HeadDim: 2, NRot: 2}})
			if err != nil {
				t.Fatal(err)
			}
			bw, err := b.Weight(w)
			if err != nil {
				t.Fatal(err)
			}
			be, err := b.NewContext(backend.ContextConfig{Threads: threads, MaxBatch: n, MaxCtx: n})
			if err != nil {
				t.Fatal(err)
			}
			x := randomF32(r, n*cols, false)
			stride, off := rows+5, 3
			xt, out := be.Alloc(n*cols), be.Alloc(n*stride)
			be.Write(xt, 0, x)
			be.MatMul(out, stride, off, xt, n, bw)
			got, err := be.Read(out, n*stride)
			if err != nil {
				t.Fatal(err)
			}
			for tok := range n {
				for row := range rows {
					g := got[tok*stride+off+row]
					ref := dotSpec(want[row*cols:(row+1)*cols], x[tok*cols:(tok+1)*cols])
					if !sameFloat(g, ref) {
						t.Fatalf("%s (%s) threads=%d n=%d: row %d token %d: %v (%#08x), dequantize+dot %v (%#08x)",
							w.Name, w.Type, threads, n, row, tok, g, math.Float32bits(g), ref, math.Float32bits(ref))
					}
				}
			}
		}
	}
}
