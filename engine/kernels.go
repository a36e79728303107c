package engine

import (
	"math"
	"unsafe"
)

// The float kernels follow ggml-cpu's formulas (ops.cpp, vec.h) operation
// for operation where the order is part of the result: float32 products
// summed in float64 for RMSNorm and softmax, RoPE angles by repeated
// float32 multiplication. Sums of float32 products (dotF32) use their own
// fixed order; ggml's SIMD order differs by float32 rounding only.

// dotF32 returns sum(a[i]*b[i]) over len(a) elements, accumulated in
// float32 in eight interleaved partial sums reduced pairwise. Every caller
// that multiplies float32 by float32 (F32 weights in both matmul modes,
// attention) uses it, so modes agree bit for bit where they should.
func dotF32(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
		s4 += a[i+4] * b[i+4]
		s5 += a[i+5] * b[i+5]
		s6 += a[i+6] * b[i+6]
		s7 += a[i+7] * b[i+7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
}

// rmsNorm writes x / sqrt(mean(x^2) + eps) * w to out (ggml_rms_norm
// followed by ggml_mul). x, w, out have the same length.
func rmsNorm(out, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / sqrtf(mean+eps)
	for i, v := range x {
		out[i] = (v * scale) * w[i]
	}
}

func sqrtf(x float32) float32 { return float32(math.Sqrt(float64(x))) }
func expf(x float32) float32  { return float32(math.Exp(float64(x))) }

// silu returns x * sigmoid(x) = x / (1 + e^-x) (ggml_silu_f32).
func silu(x float32) float32 { return x / (1 + expf(-x)) }

// ropeCache fills cos and sin (each nRot/2 long) for one position the way
// ggml_rope_cache_init does: theta starts at the position and is multiplied
// by base^(-2/nRot) in float32 after each pair.
func ropeCache(cos, sin []float32, pos int, nRot int, base float32) {
	thetaScale := float32(math.Pow(float64(base), float64(float32(-2)/float32(nRot))))
	theta := float32(pos)
	for i := range cos {
		cos[i] = float32(math.Cos(float64(theta)))
		sin[i] = float32(math.Sin(float64(theta)))
		theta *= thetaScale
	}
}

// rope rotates one head in place. Normal mode pairs (2i, 2i+1); NEOX pairs
// (i, i+nRot/2). Dimensions past nRot are left as they are.
func rope(x, cos, sin []float32, nRot int, mode RopeType) {
	half := nRot / 2
	for i := range half {
		var i0, i1 int
		if mode == RopeNeox {
			i0, i1 = i, i+half
		} else {
			i0, i1 = 2*i, 2*i+1
		}
		x0, x1 := x[i0], x[i1]
		x[i0] = x0*cos[i] - x1*sin[i]
		x[i1] = x0*sin[i] + x1*cos[i]
	}
}

// softmaxScaled replaces x with softmax(x*scale) (ggml_soft_max_ext without
// mask: the causal mask is applied by passing only the visible positions).
// The sum of exponentials is kept in float64 as ggml does.
func softmaxScaled(x []float32, scale float32) {
	maxv := float32(math.Inf(-1))
	for i := range x {
		x[i] *= scale
		maxv = max(maxv, x[i])
	}
	var sum float64
	for i, v := range x {
		e := expf(v - maxv)
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// f32View reinterprets little-endian float32 bytes as []float32 without
// copying. The engine runs only on little-endian hosts, and every F32
// tensor starts at an offset aligned to at least 32 bytes in GGUF and 64 in
// APR, inside a page-aligned mapping.
func f32View(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		panic("engine: F32 tensor data not 4-byte aligned")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
