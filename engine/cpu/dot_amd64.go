//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2 dot kernels of dot_amd64.s; tests turn it off to
// compare them with dotF32Go. They are written by hand because the Go
// compiler does not vectorize, and no Go library sums float32 products in
// a documented order without FMA, which the engine's bit-for-bit promises
// need (modes, thread counts, prefill against decode). The kernels add the products lane-wise with
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

// dotF32x3 sets out[j] = dotF32(a, b[j*len(a):(j+1)*len(a)]) for j < 3;
// a is not empty. The AVX2 kernel loads each chunk of a once for the three
// products. Where dotF32Matrix passes an activation row as a and weight
// rows as b, the products are x*w instead of w*x: the same bits, float
// multiplication being commutative (for NaN operands the payload may
// differ, which dotF32 does not promise anyway).
func dotF32x3(out *[3]float32, a, b []float32) {
	n := len(a)
	b = b[:3*n]
	if !useAVX2 {
		out[0], out[1], out[2] = dotF32Go(a, b[:n]), dotF32Go(a, b[n:2*n]), dotF32Go(a, b[2*n:])
		return
	}
	if useAVX512 {
		dotF32x3AVX512(&a[0], &b[0], n, n, out)
		return
	}
	dotF32x3AVX2(&a[0], &b[0], n, n, out)
}

// useAVX512 selects dotF32x3AVX512, the three-row kernel on 512-bit
// registers (same lanes, same bits); tests turn it off to compare.
var useAVX512 = useAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// dotF32x3AVX512 is dotF32x3AVX2 with 16-lane registers.
//
//go:noescape
func dotF32x3AVX512(w, x *float32, stride, n int, out *[3]float32)

// dotF32AVX2 is dotF32 of the n >= 1 elements at a and b.
//
//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

// dotF32x3AVX2 sets out[j] = dotF32 of the n >= 1 elements at w and at
// x + j*stride elements, for j < 3 (w the first operand of each product).
//
//go:noescape
func dotF32x3AVX2(w, x *float32, stride, n int, out *[3]float32)

// weightedSum sets out[i] = the sum over j, in order, of float32(p[j] *
// v[j*vstride+i]) (attention's softmax-weighted value rows), starting
// from +0 as a cleared out. The AVX2 kernel takes the elements eight at a
// time, one per lane, with the scalar loop's operations in its order; the
// elements past the last eight go through weightedSumGo.
func weightedSum(out, p, v []float32, vstride int) {
	n8 := len(out) &^ 7
	if !useAVX2 || n8 == 0 || len(p) == 0 {
		weightedSumGo(out, p, v, vstride)
		return
	}
	_ = v[(len(p)-1)*vstride+len(out)-1]
	weightedSumAVX2(&out[0], &p[0], &v[0], vstride, len(p), n8)
	if n8 < len(out) {
		weightedSumGo(out[n8:], p, v[n8:], vstride)
	}
}

//go:noescape
func weightedSumAVX2(out, p, v *float32, vstride, rows, n int)
