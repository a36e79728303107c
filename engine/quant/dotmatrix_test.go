package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// DotMatrixFunc's kernel must give, for every (row, token), the bits of
// the scalar DotFunc kernel, with the SIMD kernels on and off: row counts
// around the four-row grouping, token counts around the kernel's token
// chunk (matrixTokens), padded strides, and activations that are random
// blocks (Q8 quants of -128 included, which send the Q8_0 kernel through
// the rows kernels) or quantized (without).
func TestDotMatrixMatchesDot(t *testing.T) {
	for _, w := range dotTypes {
		t.Run(w.String(), func(t *testing.T) {
			scalar := simdKernel(t, false, DotFunc, w)
			r := rand.New(rand.NewPCG(uint64(w), 23))
			xt := VecDotType(w)
			bs := max(w.BlockSize(), xt.BlockSize(), 32)
			checked := 0
			for _, simd := range []bool{true, false} {
				mat := simdKernel(t, simd, DotMatrixFunc, w)
				for _, nrows := range []int{0, 1, 4, 5, 8, 11} {
					for _, tokens := range []int{0, 1, 2, 3, 7, 16, 17, 35} {
						for _, blocks := range []int{0, 1, 5, 28} {
							n := blocks * bs
							rb, _ := RowSize(w, int64(n))
							xrb, _ := RowSize(xt, int64(n))
							stride := int(rb) + r.IntN(3)*int(w.TypeSize())
							xstride := int(xrb) + r.IntN(3)*int(xt.TypeSize())
							ostride := nrows + r.IntN(3)
							wb := randomBlocks(r, w, (nrows*stride/int(w.TypeSize())+1)*w.BlockSize())
							xb := make([]byte, tokens*xstride)
							random := r.IntN(3) == 0
							for tk := range tokens {
								row := xb[tk*xstride : tk*xstride+int(xrb)]
								if random {
									copy(row, randomBlocks(r, xt, n))
								} else if err := QuantizeRow(xt, row, randomActivations(r, n, 1)); err != nil {
									t.Fatal(err)
								}
							}
							out := make([]float32, tokens*ostride)
							for i := range out {
								out[i] = float32(math.NaN()) // every output must be written
							}
							withSIMD(simd, func() { mat(n, wb, stride, nrows, xb, xstride, tokens, out, ostride) })
							for tk := range tokens {
								for i := range nrows {
									got := out[tk*ostride+i]
									want := scalar(n, wb[i*stride:], xb[tk*xstride:])
									if !sameBits(got, want) {
										t.Fatalf("simd=%v, %d rows x %d tokens of n=%d (random activations %v): row %d token %d = %.9g (%#08x), scalar kernel %.9g (%#08x)",
											simd, nrows, tokens, n, random, i, tk, got, math.Float32bits(got), want, math.Float32bits(want))
									}
									checked++
								}
								for i := nrows; i < ostride && tk*ostride+i < len(out); i++ {
									if v := out[tk*ostride+i]; v == v {
										t.Fatalf("simd=%v: padding out[%d] written", simd, tk*ostride+i)
									}
								}
							}
						}
					}
				}
			}
			t.Logf("%d outputs bit-identical to the scalar kernel", checked)
		})
	}
}

// The kernels panic, like DotRowsKernel, on short operands or a negative
// stride instead of reading or writing past the slices.
func TestDotMatrixPanics(t *testing.T) {
	for _, w := range []Type{Q8_0, Q4_K} {
		mat, err := DotMatrixFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		n := QK_K
		rb, _ := RowSize(w, int64(n))
		xb, _ := RowSize(VecDotType(w), int64(n))
		for _, tc := range []struct {
			name                     string
			w, x, out                int64
			stride, xstride, ostride int
		}{
			{"short last row", 5*rb - 1, 3 * xb, 15, int(rb), int(xb), 5},
			{"short activations", 5 * rb, 3*xb - 1, 15, int(rb), int(xb), 5},
			{"short out", 5 * rb, 3 * xb, 14, int(rb), int(xb), 5},
			{"negative stride", 5 * rb, 3 * xb, 15, -1, int(xb), 5},
			{"negative activation stride", 5 * rb, 3 * xb, 15, int(rb), -1, 5},
		} {
			mustPanic(t, fmt.Sprintf("%s, %s", w, tc.name), func() {
				mat(n, make([]byte, tc.w, 8*rb), tc.stride, 5, make([]byte, tc.x, 4*xb), tc.xstride, 3,
					make([]float32, tc.out, 20), tc.ostride)
			})
		}
	}
}

func TestDotMatrixNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 7))
	for _, w := range []Type{Q8_0, Q5_0, Q4_K, Q6_K} {
		mat, err := DotMatrixFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		wb := randomBlocks(r, w, 8*512)
		rb, _ := RowSize(w, 512)
		size, _ := RowSize(VecDotType(w), 512)
		xb := make([]byte, 20*size)
		out := make([]float32, 8*20)
		if a := testing.AllocsPerRun(10, func() { mat(512, wb, int(rb), 8, xb, int(size), 20, out, 8) }); a != 0 {
			t.Errorf("%s: %v allocations per call", w, a)
		}
	}
}

// BenchmarkDotMatrix: 448 weight rows (half of a 896-row matrix: one of two workers) of the Qwen2-0.5B width
// (or FFN width) against 7 and 64 tokens (a prefill's matmul), the matrix kernel against the rows
// kernel token by token (what the engine did before), SIMD on.
func BenchmarkDotMatrix(b *testing.B) {
	for _, t := range []Type{Q8_0, Q5_0, Q4_K, Q6_K} {
		// Q8_0 and Q5_0 at the width of the attention matrices, the
		// K-quants at that of ffn_down.
		n, rows := 896, 448
		if t == Q4_K || t == Q6_K {
			n = 4864
		}
		for _, tokens := range []int{7, 64} {
			r := rand.New(rand.NewPCG(3, 4))
			w := randomBlocks(r, t, rows*n)
			xt := VecDotType(t)
			xs, _ := RowSize(xt, int64(n))
			x := make([]byte, tokens*int(xs))
			for tk := range tokens {
				if err := QuantizeRow(xt, x[tk*int(xs):(tk+1)*int(xs)], randomActivations(r, n, 1)); err != nil {
					b.Fatal(err)
				}
			}
			rb, _ := RowSize(t, int64(n))
			out := make([]float32, tokens*rows)
			mat, _ := DotMatrixFunc(t)
			rk, _ := DotRowsFunc(t)
			b.Run(fmt.Sprintf("%s/%dtok/matrix", t, tokens), func(b *testing.B) {
				for b.Loop() {
					mat(n, w, int(rb), rows, x, int(xs), tokens, out, rows)
				}
			})
			b.Run(fmt.Sprintf("%s/%dtok/rows", t, tokens), func(b *testing.B) {
				for b.Loop() {
					dotMatrixByRows(rk, n, w, int(rb), 0, rows, x, int(xs), 0, tokens, out, rows)
				}
			})
		}
	}
}
