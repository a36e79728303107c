package quant

import (
	"fmt"
	"testing"
)

// BenchmarkDequantizeKernels decodes a row of 4864 elements (Qwen2-0.5B's
// FFN width) with the SIMD kernels on and forced off, in one run, so the
// two columns come from the same machine state. SetBytes is the float32
// output (MB/s column). On builds without SIMD kernels both are scalar.
func BenchmarkDequantizeKernels(b *testing.B) {
	for _, t := range []Type{F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K} {
		for _, simd := range []bool{true, false} {
			name := "scalar"
			if simd {
				name = "simd"
			}
			b.Run(fmt.Sprintf("%s/4864/%s", t, name), func(b *testing.B) {
				saved := simdEnabled
				simdEnabled = simd && saved
				defer func() { simdEnabled = saved }()
				benchmarkDequantize(b, t, 4864)
			})
		}
	}
}
