package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// IEEE 754 binary16 facts (the standard, not this code, is the reference).
func TestFP16Known(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},                       // largest finite
		{65519.996, 0x7bff},                   // just below the tie
		{65520, 0x7c00},                       // tie between 65504 and 2^16: even is infinity
		{float32(math.Ldexp(1, -14)), 0x0400}, // smallest normal
		{float32(math.Ldexp(1, -24)), 0x0001}, // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000}, // tie between 0 and 2^-24: even is 0
		{float32(math.Ldexp(3, -26)), 0x0001}, // 0.75 of the smallest subnormal
		{float32(math.Ldexp(3, -25)), 0x0002}, // 1.5 subnormal steps: tie to even 2
		{float32(math.Ldexp(1023, -24)), 0x03ff},
		{1 + float32(math.Ldexp(1, -11)), 0x3c00}, // tie: even mantissa stays
		{1 + float32(math.Ldexp(3, -11)), 0x3c02}, // tie: odd mantissa rounds up
		{float32(math.Inf(1)), 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := FP32ToFP16(tc.f); got != tc.h {
			t.Errorf("FP32ToFP16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	if got := FP16ToFP32(0x0001); got != float32(math.Ldexp(1, -24)) {
		t.Errorf("FP16ToFP32(0x0001) = %g, want 2^-24", got)
	}
	if got := FP16ToFP32(0x7bff); got != 65504 {
		t.Errorf("FP16ToFP32(0x7bff) = %g, want 65504", got)
	}
	if got := FP32ToBF16(1 + float32(math.Ldexp(1, -8))); got != 0x3f80 {
		t.Errorf("FP32ToBF16(1+2^-8) = %#04x, want 0x3f80 (tie to even)", got)
	}
}

// Every binary16 value against ggml_fp16_to_fp32.
func TestFP16ToFP32Oracle(t *testing.T) {
	o := oracle(t)
	for h := 0; h < 1<<16; h++ {
		got, want := math.Float32bits(FP16ToFP32(uint16(h))), math.Float32bits(o.FP16ToFP32(uint16(h)))
		if got != want {
			t.Fatalf("FP16ToFP32(%#04x) = %#08x, ggml_fp16_to_fp32 %#08x", h, got, want)
		}
	}
}

// special float32 inputs for the conversions: signed zeros, infinities,
// NaNs with payloads, the binary16 and bfloat16 boundaries and subnormals.
func specialFloats() []float32 {
	var out []float32
	for _, b := range []uint32{
		0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001,
		0x7f800001, 0x7fbfffff, 0x7fe12345, 0x00000001, 0x807fffff, 0x00400000,
		0x477fe000, 0x477fefff, 0x477ff000, 0x477fffff, 0x47800000, // around 65504..65536
		0x33000000, 0x33000001, 0x337fffff, 0x33800000, 0x38800000, 0x387fffff, // half subnormal range
		0x3f808000, 0x3f818000, 0x3f807fff, 0x7f7fffff, 0xff7f8000, // bf16 ties, max
	} {
		out = append(out, math.Float32frombits(b))
	}
	return out
}

// FP32ToFP16 against ggml_fp32_to_fp16 (ggml's software conversion) and
// FP32ToBF16 against ggml_fp32_to_bf16, on random bit patterns (all
// exponents) and the special values.
func TestFP32ToHalfOracle(t *testing.T) {
	o := oracle(t)
	r := rand.New(rand.NewPCG(1, 2))
	in := specialFloats()
	for range 300000 {
		in = append(in, math.Float32frombits(r.Uint32()))
	}
	for _, f := range in {
		if got, want := FP32ToFP16(f), o.FP32ToFP16(f); got != want {
			t.Fatalf("FP32ToFP16(%#08x) = %#04x, ggml_fp32_to_fp16 %#04x", math.Float32bits(f), got, want)
		}
		if got, want := FP32ToBF16(f), o.FP32ToBF16(f); got != want {
			t.Fatalf("FP32ToBF16(%#08x) = %#04x, ggml_fp32_to_bf16 %#04x", math.Float32bits(f), got, want)
		}
	}
}
