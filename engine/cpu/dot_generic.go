//go:build !amd64 || purego

package cpu

// useAVX2 is false where there is no assembly kernel (other architectures,
// or the purego build tag): dotF32 runs dotF32Go.
var useAVX2 = false

func dotF32Arch(a, b []float32) float32 { return dotF32Go(a, b) }

// dotF32x3 sets out[j] = dotF32(a, b[j*len(a):(j+1)*len(a)]) for j < 3.
func dotF32x3(out *[3]float32, a, b []float32) {
	n := len(a)
	b = b[:3*n]
	out[0], out[1], out[2] = dotF32Go(a, b[:n]), dotF32Go(a, b[n:2*n]), dotF32Go(a, b[2*n:])
}

func weightedSum(out, p, v []float32, vstride int) { weightedSumGo(out, p, v, vstride) }

// expfs sets x[i] = expf(x[i]) for every i.
func expfs(x []float32) {
	for i, v := range x {
		x[i] = expf(v)
	}
}

// silus sets out[i] = silu(x[i]) for every i.
func silus(out, x []float32) {
	for i, v := range x {
		out[i] = silu(v)
	}
}

// useExpAVX2 is false: there is no vector exp in this build.
const useExpAVX2 = false

// useAVX512 is false: there is no assembly in this build.
var useAVX512 = false
