package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/falsify/falsify/internal/ggmlref"
)

// oracle returns ggml's own CPU library (the variant llama.cpp would pick
// here), or skips the test saying why it is not available.
func oracle(tb testing.TB) *ggmlref.Lib {
	tb.Helper()
	l, err := ggmlref.Open()
	if err != nil {
		tb.Skipf("ggml oracle: %v", err)
	}
	return l
}

// scalarOracle returns ggml's baseline x86-64 CPU variant (no FMA, no SIMD
// dot kernels: its kernels are ggml's scalar formulas compiled without
// contraction), or skips.
func scalarOracle(tb testing.TB) *ggmlref.Lib {
	tb.Helper()
	l, err := ggmlref.OpenVariant("x64")
	if err != nil {
		tb.Skipf("ggml x64 oracle: %v", err)
	}
	return l
}

// decodableTypes are the types DequantizeRow supports.
var decodableTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K}

// scaleFields lists where each block type keeps its fp16 scales (and, for
// Q8_K, its float32 scale, marked by a negative offset -1-off).
var scaleFields = map[Type][]int{
	Q4_0: {0}, Q4_1: {0, 2}, Q5_0: {0}, Q5_1: {0, 2}, Q8_0: {0}, Q8_1: {0, 2},
	Q2_K: {80, 82}, Q3_K: {108}, Q4_K: {0, 2}, Q5_K: {0, 2}, Q6_K: {208},
	Q8_K: {-1},
}

// randomHalf returns a finite binary16 value of moderate size (|v| in
// about [2^-14, 2^2]), sometimes zero or subnormal.
func randomHalf(r *rand.Rand) uint16 {
	switch r.IntN(16) {
	case 0:
		return 0
	case 1:
		return uint16(r.IntN(0x400)) | uint16(r.IntN(2))<<15 // subnormal
	}
	exp := uint16(1 + r.IntN(16)) // biased 1..16
	return uint16(r.IntN(2))<<15 | exp<<10 | uint16(r.IntN(0x400))
}

// randomBlocks returns n elements' worth of random blocks of type t: random
// quant bits everywhere, with finite random scales so the products are
// comparable bit for bit (a NaN's payload depends on operand order).
func randomBlocks(r *rand.Rand, t Type, n int) []byte {
	size, _ := RowSize(t, int64(n))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	switch t {
	case F32:
		for i := 0; i < n; i++ {
			v := float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-4)))
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	case F16, BF16:
		return b // every bit pattern, NaNs included: pure conversions
	}
	ts := t.TypeSize()
	for off := 0; off < len(b); off += ts {
		for _, f := range scaleFields[t] {
			if f < 0 {
				v := float32(r.NormFloat64()) * float32(math.Pow(2, float64(r.IntN(20)-10)))
				binary.LittleEndian.PutUint32(b[off:], math.Float32bits(v))
				continue
			}
			binary.LittleEndian.PutUint16(b[off+f:], randomHalf(r))
		}
	}
	return b
}

// randomActivations returns n floats shaped like hidden states: normal
// values with a few large outliers, at the given scale.
func randomActivations(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		v := r.NormFloat64()
		if r.IntN(64) == 0 {
			v *= 20
		}
		x[i] = float32(v * scale)
	}
	return x
}

// firstDiff returns the index of the first differing byte, or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}
