package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withSIMD runs f with the SIMD kernels on or off (on only where the
// build and CPU have them) and restores the setting.
func withSIMD(on bool, f func()) {
	saved := simdEnabled
	simdEnabled = on && saved
	defer func() { simdEnabled = saved }()
	f()
}

// simdKernel returns the kernel get picks for w with the SIMD kernels on
// or off (withSIMD), failing the test on an error.
func simdKernel[K any](t *testing.T, simd bool, get func(Type) (K, error), w Type) K {
	t.Helper()
	var k K
	withSIMD(simd, func() {
		var err error
		if k, err = get(w); err != nil {
			t.Fatal(err)
		}
	})
	return k
}

// mustPanic fails the test, naming what, unless f panics.
func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

// sameBits reports whether a kernel's result got has the bits of the
// reference want (any NaN matching any NaN).
func sameBits(got, want float32) bool {
	return math.Float32bits(got) == math.Float32bits(want) || (got != got && want != want)
}

// DotRowsFunc's kernel must give, for every row, the bits of the scalar
// DotFunc kernel (the one TestVecDotScalarOracle checks against ggml's
// scalar C kernels), with the SIMD kernels on and off: row counts around
// the four-row grouping, padded strides, random activations (Q8 blocks
// with -128 in them, which the four-row Q8_0 kernel hands back to the
// one-row kernel) and quantized ones (without).
func TestDotRowsMatchesDot(t *testing.T) {
	for _, w := range dotTypes {
		t.Run(w.String(), func(t *testing.T) {
			scalar := simdKernel(t, false, DotFunc, w)
			r := rand.New(rand.NewPCG(uint64(w), 17))
			xt := VecDotType(w)
			bs := max(w.BlockSize(), xt.BlockSize(), 32)
			checked := 0
			for _, simd := range []bool{true, false} {
				rows := simdKernel(t, simd, DotRowsFunc, w)
				for _, nrows := range []int{0, 1, 3, 4, 5, 8, 11} {
					for _, blocks := range []int{0, 1, 5, 28} {
						n := blocks * bs
						rb, _ := RowSize(w, int64(n))
						stride := int(rb) + r.IntN(3)*int(w.TypeSize())
						wb := randomBlocks(r, w, (nrows*stride/int(w.TypeSize())+1)*w.BlockSize())
						var xb []byte
						if r.IntN(2) == 0 {
							xb = randomBlocks(r, xt, n)
						} else {
							size, _ := RowSize(xt, int64(n))
							xb = make([]byte, size)
							if err := QuantizeRow(xt, xb, randomActivations(r, n, 1)); err != nil {
								t.Fatal(err)
							}
						}
						out := make([]float32, nrows)
						withSIMD(simd, func() { rows(n, wb, stride, xb, out) })
						for i := range out {
							want := scalar(n, wb[i*stride:], xb)
							if !sameBits(out[i], want) {
								t.Fatalf("simd=%v, %d rows of n=%d, stride %d: row %d = %.9g (%#08x), scalar kernel %.9g (%#08x)",
									simd, nrows, n, stride, i, out[i], math.Float32bits(out[i]), want, math.Float32bits(want))
							}
							checked++
						}
					}
				}
			}
			t.Logf("%d rows bit-identical to the scalar kernel", checked)
		})
	}
}

func TestDotRowsErrors(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		want error
	}{{Q8_K, ErrUnsupportedType}, {Type(5), ErrUnknownType}} {
		if _, err := DotRowsFunc(tc.t); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.t, err, tc.want)
		}
	}
}

// The kernels panic, like DotKernel, on rows too short or a negative
// stride instead of reading past the slices.
func TestDotRowsPanics(t *testing.T) {
	for _, w := range []Type{Q8_0, Q4_K} {
		rows, err := DotRowsFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		n := QK_K
		rb, _ := RowSize(w, int64(n))
		xb, _ := RowSize(VecDotType(w), int64(n))
		for _, tc := range []struct {
			name   string
			w, x   int64
			stride int
		}{
			{"short last row", 5*rb - 1, xb, int(rb)},
			{"short activations", 5 * rb, xb - 1, int(rb)},
			{"negative stride", 5 * rb, xb, -1},
		} {
			mustPanic(t, fmt.Sprintf("%s, %s", w, tc.name), func() {
				rows(n, make([]byte, tc.w, 8*rb), tc.stride, make([]byte, tc.x, 2*xb), make([]float32, 5))
			})
		}
	}
}

func TestDotRowsNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, w := range dotTypes {
		rows, err := DotRowsFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		wb := randomBlocks(r, w, 8*512)
		rb, _ := RowSize(w, 512)
		size, _ := RowSize(VecDotType(w), 512)
		xb := make([]byte, size)
		out := make([]float32, 8)
		if a := testing.AllocsPerRun(10, func() { rows(512, wb, int(rb), xb, out) }); a != 0 {
			t.Errorf("%s: %v allocations per call", w, a)
		}
	}
}

// benchmarkDotRows is one call over rows weight rows of n elements per
// op; SetBytes is the weight bytes read.
func benchmarkDotRows(b *testing.B, t Type, n, rows int) {
	r := rand.New(rand.NewPCG(3, 4))
	w := randomBlocks(r, t, rows*n)
	x := randomActivations(r, n, 1)
	size, _ := RowSize(VecDotType(t), int64(n))
	xb := make([]byte, size)
	if err := QuantizeRow(VecDotType(t), xb, x); err != nil {
		b.Fatal(err)
	}
	k, err := DotRowsFunc(t)
	if err != nil {
		b.Fatal(err)
	}
	rb, _ := RowSize(t, int64(n))
	out := make([]float32, rows)
	b.SetBytes(int64(len(w)))
	b.ResetTimer()
	for b.Loop() {
		k(n, w, int(rb), xb, out)
	}
}

// BenchmarkDotRows: four rows per call against one activation row, at
// the widths of a Qwen2-0.5B-shaped model, SIMD on and forced off; the
// per-row time compares with BenchmarkVecDot's.
func BenchmarkDotRows(b *testing.B) {
	for _, t := range []Type{Q8_0, Q5_0, Q4_K, Q6_K} {
		for _, n := range []int{896, 4864} {
			if n%t.BlockSize() != 0 {
				continue
			}
			for _, simd := range []bool{true, false} {
				name := "scalar"
				if simd {
					name = "simd"
				}
				b.Run(fmt.Sprintf("%s/%d/x4/%s", t, n, name), func(b *testing.B) {
					withSIMD(simd, func() { benchmarkDotRows(b, t, n, 4) })
				})
			}
		}
	}
}
