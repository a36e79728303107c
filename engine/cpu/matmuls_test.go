package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// TestMatMulsMatchesMatMul: MatMuls (the activations quantized once per
// type, every weight's rows in one parallel loop) gives every output the
// bits of one MatMul per weight, in both matmul modes, for 1 to 3 threads
// and token counts around the kernels' groups (1, 4, 7, 16, 17), on
// groups of fixture weights of one width with mixed types (Q4_K and Q6_K
// share Q8_K activations, Q8_0 has its own; F32 weights take the f32
// path), written side by side into one output as Q, K and V are.
func TestMatMulsMatchesMatMul(t *testing.T) {
	byCols := map[int][]backend.WeightInfo{}
	for _, name := range []string{"qwen2-tiny-q4_k_m.gguf", "qwen2-tiny-q8_0.gguf"} {
		f, err := gguf.Open(fixture.Require(t, "models/"+name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if len(ti.Dims) != 2 || ti.Name == "token_embd.weight" {
				continue
			}
			w := backend.WeightInfo{Name: name + ":" + ti.Name, Type: ti.Type, Rows: int(ti.Dims[1]), Cols: int(ti.Dims[0]), Data: f.Data(ti), Matrix: true}
			byCols[w.Cols] = append(byCols[w.Cols], w)
		}
	}
	r := rand.New(rand.NewPCG(31, 32))
	groups := 0
	for cols, ws := range byCols {
		types := map[quant.Type]bool{}
		for _, w := range ws {
			types[w.Type] = true
		}
		if len(types) < 2 {
			continue
		}
		// Three weights of different types where there are, else any.
		var pick []backend.WeightInfo
		seen := map[quant.Type]bool{}
		for _, w := range ws {
			if !seen[w.Type] && len(pick) < 3 {
				seen[w.Type] = true
				pick = append(pick, w)
			}
		}
		groups++
		for _, w := range pick {
			t.Logf("cols %d: %s %s (%d rows)", cols, w.Name, w.Type, w.Rows)
		}
		for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
			for threads := 1; threads <= 3; threads++ {
				for _, n := range []int{1, 4, 7, 16, 17} {
					label := fmt.Sprintf("cols %d, %s mode, %d threads, %d tokens", cols, mode, threads, n)
					checkMatMuls(t, label, pick, mode, threads, n, randomF32(r, n*cols, false))
				}
			}
		}
	}
	if groups == 0 {
		t.Fatal("no width with weights of two types in the fixtures: nothing was compared")
	}
}

// checkMatMuls compares MatMuls of ws against x with one MatMul per
// weight on a context of its own that has seen only x. MatMuls runs
// first on a fresh context (no MatMul has quantized x for it) and on
// other values before x, so that a call that kept the previous call's
// quantized activations would show.
func checkMatMuls(t *testing.T, label string, ws []backend.WeightInfo, mode trace.MatmulMode, threads, n int, x []float32) {
	t.Helper()
	got := matMulsDo(t, ws, mode, threads, n, [][]float32{x[len(x)/2:], x}, true)
	want := matMulsDo(t, ws, mode, threads, n, [][]float32{x}, false)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d: MatMuls %v, MatMul %v", label, i, got[i], want[i])
		}
	}
}

// matMulsLayout is the output layout of matMulsDo: the weights' rows side
// by side in one row per token, a gap between them.
func matMulsLayout(ws []backend.WeightInfo) (stride int, offs []int) {
	stride = 2
	for _, w := range ws {
		offs = append(offs, stride)
		stride += w.Rows + 3
	}
	return stride, offs
}

// matMulsDo opens a CPU backend in mode with ws and a context of threads
// for n tokens, computes ws against each of xs in turn (each written
// over the start of one input tensor of len(xs[last]) values) in one
// MatMuls call (many) or one MatMul per weight, and returns the last
// output (matMulsLayout).
func matMulsDo(t *testing.T, ws []backend.WeightInfo, mode trace.MatmulMode, threads, n int, xs [][]float32, many bool) []float32 {
	t.Helper()
	b, err := Open(backend.Config{Matmul: mode, Attn: backend.Attn{NHead: 1, NHeadKV: 1, HeadDim: 2, NRot: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var bws []backend.Weight // before the context, which sizes its buffers for them
	for _, wi := range ws {
		w, err := b.Weight(wi)
		if err != nil {
			t.Fatal(err)
		}
		bws = append(bws, w)
	}
	ctx, err := b.NewContext(backend.ContextConfig{Threads: threads, MaxBatch: n, MaxCtx: n})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	stride, offs := matMulsLayout(ws)
	xt, out := ctx.Alloc(len(xs[len(xs)-1])), ctx.Alloc(n*stride)
	for _, x := range xs {
		ctx.Write(xt, 0, x)
		if many {
			var outs []backend.MatMulOut
			for i, w := range bws {
				outs = append(outs, backend.MatMulOut{Dst: out, Stride: stride, Off: offs[i], W: w})
			}
			backend.MatMuls(ctx, xt, n, outs...)
		} else {
			for i, w := range bws {
				ctx.MatMul(out, stride, offs[i], xt, n, w)
			}
		}
	}
	v, err := ctx.Read(out, n*stride)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), v...)
}
