package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var activationTypes = []Type{F32, F16, BF16, Q8_0, Q8_1, Q8_K}

// activationCase is one input vector for the quantizer comparisons.
type activationCase struct {
	name string
	x    []float32
}

// activationCases builds the vectors the quantizers are compared on:
// random rows at many scales and seeds, and the edge cases where rounding
// rules show (ties at .5, zeros, huge, tiny, subnormal, a negative maximum).
func activationCases(n int) []activationCase {
	var cases []activationCase
	for seed := uint64(1); seed <= 4; seed++ {
		for _, scale := range []float64{1e-6, 1e-2, 1, 37, 1e4, 1e30} {
			r := rand.New(rand.NewPCG(seed, uint64(scale*1e6)))
			cases = append(cases, activationCase{fmt.Sprintf("random seed %d scale %g", seed, scale), randomActivations(r, n, scale)})
		}
	}
	fill := func(name string, f func(i int) float32) {
		x := make([]float32, n)
		for i := range x {
			x[i] = f(i)
		}
		cases = append(cases, activationCase{name, x})
	}
	fill("zeros", func(int) float32 { return 0 })
	fill("negative zeros", func(int) float32 { return float32(math.Copysign(0, -1)) })
	// With the block's |max| = 127, ggml's scales are exactly 1, so k+0.5
	// values are exact ties: the reference rounds them away from zero, the
	// x86 quantizer to even.
	fill("ties, max 127", func(i int) float32 {
		if i%32 == 0 {
			return 127
		}
		return float32(i%60-30) + 0.5
	})
	fill("ties, max -127", func(i int) float32 {
		if i%32 == 0 {
			return -127
		}
		return float32(i%40-20) + 0.5
	})
	fill("negative max", func(i int) float32 { return -float32(i%17) - 0.25 })
	fill("one value per block", func(i int) float32 {
		if i%32 == 5 {
			return float32(i) * 0.001
		}
		return 0
	})
	fill("all equal", func(int) float32 { return 0.3 })
	fill("huge", func(i int) float32 { return float32(math.Ldexp(float64(1+i%7), 124)) * float32(1-2*(i%2)) })
	fill("tiny normal", func(i int) float32 { return float32(math.Ldexp(float64(i%9-4), -120)) })
	fill("subnormal", func(i int) float32 { return math.Float32frombits(uint32(i%5000)) * float32(1-2*(i%3%2)) })
	fill("half subnormal range", func(i int) float32 { return float32(math.Ldexp(float64(i%100-50), -30)) })
	fill("fp16 overflow scale", func(i int) float32 { return float32(9e6 * float64(i%13-6)) })
	return cases
}

// specialActivations adds the inputs only the plain conversions take:
// infinities, NaNs with payloads, values at the binary16 limits.
func specialActivations(n int) []activationCase {
	sp := specialFloats()
	x := make([]float32, n)
	for i := range x {
		x[i] = sp[i%len(sp)]
	}
	return []activationCase{{"special values", x}, {"special values, odd tail", x[:n-3]}}
}

