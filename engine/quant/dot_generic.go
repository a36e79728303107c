//go:build !amd64 || purego

package quant

// simdEnabled is false where there are no SIMD kernels (other
// architectures, or the purego build tag): DotFunc returns the scalar
// kernels of dot.go.
var simdEnabled = false

// simdDot returns nil: there are no SIMD kernels in this build.
func simdDot(Type) DotKernel { return nil }

// simdDotRows returns nil: there are no SIMD kernels in this build.
func simdDotRows(Type, DotRowsKernel) DotRowsKernel { return nil }

// simdDotMatrix returns nil: there are no SIMD kernels in this build.
func simdDotMatrix(Type, DotRowsKernel) DotMatrixKernel { return nil }

// quantQ8_0Arch does nothing: the Go loop quantizes every block.
func quantQ8_0Arch([]byte, []float32) int { return 0 }

// quantQ8_KArch does nothing: the Go loop quantizes every block.
func quantQ8_KArch([]byte, []float32) int { return 0 }

// Kernels names the kernel set DotFunc, DotRowsFunc and DotMatrixFunc
// return: "generic" (the scalar Go kernels) in this build.
func Kernels() string { return "generic" }
