package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var dotTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// dotOperands returns a random weight row of type w and an activation row
// in VecDotType(w), quantized by ggml's own CPU quantizer.
func dotOperands(tb testing.TB, r *rand.Rand, w Type, n int, quantize func(uint32, []float32) ([]byte, error)) (wb, xb []byte, wf, xf []float32) {
	tb.Helper()
	switch w {
	case F32, F16, BF16:
		wf = randomActivations(r, n, 0.05)
		size, _ := RowSize(w, int64(n))
		wb = make([]byte, size)
		if err := QuantizeRowRef(w, wb, wf); err != nil {
			tb.Fatal(err)
		}
	default:
		wb = randomBlocks(r, w, n)
	}
	wf = make([]float32, n)
	if err := DequantizeRow(w, wf, wb); err != nil {
		tb.Fatal(err)
	}
	x := randomActivations(r, n, math.Pow(10, float64(r.IntN(5)-2)))
	xb, err := quantize(uint32(VecDotType(w)), x)
	if err != nil {
		tb.Fatal(err)
	}
	xf = make([]float32, n)
	if err := DequantizeRow(VecDotType(w), xf, xb); err != nil {
		tb.Fatal(err)
	}
	return wb, xb, wf, xf
}

// ggmlName is ggml's spelling of a type name ("q4_K", "bf16").
func ggmlName(t Type) string {
	s := strings.ToLower(t.String())
	return strings.Replace(s, "_k", "_K", 1)
}

// genericSymbol is the exported scalar kernel of ggml-cpu for weight type w,
// "" for F32/F16/BF16 (whose vec_dot is scalar in the x64 variant).
func genericSymbol(w Type) string {
	switch w {
	case F32, F16, BF16:
		return ""
	}
	return fmt.Sprintf("ggml_vec_dot_%s_%s_generic", ggmlName(w), ggmlName(VecDotType(w)))
}

// VecDot must reproduce ggml's scalar formulas bit for bit: compared with
// the kernels of ggml's baseline x86-64 CPU library (libggml-cpu-x64.so:
// no SIMD dot kernels, no FMA contraction), the *_generic functions and,
// for F32/F16/BF16, the scalar vec_dot.
func TestVecDotScalarOracle(t *testing.T) {
	o := scalarOracle(t)
	for _, w := range dotTypes {
		t.Run(w.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			trials := 0
			for _, blocks := range []int{1, 3, 19} {
				n := blocks * QK_K
				for range 20 {
					wb, xb, _, _ := dotOperands(t, r, w, n, o.Quantize)
					got, err := VecDot(w, n, wb, xb)
					if err != nil {
						t.Fatal(err)
					}
					var want float32
					if sym := genericSymbol(w); sym != "" {
						want, err = o.VecDotSymbol(sym, uint32(w), n, wb, xb)
					} else {
						want, err = o.VecDot(uint32(w), n, wb, xb)
					}
					if err != nil {
						t.Fatal(err)
					}
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("n=%d: VecDot = %.9g (%#08x), ggml-cpu-x64 %.9g (%#08x)", n, got, math.Float32bits(got), want, math.Float32bits(want))
					}
					trials++
				}
			}
			t.Logf("%d dot products bit-identical to ggml-cpu-x64's scalar kernel", trials)
		})
	}
}

// dotTolerance bounds |VecDot - ggml's SIMD vec_dot| relative to
// sum |w_i x_i| (the scale of the rounding errors in any summation order).
// Float32 summation of up to ~150 block terms in two different orders
// differs by a few units of 2^-24 (6e-8) of that sum: the measured worst
// case (see the log) is about 1.6e-7, so this leaves a margin of six.
const dotTolerance = 1e-6

// VecDot against the CPU backend's vec_dot (the AVX2/AVX-512 kernels
// llama.cpp runs here): not bit-identical, since the SIMD kernels sum in a
// different order (and with FMA), but within dotTolerance. The log reports
// the measured differences.
func TestVecDotOracle(t *testing.T) {
	o := oracle(t)
	for _, w := range dotTypes {
		t.Run(w.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(w), 13))
			var worstNorm, worstRel float64
			exact, trials := 0, 0
			for _, n := range []int{256, 896, 1024, 4864} {
				if n%w.BlockSize() != 0 || n%VecDotType(w).BlockSize() != 0 {
					continue
				}
				for range 40 {
					wb, xb, wf, xf := dotOperands(t, r, w, n, o.Quantize)
					got, err := VecDot(w, n, wb, xb)
					if err != nil {
						t.Fatal(err)
					}
					want, err := o.VecDot(uint32(w), n, wb, xb)
					if err != nil {
						t.Fatal(err)
					}
					var absSum, exactSum float64
					for i := range wf {
						absSum += math.Abs(float64(wf[i]) * float64(xf[i]))
						exactSum += float64(wf[i]) * float64(xf[i])
					}
					diff := math.Abs(float64(got) - float64(want))
					norm := diff / absSum
					if absSum == 0 {
						norm = diff
					}
					if !(norm <= dotTolerance) {
						t.Errorf("n=%d: VecDot = %.9g, ggml-cpu-%s vec_dot %.9g: |diff|/sum|w*x| = %.3g > %g (float64 sum %.9g)",
							n, got, o.Variant, want, norm, dotTolerance, exactSum)
					}
					worstNorm = max(worstNorm, norm)
					if want != 0 {
						worstRel = max(worstRel, diff/math.Abs(float64(want)))
					}
					if got == want {
						exact++
					}
					trials++
				}
			}
			t.Logf("vs ggml-cpu-%s vec_dot: %d/%d identical, max |diff|/sum|w*x| %.3g, max |diff|/|ggml| %.3g",
				o.Variant, exact, trials, worstNorm, worstRel)
		})
	}
}

func TestVecDotErrors(t *testing.T) {
	w := make([]byte, 144)
	x := make([]byte, 292)
	for _, tc := range []struct {
		name string
		t    Type
		n    int
		w, x []byte
		want error
	}{
		{"short weights", Q4_K, 256, w[:143], x, ErrLength},
		{"short activations", Q4_K, 256, w, x[:291], ErrLength},
		{"activations of the wrong type", Q4_K, 256, w, x[:272], ErrLength},
		{"partial block", Q4_K, 128, w[:72], x[:146], ErrLength},
		{"no kernel", Q8_K, 256, x, x, ErrUnsupportedType},
		{"no kernel IQ", IQ4_XS, 256, w[:136], x, ErrUnsupportedType},
		{"unknown", Type(5), 32, w, x, ErrUnknownType},
	} {
		if _, err := VecDot(tc.t, tc.n, tc.w, tc.x); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestDotFuncNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, w := range dotTypes {
		f, err := DotFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		wb := randomBlocks(r, w, 512)
		size, _ := RowSize(VecDotType(w), 512)
		xb := make([]byte, size)
		if a := testing.AllocsPerRun(10, func() { f(512, wb, xb) }); a != 0 {
			t.Errorf("%s: %v allocations per call", w, a)
		}
	}
}