// QuantizeRow must equal the CPU backend's from_float and QuantizeRowRef
// ggml's reference quantizer, byte for byte, on every case.
func TestQuantizeOracle(t *testing.T) {
	o := oracle(t)
	const n = 4 * QK_K
	for _, ty := range activationTypes {
		t.Run(ty.String(), func(t *testing.T) {
			cases := activationCases(n)
			if ty == F16 || ty == BF16 || ty == F32 {
				cases = append(cases, specialActivations(n)...)
			}
			differ, noRef := 0, ""
			for _, c := range cases {
				size, _ := RowSize(ty, int64(len(c.x)))
				got := make([]byte, size)
				gotRef := make([]byte, size)
				if err := QuantizeRow(ty, got, c.x); err != nil {
					t.Fatal(err)
				}
				if err := QuantizeRowRef(ty, gotRef, c.x); err != nil {
					t.Fatal(err)
				}
				want, err := o.Quantize(uint32(ty), c.x)
				if err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(got, want); i >= 0 {
					t.Errorf("%s: QuantizeRow differs from ggml-cpu-%s from_float at byte %d (block %d): %#02x vs %#02x",
						c.name, o.Variant, i, i/ty.TypeSize(), got[i], want[i])
				}
				wantRef, err := o.QuantizeRef(uint32(ty), c.x)
				if err != nil {
					noRef = err.Error()
				} else if i := firstDiff(gotRef, wantRef); i >= 0 {
					t.Errorf("%s: QuantizeRowRef differs from ggml's reference at byte %d (block %d): %#02x vs %#02x",
						c.name, i, i/ty.TypeSize(), gotRef[i], wantRef[i])
				}
				if firstDiff(want, wantRef) >= 0 && wantRef != nil {
					differ++
				}
			}
			if noRef != "" {
				t.Logf("QuantizeRowRef not compared: %s", noRef)
			}
			t.Logf("%d cases; ggml's CPU and reference quantizers disagree on %d of them", len(cases), differ)
		})
	}
}

// The documented difference is real: on exact ties the reference rounds
// away from zero and the x86 quantizer to even.
func TestQuantizeQ8_0TieRule(t *testing.T) {
	x := make([]float32, 32)
	x[0] = 127 // scale exactly 1
	x[1], x[2], x[3] = 2.5, -3.5, 0.5
	cpu, ref := make([]byte, 34), make([]byte, 34)
	if err := QuantizeRow(Q8_0, cpu, x); err != nil {
		t.Fatal(err)
	}
	if err := QuantizeRowRef(Q8_0, ref, x); err != nil {
		t.Fatal(err)
	}
	if got := [3]int8{int8(cpu[3]), int8(cpu[4]), int8(cpu[5])}; got != [3]int8{2, -4, 0} {
		t.Errorf("QuantizeRow ties = %v, want [2 -4 0] (half to even)", got)
	}
	if got := [3]int8{int8(ref[3]), int8(ref[4]), int8(ref[5])}; got != [3]int8{3, -4, 1} {
		t.Errorf("QuantizeRowRef ties = %v, want [3 -4 1] (half away from zero)", got)
	}
}

func TestQuantizeRowErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Type
		n    int
		dst  int
		want error
	}{
		{"short dst", Q8_K, 256, 291, ErrLength},
		{"partial block", Q8_0, 48, 51, ErrLength},
		{"weight type", Q4_K, 256, 144, ErrUnsupportedType},
		{"unknown", Type(77), 32, 34, ErrUnsupportedType},
	} {
		for _, f := range []func(Type, []byte, []float32) error{QuantizeRow, QuantizeRowRef} {
			err := f(tc.t, make([]byte, tc.dst), make([]float32, tc.n))
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
		}
	}
}

func TestQuantizeRowNoAlloc(t *testing.T) {
	x := randomActivations(rand.New(rand.NewPCG(1, 1)), 512, 1)
	for _, ty := range activationTypes {
		size, _ := RowSize(ty, 512)
		dst := make([]byte, size)
		if a := testing.AllocsPerRun(10, func() { _ = QuantizeRow(ty, dst, x) }); a != 0 {
			t.Errorf("QuantizeRow %s: %v allocations", ty, a)
		}
		if a := testing.AllocsPerRun(10, func() { _ = QuantizeRowRef(ty, dst, x) }); a != 0 {
			t.Errorf("QuantizeRowRef %s: %v allocations", ty, a)
		}
	}
}

func TestVecDotType(t *testing.T) {
	o := oracle(t)
	for _, ty := range []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		if got, want := VecDotType(ty), Type(o.VecDotType(uint32(ty))); got != want {
			t.Errorf("VecDotType(%s) = %s, ggml-cpu says %s", ty, got, want)
		}
	}
}
