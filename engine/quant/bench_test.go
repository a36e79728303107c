package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchmarkDequantize decodes one row of n elements of type t per op;
// SetBytes is the float32 output, so the MB/s column is output throughput.
func benchmarkDequantize(b *testing.B, t Type, n int) {
	r := rand.New(rand.NewPCG(1, 2))
	src := randomBlocks(r, t, n)
	dst := make([]float32, n)
	b.SetBytes(int64(4 * n))
	b.ResetTimer()
	for b.Loop() {
		if err := DequantizeRow(t, dst, src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDequantize(b *testing.B) {
	for _, t := range []Type{Q4_K, Q6_K, Q8_0} {
		for _, n := range []int{4864} {
			b.Run(fmt.Sprintf("%s/%d", t, n), func(b *testing.B) { benchmarkDequantize(b, t, n) })
		}
	}
}

// benchmarkDot is one dot product of n elements per op through DotFunc's
// kernel (what the engine calls per output row and token); SetBytes is the
// weight bytes read.
func benchmarkDot(b *testing.B, t Type, n int) {
	r := rand.New(rand.NewPCG(3, 4))
	w := randomBlocks(r, t, n)
	x := randomActivations(r, n, 1)
	size, _ := RowSize(VecDotType(t), int64(n))
	xb := make([]byte, size)
	if err := QuantizeRow(VecDotType(t), xb, x); err != nil {
		b.Fatal(err)
	}
	f, err := DotFunc(t)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(w)))
	b.ResetTimer()
	var sink float32
	for b.Loop() {
		sink += f(n, w, xb)
	}
	_ = sink
}

// Row lengths of a Qwen2-0.5B-shaped model: 896 (hidden) and 4864 (FFN).
// K-quant rows must be whole 256-blocks, so 896 is not possible for them;
// they run at 1024 instead.
func BenchmarkVecDot(b *testing.B) {
	for _, t := range []Type{Q4_K, Q6_K, Q8_0} {
		for _, n := range []int{896, 1024, 4864} {
			if n%t.BlockSize() != 0 || (t == Q8_0 && n == 1024) {
				continue
			}
			b.Run(fmt.Sprintf("%s/%d", t, n), func(b *testing.B) { benchmarkDot(b, t, n) })
		}
	}
}

// benchmarkQuantize is one activation row of n elements per op.
func benchmarkQuantize(b *testing.B, t Type, n int) {
	x := randomActivations(rand.New(rand.NewPCG(5, 6)), n, 1)
	size, _ := RowSize(t, int64(n))
	dst := make([]byte, size)
	b.SetBytes(int64(4 * n))
	b.ResetTimer()
	for b.Loop() {
		if err := QuantizeRow(t, dst, x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuantizeRow(b *testing.B) {
	for _, t := range []Type{Q8_0, Q8_K} {
		for _, simd := range []bool{true, false} {
			name := map[bool]string{true: "simd", false: "go"}[simd]
			b.Run(fmt.Sprintf("%s/4864/%s", t, name), func(b *testing.B) {
				withSIMD(simd, func() { benchmarkQuantize(b, t, 4864) })
			})
		}
	}
}
