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
				want := matMulsDo(t, ws, mode, 1, n, [][]float32{x}, false)
				for _, threads := range []int{1, 2, 3, 4, 7} {
					got := matMulsDo(t, ws, mode, threads, n, [][]float32{x}, true)
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
