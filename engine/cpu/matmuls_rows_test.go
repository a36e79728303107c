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

// TestMatMulsOddRowsMatchOneThread: MatMuls over weights whose row counts
// are not multiples of the kernels' groups (1, 5, 13, 17, 31 rows: a
// parallel unit of matmulRowUnit rows then straddles two weights and
// hands a weight a partial group of four), for 1 to 4 and 7 threads,
// gives every output the bits of one single-threaded MatMul per weight:
// the split is over the rows of all the weights at once, so a thread
// count may cut a weight where no single MatMul would.
func TestMatMulsOddRowsMatchOneThread(t *testing.T) {
	// One weight of each type among the fixtures' 256-wide matrices
	// (Q4_K, Q6_K and Q8_0 in testdata alone; every k-quant and legacy
	// type with ../shared/fixtures), cut to odd row counts below.
	var base []backend.WeightInfo
	seen := map[quant.Type]bool{}
	for _, path := range fixture.Glob("models/qwen2-tiny-*.gguf") {
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if len(ti.Dims) != 2 || ti.Name == "token_embd.weight" || ti.Dims[0] != 256 || seen[ti.Type] {
				continue
			}
			seen[ti.Type] = true
			base = append(base, backend.WeightInfo{Name: ti.Name, Type: ti.Type, Rows: int(ti.Dims[1]), Cols: int(ti.Dims[0]), Data: f.Data(ti), Matrix: true})
		}
	}
	if len(base) < 2 {
		t.Skipf("want fixture weights of two types 256 wide, have %d", len(base))
	}
	t.Logf("weight types: %s", rowsOf(base))
	r := rand.New(rand.NewPCG(41, 42))
	rowCounts := []int{1, 5, 13, 17, 31}
	for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
		for round := range max(4, (len(base)+2)/3) {
			var ws []backend.WeightInfo
			for k := range 3 {
				w := base[(3*round+k)%len(base)]
				rows := rowCounts[r.IntN(len(rowCounts))]
				rb, err := quant.RowSize(w.Type, int64(w.Cols))
				if err != nil {
					t.Fatal(err)
				}
				w.Rows, w.Data = rows, w.Data[:rows*int(rb)]
				ws = append(ws, w)
			}
			for _, n := range []int{1, 3, 9} {
				x := randomF32(r, n*256, false)
				want := matMulsRef(t, ws, mode, n, x)
				for _, threads := range []int{1, 2, 3, 4, 7} {
					got := matMulsRun(t, ws, mode, threads, n, x)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s mode, rows %v, %d tokens, %d threads: element %d: MatMuls %v, one-thread MatMul %v",
								mode, rowsOf(ws), n, threads, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func rowsOf(ws []backend.WeightInfo) string {
	s := ""
	for _, w := range ws {
		s += fmt.Sprintf("%s:%d ", w.Type, w.Rows)
	}
	return s
}

// matMulsLayout is the output layout of matMulsRun and matMulsRef: the
// weights' rows side by side in one row per token, a gap between them.
func matMulsLayout(ws []backend.WeightInfo) (stride int, offs []int) {
	stride = 2
	for _, w := range ws {
		offs = append(offs, stride)
		stride += w.Rows + 3
	}
	return stride, offs
}

// matMulsRun computes ws against x in one MatMuls call.
func matMulsRun(t *testing.T, ws []backend.WeightInfo, mode trace.MatmulMode, threads, n int, x []float32) []float32 {
	t.Helper()
	return matMulsDo(t, ws, mode, threads, n, x, true)
}

// matMulsRef computes ws against x with one single-threaded MatMul each.
func matMulsRef(t *testing.T, ws []backend.WeightInfo, mode trace.MatmulMode, n int, x []float32) []float32 {
	t.Helper()
	return matMulsDo(t, ws, mode, 1, n, x, false)
}

func matMulsDo(t *testing.T, ws []backend.WeightInfo, mode trace.MatmulMode, threads, n int, x []float32, many bool) []float32 {
	t.Helper()
	b, err := Open(backend.Config{Matmul: mode, Attn: backend.Attn{NHead: 1, NHeadKV: 1, HeadDim: 2, NRot: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var bws []backend.Weight
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
	xt, out := ctx.Alloc(len(x)), ctx.Alloc(n*stride)
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
	v, err := ctx.Read(out, n*stride)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
