//go:build amd64 && !purego

package quant

import "golang.org/x/sys/cpu"

// vnniEnabled selects the AVX-512 VNNI matrix kernels (VPDPBUSD on 512-bit
// registers) where the CPU has them; the AVX2 kernels stay the fallback,
// and tests turn it off to compare the two with each other and with the
// scalar kernels.
var vnniEnabled = simdEnabled && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW &&
	cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI

// vnniDotMatrix returns the AVX-512 VNNI matrix kernel for weights of type
// t, or nil when there is none or the CPU lacks VNNI (simdDotMatrix then
// returns the AVX2 one). rows is the type's DotRowsKernel, for the cases a
// kernel hands back (one token, rows left over).
func vnniDotMatrix(t Type, rows DotRowsKernel) DotMatrixKernel {
	if !vnniEnabled {
		return nil
	}
	switch t {
	case Q4_K, Q6_K:
		return vnniDotMatrixK(t, rows)
	case Q5_0, Q8_0:
		return vnniDotMatrixQ(t, rows)
	}
	return nil
}

// vnniDotRows returns the AVX-512 one-token kernel for weights of type t,
// or nil when there is none or the CPU lacks VNNI (simdDotRows then
// returns the AVX2 one, if any). rows is the row-by-row kernel.
func vnniDotRows(t Type, rows DotRowsKernel) DotRowsKernel {
	if !vnniEnabled || (t != Q4_K && t != Q6_K) {
		return nil
	}
	return vnniDotRowsK(t, rows)
}

// Kernels names the kernel set DotFunc, DotRowsFunc and DotMatrixFunc
// return here: "avx512-vnni+vbmi" or "avx512-vnni" (the VNNI matrix and
// K-quant one-token kernels, the AVX2 ones for the rest), "avx2", or
// "generic" (the scalar Go kernels). Every set gives the same bits; a
// trace's provenance names it (the backend's device) so that a timing
// can be told apart.
func Kernels() string {
	switch {
	case vnniEnabled && vbmiEnabled:
		return "avx512-vnni+vbmi"
	case vnniEnabled:
		return "avx512-vnni"
	case simdEnabled:
		return "avx2"
	}
	return "generic"
}
