//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// useExpAVX2 selects exp_amd64.s's four-lane copy of math.Exp. It copies
// the path math.Exp takes where the CPU has FMA (the condition Go's math
// package tests, cpu.X86.HasAVX && cpu.X86.HasFMA); without FMA math.Exp
// takes another sequence of operations, so the engine calls it instead.
// AVX2 is needed for the 256-bit integer steps.
var useExpAVX2 = cpu.X86.HasAVX && cpu.X86.HasFMA && cpu.X86.HasAVX2

// expfs sets x[i] = expf(x[i]) for every i.
func expfs(x []float32) {
	i := 0
	for i < len(x) {
		if useExpAVX2 && len(x)-i >= 4 {
			i += expfAVX2(&x[i], len(x)-i)
		}
		// Four arguments outside the kernel's range, or the tail.
		for end := min(i+4, len(x)); i < end; i++ {
			x[i] = expf(x[i])
		}
	}
}

// silus sets out[i] = silu(x[i]) for every i.
func silus(out, x []float32) {
	out = out[:len(x)]
	i := 0
	for i < len(x) {
		if useExpAVX2 && len(x)-i >= 4 {
			i += siluAVX2(&out[i], &x[i], len(x)-i)
		}
		for end := min(i+4, len(x)); i < end; i++ {
			out[i] = silu(x[i])
		}
	}
}

//go:noescape
func expfAVX2(x *float32, n int) int

//go:noescape
func siluAVX2(out, x *float32, n int) int
