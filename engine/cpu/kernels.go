package cpu

import (
	"math"
	"unsafe"
)

// The float kernels follow ggml-cpu's formulas (ops.cpp, vec.h) operation
// for operation where the order is part of the result: float32 products
// summed in float64 for RMSNorm and softmax, RoPE angles by repeated
// float32 multiplication. Sums of float32 products (dotF32) use their own
// fixed order; ggml's SIMD order differs by float32 rounding only.

// dotF32 returns sum(a[i]*b[i]) over len(a) elements (b at least as long),
// in float32, in this fixed order:
//
//	p[i] = a[i]*b[i], rounded to float32 (never fused into an FMA)
//	s[k] = sum of p[i] over i ≡ k (mod 32), in increasing i, from +0
//	t[l] = (s[l] + s[16+l]) + (s[8+l] + s[24+l])          l < 8
//	u[l] = t[l] + t[4+l]                                  l < 4
//	result = (u[0] + u[2]) + (u[1] + u[3])
//
// which is four 8-lane accumulators advancing 32 elements a step, then a
// fixed reduction: the order an AVX2 kernel sums in (and two 16-lane
// AVX-512 accumulators, or eight 4-lane NEON ones, could take the same
// order, s[l] + s[16+l] being their first step). dotF32Go is this
// sequence in plain Go; on amd64 with AVX2 dotF32 runs the assembly
// kernel, which returns the same bits for every input whose result is not
// NaN (a NaN result is NaN in both, its payload may differ). Every caller
// that multiplies float32 by float32 (F32 weights in both matmul modes,
// attention scores, and the f32 mode's dequantized rows) uses it or
// dotF32Matrix, which gives its bits three dots at a time, so modes agree
// bit for bit where they should, and the result does not depend on which
// goroutine computes it.
func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	if len(a) == 0 {
		return 0
	}
	return dotF32Arch(a, b)
}

// dotF32Go is dotF32's sequence of operations in Go: the reference the
// assembly must equal, and the kernel where there is none (other
// architectures, -tags purego, no AVX2). The partial sums are independent,
// so it makes four passes over the whole-32 part, eight sums at a time in
// registers, then adds the tail. The explicit float32 conversion of each
// product forbids fusing it into the addition (the Go spec allows fusing
// x*y + z otherwise, and arm64 does).
func dotF32Go(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s [32]float32
	full := n &^ 31
	for g := 0; g < 32; g += 8 {
		var s0, s1, s2, s3, s4, s5, s6, s7 float32
		for i := g; i < full; i += 32 {
			x, y := (*[8]float32)(a[i:]), (*[8]float32)(b[i:])
			s0 += float32(x[0] * y[0])
			s1 += float32(x[1] * y[1])
			s2 += float32(x[2] * y[2])
			s3 += float32(x[3] * y[3])
			s4 += float32(x[4] * y[4])
			s5 += float32(x[5] * y[5])
			s6 += float32(x[6] * y[6])
			s7 += float32(x[7] * y[7])
		}
		s[g], s[g+1], s[g+2], s[g+3], s[g+4], s[g+5], s[g+6], s[g+7] = s0, s1, s2, s3, s4, s5, s6, s7
	}
	for k := 0; full+k < n; k++ {
		s[k] += float32(a[full+k] * b[full+k])
	}
	return reduce32(&s)
}

// dotF32Matrix sets, for every weight row r < rows and token t < n,
//
//	out[t*stride + r] = dotF32(w[r*cols : (r+1)*cols], x[t*cols : (t+1)*cols])
//
// with cols = len(w)/rows: a matmul of a few weight rows (in cache) by n
// activation rows. It takes the products three dots at a time
// (dotF32x3): for three or more tokens each weight row against tokens in
// threes, then the tokens left over (and every token of a decode step)
// against weight rows in threes. Every output keeps dotF32's bits, so the
// grouping, like the thread count, changes nothing.
func dotF32Matrix(out []float32, stride int, w []float32, rows int, x []float32, n int) {
	if rows == 0 || n == 0 {
		return
	}
	cols := len(w) / rows
	w, x = w[:rows*cols], x[:n*cols]
	var r3 [3]float32
	done := 0
	if n >= 3 && cols > 0 {
		done = n - n%3
		for r := range rows {
			wr := w[r*cols : (r+1)*cols]
			for t := 0; t < done; t += 3 {
				dotF32x3(&r3, wr, x[t*cols:(t+3)*cols])
				out[t*stride+r], out[(t+1)*stride+r], out[(t+2)*stride+r] = r3[0], r3[1], r3[2]
			}
		}
	}
	for t := done; t < n; t++ {
		xt := x[t*cols : (t+1)*cols]
		o := out[t*stride : t*stride+rows]
		r := 0
		for ; r+3 <= rows && cols > 0; r += 3 {
			dotF32x3((*[3]float32)(o[r:]), xt, w[r*cols:(r+3)*cols])
		}
		for ; r < rows; r++ {
			o[r] = dotF32(w[r*cols:(r+1)*cols], xt)
		}
	}
}

// reduce32 adds dotF32's 32 partial sums in its fixed order.
func reduce32(s *[32]float32) float32 {
	var t [8]float32
	for l := range t {
		t[l] = (s[l] + s[16+l]) + (s[8+l] + s[24+l])
	}
	u0, u1, u2, u3 := t[0]+t[4], t[1]+t[5], t[2]+t[6], t[3]+t[7]
	return (u0 + u2) + (u1 + u3)
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

// weightedSumGo is weightedSum's sequence of operations in Go: out[i] is
// cleared, then each row j adds its product (rounded: no FMA on arm64).
func weightedSumGo(out, p, v []float32, vstride int) {
	clear(out)
	for j, pj := range p {
		vr := v[j*vstride : j*vstride+len(out)]
		for i := range out {
			out[i] += float32(pj * vr[i])
		}
	}
}

// silu returns x * sigmoid(x) = x / (1 + e^-x) (ggml_silu_f32).
func silu(x float32) float32 { return x / (1 + expf(-x)) }

// rope rotates one head in place. Normal mode pairs (2i, 2i+1); NEOX pairs
// (i, i+nRot/2). Dimensions past nRot are left as they are. Each product
// is rounded before the addition (the explicit conversions stop arm64's
// compiler fusing them into FMADD/FMSUB, as amd64's never does), so every
// architecture gets the bits the goldens were checked on.
func rope(x, cos, sin []float32, nRot int, neox bool) {
	half := nRot / 2
	for i := range half {
		var i0, i1 int
		if neox {
			i0, i1 = i, i+half
		} else {
			i0, i1 = 2*i, 2*i+1
		}
		x0, x1 := x[i0], x[i1]
		x[i0] = float32(x0*cos[i]) - float32(x1*sin[i])
		x[i1] = float32(x0*sin[i]) + float32(x1*cos[i])
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
	for i, v := range x {
		x[i] = v - maxv
	}
	expfs(x)
	var sum float64
	for _, e := range x {
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
		panic("cpu: F32 tensor data not 4-byte aligned")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
