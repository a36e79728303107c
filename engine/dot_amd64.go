//go:build amd64 && !purego

package engine

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2 dot kernels of dot_amd64.s; tests turn it off to
// compare them with dotF32Go. The kernels add the products lane-wise with
// VMULPS then VADDPS (never FMA) into four 8-lane accumulators, which is
// dotF32's order by construction: accumulator k, lane l holds s[8k+l].
// A tail shorter than 32 elements is added chunk by chunk into the next
// accumulators, its last partial chunk through a masked load: the masked
// lanes add +0*+0 = +0, which leaves a partial sum unchanged (a sum that
// starts at +0 under round-to-nearest is never -0).
var useAVX2 = cpu.X86.HasAVX2

func dotF32Arch(a, b []float32) float32 {
	if !useAVX2 {
		return dotF32Go(a, b)
	}
	return dotF32AVX2(&a[0], &b[0], len(a))
}

// dotF32AVX2 is dotF32 of the n >= 1 elements at a and b.
//
//go:noescape
func dotF32AVX2(a, b *float32, n int) float32
