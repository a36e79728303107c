package quant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// weightRows returns test rows for the weight quantizers: normal weights
// at several scales, one-signed rows, outliers, zeros, constant rows.
func weightRows(n int) map[string][]float32 {
	rows := map[string][]float32{}
	for seed := uint64(1); seed <= 3; seed++ {
		for _, scale := range []float64{1e-3, 0.02, 1, 50} {
			r := rand.New(rand.NewPCG(seed, uint64(scale*1e4)))
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * scale)
			}
			rows[fmt.Sprintf("normal seed %d scale %g", seed, scale)] = x
		}
	}
	mk := func(name string, f func(i int) float32) {
		x := make([]float32, n)
		for i := range x {
			x[i] = f(i)
		}
		rows[name] = x
	}
	mk("zeros", func(int) float32 { return 0 })
	mk("positive", func(i int) float32 { return 0.01 + float32(i%37)*0.003 })
	mk("negative", func(i int) float32 { return -0.01 - float32(i%41)*0.002 })
	mk("constant", func(int) float32 { return 0.125 })
	mk("outlier", func(i int) float32 {
		if i%256 == 77 {
			return 3
		}
		return float32(i%13-6) * 0.001
	})
	mk("one sub-block alive", func(i int) float32 {
		if i%256 < 32 {
			return float32(i%32-16) * 0.01
		}
		return 0
	})
	return rows
}

// blockSteps returns, per element, the quantization step of its sub-block
// (d*sc as the decoder computes it) for a Q4_K, Q6_K or Q8_0 row.
func blockSteps(t Type, b []byte, n int) []float32 {
	steps := make([]float32, n)
	switch t {
	case Q8_0:
		for i := 0; i < n; i++ {
			steps[i] = half(b[34*(i/32):])
		}
	case Q5_0:
		for i := 0; i < n; i++ {
			steps[i] = float32(math.Abs(float64(half(b[22*(i/32):]))))
		}
	case Q4_K:
		for i := 0; i < n; i++ {
			blk := (*[144]byte)(b[144*(i/QK_K):])
			sc, _ := scaleMinK4(i%QK_K/32, (*[12]byte)(blk[4:]))
			steps[i] = half(blk[0:]) * float32(sc)
		}
	case Q6_K:
		for i := 0; i < n; i++ {
			blk := (*[210]byte)(b[210*(i/QK_K):])
			steps[i] = half(blk[208:]) * float32(int8(blk[192+i%QK_K/16]))
		}
	}
	return steps
}

// Round trip: quantize, dequantize, and every value lands within half a
// step of the input (plus float32 rounding of the decoder's arithmetic).
// Q8_0 is ggml's reference algorithm, which rounds with the float32 scale
// d = amax/127 and stores it as fp16 afterwards: its bound is
// d/2 + 127*|d - fp16(d)|.
//
// Q5_0 (ggml's reference too) puts the value of largest magnitude on
// level 0 and caps the levels at 31, so a value of the other sign near
// that magnitude can be a whole step off: its bound is one step (of the
// float32 scale) plus 16*|d - fp16(d)|.
func TestQuantizeWeightsRoundTrip(t *testing.T) {
	const n = 4 * QK_K
	for _, ty := range []Type{Q8_0, Q5_0, Q4_K, Q6_K} {
		for name, x := range weightRows(n) {
			size, _ := RowSize(ty, n)
			b := make([]byte, size)
			if err := QuantizeWeights(ty, b, x); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, n)
			if err := DequantizeRow(ty, y, b); err != nil {
				t.Fatal(err)
			}
			steps := blockSteps(ty, b, n)
			var worst float64
			for i := range x {
				err := math.Abs(float64(x[i]) - float64(y[i]))
				bound := 0.5*float64(steps[i])*(1+1e-5) + 1e-6*math.Abs(float64(x[i]))
				if ty == Q8_0 {
					d32 := float64(absMax32((*[32]float32)(x[i&^31:])) / 127)
					bound = 0.5*d32*(1+1e-5) + 127*math.Abs(d32-float64(steps[i])) + 1e-6*math.Abs(float64(x[i]))
				}
				if ty == Q5_0 {
					d32 := float64(absMax32((*[32]float32)(x[i&^31:])) / 16)
					bound = d32*(1+1e-5) + 16*math.Abs(d32-float64(steps[i])) + 1e-6*math.Abs(float64(x[i]))
				}
				if steps[i] == 0 {
					bound = 0 // a zero step is only allowed for an all-zero sub-block
				}
				if err > bound {
					t.Fatalf("%s %s: element %d: %g decodes to %g (error %g > half step %g)", ty, name, i, x[i], y[i], err, steps[i]/2)
				}
				if steps[i] > 0 {
					worst = max(worst, err/float64(steps[i]))
				}
			}
			if name == "normal seed 1 scale 0.02" {
				t.Logf("%s normal(0, 0.02): worst error %.3f steps", ty, worst)
			}
		}
	}
}

