//go:build amd64 && !purego

package quant

import "unsafe"

// The AVX-512 VNNI K-quant matrix kernels (dotQ4_KPairAsm,
// dotQ6_KPairAsm in dotvnni_k_amd64.s, which gives their layouts) work on
// int16 pairs: each weight block is decoded once per call and 16 tokens
// into 128 pairs (w(e), w(e+8)), e = 32c + 16h + l (l < 8), with the
// sub-block scale multiplied in (scale*q fits int16: at most 63*15 for
// Q4_K, 128*32 for Q6_K), and the activations, sign-extended, into the
// same pairs; both elements of a pair are in lane l = e mod 8 of ggml's
// eight int32 lanes and under one scale (Q4_K's scales cover 32 elements,
// Q6_K's 16). VPDPWSSD then multiplies the pairs and adds both products
// to one int32 lane: sixteen of them per row, token pair and block give
// aux[0..7] of two tokens. The products are exact and no sum can wrap
// (|aux| < 2^25 for any bytes), so the lanes are the scalar kernels'
// aux[l]; every float step is the scalar kernels' own, lane-wise:
// sums[l] += (d*yd)*float32(aux[l]) block after block (Q4_K also sumf -=
// (dmin*yd)*float32(mins term), the mins term exact in int32 the same
// way), then sumf + sums[0] + ... + sums[7]. Never FMA.
//
// Measured against the AVX2 matrix kernels (dotQ4_KMatAsm, one row
// against up to 16 tokens, eight VPMADDUBSW + VPMADDWD per token and
// block), they take about half the time per row and block at 7, 16 and
// 64 tokens (BenchmarkVNNIDotMatrixK). A kernel with the tokens in the
// lanes (one int32 of each of 16 tokens per register, the weights'
// pairs broadcast) needs 128 VPDPWSSD per row and block whatever the
// number of tokens and was slower at every count measured.

// The pair kernels take up to kpTokens tokens, four rows at a time.
const (
	kpTokens    = 16
	kpMinTokens = 4
	kpPrepBlock = 9280
	kpWork      = 5120
)

// kpAsm is the signature of the pair kernels: nrows (a multiple of 4)
// rows of w, nb blocks each, against nt in 1..16 tokens prepared at x,
// out[t*ostride + r] (float32 elements from out).
type kpAsm func(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// dotMatrixKPair runs a pair kernel over the rows in groups of four, the
// tokens in chunks of up to kpTokens; the rows past the last group of
// four go through rows. Fewer than kpMinTokens tokens (a whole call or
// the last chunk) go through small, the AVX2 matrix kernel: the pair
// kernel computes four token pairs per block whatever the count, which
// costs more than the AVX2 kernel's per-token work below four tokens.
func dotMatrixKPair(asm kpAsm, mins bool, ws int, rows DotRowsKernel, small DotMatrixKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	checkMatrixStrides(stride, xstride, ostride)
	nb := n / QK_K
	if nrows == 0 || tokens == 0 {
		return
	}
	quads := nrows &^ 3
	if nb == 0 || tokens < kpMinTokens || quads == 0 {
		small(n, w, stride, nrows, x, xstride, tokens, out, ostride)
		return
	}
	_ = w[(nrows-1)*stride+ws*nb-1]
	_ = x[(tokens-1)*xstride+292*nb-1]
	_ = out[(tokens-1)*ostride+nrows-1]
	var s *kMatScratch
	select {
	case s = <-kMatFree:
	default:
		s = new(kMatScratch)
	}
	need := 64 + kpWork + nb*kpPrepBlock
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 63)
	work := s.buf[a : a+kpWork]
	prep := s.buf[a+kpWork : a+kpWork+nb*kpPrepBlock]
	t0 := 0
	for ; tokens-t0 >= kpMinTokens; t0 += kpTokens {
		nt := min(kpTokens, tokens-t0)
		if prepQ8KPairAsm(&x[t0*xstride], xstride, nt, nb, &prep[0]) && mins {
			// Bsums no quantizer gives (see prepQ8KPairAsm): the AVX2
			// kernel, exact for any bytes, takes these tokens.
			small(n, w, stride, quads, x[t0*xstride:], xstride, nt, out[t0*ostride:], ostride)
			continue
		}
		asm(&w[0], stride, quads, &prep[0], nt, nb, &out[t0*ostride], ostride, &work[0])
	}
	select {
	case kMatFree <- s:
	default:
	}
	if t0 < tokens {
		small(n, w, stride, quads, x[t0*xstride:], xstride, tokens-t0, out[t0*ostride:], ostride)
	}
	dotMatrixByRows(rows, n, w, stride, quads, nrows, x, xstride, 0, tokens, out, ostride)
}

// vnniDotMatrixK returns the VNNI matrix kernel for Q4_K or Q6_K weights.
func vnniDotMatrixK(t Type, rows DotRowsKernel) DotMatrixKernel {
	asm, avx2, ws := dotQ4_KPairAsm, dotQ4_KMatAsm, 144
	if t == Q6_K {
		asm, avx2, ws = dotQ6_KPairAsm, dotQ6_KMatAsm, 210
	}
	small := func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		dotMatrixKAVX2(avx2, ws, rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
	return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		dotMatrixKPair(asm, t == Q4_K, ws, rows, small, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
}

// prepQ8KPairAsm lays out nb Q8_K blocks of nt in 1..16 activation rows
// (x + t*xstride) at dst (nb*kpPrepBlock bytes, 64-byte aligned) for the
// pair kernels. Every d past the nt tokens is zero, so that the lanes of
// the tokens that are not there (whatever bytes they hold) add zeros,
// never denormals, which would slow every float step down.
//
// Q4_K's mins term takes the bsums two at a time, S(j) = bsums[2j] +
// bsums[2j+1], as int16 pairs (half the VPDPWSSD of one bsum each). A
// quantizer's bsums are sums of 16 int8s, so |S(j)| <= 4096; wide
// reports an S(j) outside int16 (bsums no quantizer writes, as random
// bytes can hold), for which the Q4_K pair kernel would not be exact and
// the caller takes the AVX2 kernel instead.
//
//go:noescape
func prepQ8KPairAsm(x *byte, xstride, nt, nb int, dst *byte) (wide bool)

// dotQ4_KPairAsm: see kpAsm; dotQ4_K's bits.
//
//go:noescape
func dotQ4_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// dotQ6_KPairAsm: see kpAsm; dotQ6_K's bits.
//
//go:noescape
func dotQ6_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
