package quant

import (
	"fmt"
	"testing"
)

// BenchmarkVecDotKernels times every quantized dot kernel on a row of
// 4864 elements (Qwen2-0.5B's FFN width) with the SIMD kernels on and
// forced off, in one run, so the two columns come from the same machine
// state. On builds without SIMD kernels both are the scalar ones.
func BenchmarkVecDotKernels(b *testing.B) {
	for _, t := range []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		for _, simd := range []bool{true, false} {
			name := "scalar"
			if simd {
				name = "simd"
			}
			b.Run(fmt.Sprintf("%s/4864/%s", t, name), func(b *testing.B) {
				saved := simdEnabled
				simdEnabled = simd && saved
				defer func() { simdEnabled = saved }()
				benchmarkDot(b, t, 4864)
			})
		}
	}
}