// The blocks decode in ggml (to_float) exactly as in DequantizeRow, and
// Q8_0 and Q5_0 weights are byte for byte ggml's quantize_row_q8_0_ref and
// quantize_row_q5_0_ref.
func TestQuantizeWeightsOracle(t *testing.T) {
	o := oracle(t)
	const n = 4 * QK_K
	for _, ty := range []Type{Q8_0, Q5_0, Q4_K, Q6_K} {
		for name, x := range weightRows(n) {
			size, _ := RowSize(ty, n)
			b := make([]byte, size)
			if err := QuantizeWeights(ty, b, x); err != nil {
				t.Fatal(err)
			}
			want, err := o.Dequantize(uint32(ty), b, n)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, n)
			if err := DequantizeRow(ty, got, b); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %s: element %d decodes to %g, ggml %g", ty, name, i, got[i], want[i])
				}
			}
			if ty == Q8_0 || ty == Q5_0 {
				ref, err := o.QuantizeRef(uint32(ty), x)
				if err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(b, ref); i >= 0 {
					t.Fatalf("%s %s: byte %d differs from ggml's reference quantizer", ty, name, i)
				}
			}
		}
	}
}

// Q4_K and Q6_K blocks built here also fit ggml's own quantizer's error
// level: on normal weights the RMS error is within 1.5x of what
// quantize_row_q4_K_ref / quantize_row_q6_K_ref achieve on the same data.
func TestQuantizeWeightsVsGGML(t *testing.T) {
	o := oracle(t)
	const n = 16 * QK_K
	r := rand.New(rand.NewPCG(42, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.02)
	}
	for _, ty := range []Type{Q4_K, Q6_K} {
		size, _ := RowSize(ty, n)
		b := make([]byte, size)
		if err := QuantizeWeights(ty, b, x); err != nil {
			t.Fatal(err)
		}
		ref, err := o.QuantizeRef(uint32(ty), x)
		if err != nil {
			t.Fatal(err)
		}
		rms := func(blocks []byte) float64 {
			y := make([]float32, n)
			if err := DequantizeRow(ty, y, blocks); err != nil {
				t.Fatal(err)
			}
			var s float64
			for i := range x {
				d := float64(x[i] - y[i])
				s += d * d
			}
			return math.Sqrt(s / n)
		}
		ours, theirs := rms(b), rms(ref)
		t.Logf("%s on N(0, 0.02): RMS error %.3g here, %.3g with ggml's reference quantizer", ty, ours, theirs)
		if ours > 1.5*theirs {
			t.Errorf("%s RMS error %.3g is more than 1.5x ggml's %.3g", ty, ours, theirs)
		}
	}
}

func TestQuantizeWeightsErrors(t *testing.T) {
	if err := QuantizeWeights(Q5_K, make([]byte, 176), make([]float32, 256)); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("Q5_K: %v", err)
	}
	if err := QuantizeWeights(Q4_K, make([]byte, 100), make([]float32, 256)); !errors.Is(err, ErrLength) {
		t.Errorf("short: %v", err)
	}
	if err := QuantizeWeights(Q6_K, make([]byte, 210), make([]float32, 200)); !errors.Is(err, ErrLength) {
		t.Errorf("partial block: %v", err)
	}
	// A block that is all zeros encodes as zero scales.
	b := make([]byte, 144)
	b[7] = 0xff
	if err := QuantizeWeights(Q4_K, b, make([]float32, 256)); err != nil {
		t.Fatal(err)
	}
	if d := binary.LittleEndian.Uint16(b); d != 0 {
		t.Errorf("zero block: d = %#04x", d)
	}
}
