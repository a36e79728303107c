//go:build !amd64 || purego

package quant

// simdDequant returns nil: there are no SIMD dequantization kernels in this
// build, DequantizeRow runs the scalar kernels of dequant.go.
func simdDequant(Type) func(dst []float32, src []byte) { return nil }
