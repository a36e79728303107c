//go:build amd64 && !purego

package quant

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The AVX-512 VNNI K-quant matrix kernels (dotvnni_k_amd64.s gives their
// layouts) compute, for four rows and up to 16 tokens at a time, ggml's
// eight int32 lanes aux[l] of every row and token exactly: lane l holds
// the elements e with e mod 8 = l, each sub-block's integer dot times its
// scale. Both elements of a pair below are in one lane and under one
// scale (Q4_K's scales cover 32 elements, Q6_K's 16), and a register
// holds the lanes of two tokens (a token pair).
//
//   - Q6_K (dotQ6_KPairAsm): each weight block is decoded once per call
//     into 128 int16 pairs (w(e), w(e+8)), e = 32c + 16h + l (l < 8), the
//     scale multiplied in (scale*q fits int16: at most 128*32), the
//     activations sign-extended into the same pairs; VPDPWSSD multiplies
//     the pairs and adds both products to lane l: sixteen per row, token
//     pair and block.
//   - Q4_K (dotQ4_KByteAsm, dotQ4_KByteBWAsm without VBMI): the quants
//     stay bytes. A chunk's 32 bytes (two sub-blocks: low and high
//     nibbles) are permuted so that dword l holds elements l, l+8, l+16,
//     l+24, the activations likewise (prepQ8KByteAsm); VPMADDUBSW adds
//     them in int16 pairs (|pair| <= 2*15*128, never saturated) and
//     VPDPWSSD with the (scale, scale) pair adds scale times both to
//     lane l: also sixteen instructions per row, token pair and block,
//     with no decode of the block to int16 and no copy of it. When it
//     replaced an int16-pair Q4_K kernel (Q6_K's, at f769aa4):
//     BenchmarkVNNIDotMatrixK-shaped calls, 7 tokens, min of 8
//     interleaved runs, 34 against 41 ns per row and block; about equal
//     at 16 tokens.
//
// The products are exact and no sum can wrap (|aux| < 2^25 for any
// bytes), so the lanes are the scalar kernels' aux[l]; every float step
// is the scalar kernels' own, lane-wise: sums[l] += (d*yd)*float32(aux[l])
// block after block (Q4_K also sumf -= (dmin*yd)*float32(mins term), the
// mins term exact in int32 the same way), then sumf + sums[0] + ... +
// sums[7]. Never FMA.
//
// Measured against the AVX2 matrix kernels (dotQ4_KMatAsm, one row
// against up to 16 tokens, eight VPMADDUBSW + VPMADDWD per token and
// block), the int16-pair kernels took about half the time per row and
// block at 7, 16 and 64 tokens. A kernel with the tokens in the lanes
// (one int32 of each of 16 tokens per register, the weights' pairs
// broadcast) needs 128 VPDPWSSD per row and block whatever the number of
// tokens and was slower at every count measured.

// The kernels take up to kpTokens tokens, four rows at a time; kpPrepBlock
// and kbPrepBlock are a block of prepQ8KPairAsm's and prepQ8KByteAsm's
// layouts.
const (
	kpTokens    = 16
	kpMinTokens = 4
	kpPrepBlock = 9280
	kpWork      = 5120
	kbPrepBlock = 4928
)

// vbmiEnabled selects the variants of the Q4_K matrix kernel and the
// one-token kernels that put a chunk's bytes in ggml's lane order with one
// VPERMB (AVX512_VBMI: Ice Lake, Sapphire Rapids, Zen 4); without it,
// VPSHUFB and VPERMW do the same (the Q4_K matrix kernel about 5% slower
// at 7 tokens). Tests turn it off to check both.
var vbmiEnabled = vnniEnabled && cpu.X86.HasAVX512VBMI

// kpKernel is one VNNI K-quant matrix kernel: asm over activations that
// prep laid out in block bytes per block, mins for Q4_K (a wide S pair
// sends the call to the AVX2 kernel), ws the weight block's size.
type kpKernel struct {
	asm   kpAsm
	prep  func(x *byte, xstride, nt, nb int, dst *byte) (wide bool)
	block int
	mins  bool
	ws    int
}

// kpAsm is the signature of the matrix kernels: nrows (a multiple of 4)
// rows of w, nb blocks each, against nt in 1..16 tokens prepared at x,
// out[t*ostride + r] (float32 elements from out).
type kpAsm func(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// dotMatrixKPair runs a matrix kernel over the rows in groups of four, the
// tokens in chunks of up to kpTokens; the rows past the last group of
// four go through rows. Fewer than kpMinTokens tokens (a whole call or
// the last chunk) go through small, the AVX2 matrix kernel: the VNNI
// kernel computes four token pairs per block whatever the count, which
// costs more than the AVX2 kernel's per-token work below four tokens.
func dotMatrixKPair(k kpKernel, rows DotRowsKernel, small DotMatrixKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
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
	_ = w[(nrows-1)*stride+k.ws*nb-1]
	_ = x[(tokens-1)*xstride+292*nb-1]
	_ = out[(tokens-1)*ostride+nrows-1]
	var s *kMatScratch
	select {
	case s = <-kMatFree:
	default:
		s = new(kMatScratch)
	}
	need := 64 + kpWork + nb*k.block
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 63)
	work := s.buf[a : a+kpWork]
	prep := s.buf[a+kpWork : a+kpWork+nb*k.block]
	t0 := 0
	for ; tokens-t0 >= kpMinTokens; t0 += kpTokens {
		nt := min(kpTokens, tokens-t0)
		if k.prep(&x[t0*xstride], xstride, nt, nb, &prep[0]) && k.mins {
			// Bsums no quantizer gives (see prepQ8KPairAsm): the AVX2
			// kernel, exact for any bytes, takes these tokens.
			small(n, w, stride, quads, x[t0*xstride:], xstride, nt, out[t0*ostride:], ostride)
			continue
		}
		k.asm(&w[0], stride, quads, &prep[0], nt, nb, &out[t0*ostride], ostride, &work[0])
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
	k, avx2 := kpKernel{dotQ4_KByteBWAsm, prepQ8KByteAsm, kbPrepBlock, true, 144}, dotQ4_KMatAsm
	if vbmiEnabled {
		k.asm = dotQ4_KByteAsm
	}
	if t == Q6_K {
		k, avx2 = kpKernel{dotQ6_KPairAsm, prepQ8KPairAsm, kpPrepBlock, false, 210}, dotQ6_KMatAsm
	}
	small := func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		dotMatrixKAVX2(avx2, k.ws, rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
	return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		dotMatrixKPair(k, rows, small, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
}

// prepQ8KPairAsm lays out nb Q8_K blocks of nt in 1..16 activation rows
// (x + t*xstride) at dst (nb*kpPrepBlock bytes, 64-byte aligned) for the
// Q6_K matrix kernel (prepQ8KByteAsm likewise for Q4_K's, its own
// layout). Every d past the nt tokens is zero, so that the lanes of
// the tokens that are not there (whatever bytes they hold) add zeros,
// never denormals, which would slow every float step down.
//
// Q4_K's mins term takes the bsums two at a time, S(j) = bsums[2j] +
// bsums[2j+1], as int16 pairs (half the VPDPWSSD of one bsum each). A
// quantizer's bsums are sums of 16 int8s, so |S(j)| <= 4096; wide
// reports an S(j) outside int16 (bsums no quantizer writes, as random
// bytes can hold), for which the Q4_K matrix kernel would not be exact and
// the caller takes the AVX2 kernel instead.
//
//go:noescape
func prepQ8KPairAsm(x *byte, xstride, nt, nb int, dst *byte) (wide bool)

// dotQ6_KPairAsm: see kpAsm; dotQ6_K's bits.
//
//go:noescape
func dotQ6_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// prepQ8KByteAsm is prepQ8KPairAsm for the byte kernel (its layout in
// dotvnni_k_amd64.s).
//
//go:noescape
func prepQ8KByteAsm(x *byte, xstride, nt, nb int, dst *byte) (wide bool)

// dotQ4_KByteAsm: see kpAsm; dotQ4_K's bits.
//
//go:noescape
func dotQ4_KByteAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// dotQ4_KByteBWAsm is dotQ4_KByteAsm without VBMI.
//
//go:noescape
func dotQ4_KByteBWAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// kr4Block and kr6Block are a block of prepQ4KRowAsm's and
// prepQ6KRowAsm's layouts (dotvnni_k_amd64.s).
const (
	kr4Block = 320
	kr6Block = 576
)

// vnniDotRowsK returns the one-token kernel for Q4_K or Q6_K weights:
// every row's block decoded with 512-bit registers, two halves of a block
// side by side (dotQ4_KRowsAsm, dotQ6_KRowsAsm; dotvnni_k_amd64.s shows
// why their lanes are dotQ4_K's and dotQ6_K's aux32), the activation laid
// out once per call for all the rows. rows is the row-by-row kernel, for
// rows of no whole block.
func vnniDotRowsK(t Type, rows DotRowsKernel) DotRowsKernel {
	asm, prep, block, ws := dotQ4_KRowsBWAsm, prepQ4KRowAsm, kr4Block, 144
	if vbmiEnabled {
		asm = dotQ4_KRowsAsm
	}
	if t == Q6_K {
		asm, prep, block, ws = dotQ6_KRowsBWAsm, prepQ6KRowAsm, kr6Block, 210
		if vbmiEnabled {
			asm = dotQ6_KRowsAsm
		}
	}
	return func(n int, w []byte, stride int, x []byte, out []float32) {
		if stride < 0 {
			panic("quant: DotRowsKernel: negative stride")
		}
		nb := n / QK_K
		if len(out) == 0 {
			return
		}
		if nb == 0 {
			rows(n, w, stride, x, out)
			return
		}
		// The assembly reads and writes through pointers: check every extent.
		_ = w[(len(out)-1)*stride+ws*nb-1]
		_ = x[292*nb-1]
		var s *kMatScratch
		select {
		case s = <-kMatFree:
		default:
			s = new(kMatScratch)
		}
		need := 64 + nb*block
		if len(s.buf) < need {
			s.buf = make([]byte, need)
		}
		a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 63)
		p := s.buf[a : a+nb*block]
		prep(&x[0], nb, &p[0])
		asm(&w[0], stride, len(out), &p[0], nb, &out[0])
		select {
		case kMatFree <- s:
		default:
		}
	}
}

// prepQ4KRowAsm lays out the nb Q8_K blocks of one activation row at dst
// (nb*kr4Block bytes, 64-byte aligned) for dotQ4_KRowsAsm.
//
//go:noescape
func prepQ4KRowAsm(x *byte, nb int, dst *byte)

// dotQ4_KRowsAsm sets out[r] (r < nrows) to dotQ4_K's value for row r of
// w (rows stride bytes apart, nb blocks) against the activation laid out
// at x.
//
//go:noescape
func dotQ4_KRowsAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)

// dotQ4_KRowsBWAsm is dotQ4_KRowsAsm without VBMI.
//
//go:noescape
func dotQ4_KRowsBWAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)

// prepQ6KRowAsm lays out the nb Q8_K blocks of one activation row at dst
// (nb*kr6Block bytes, 64-byte aligned) for dotQ6_KRowsAsm.
//
//go:noescape
func prepQ6KRowAsm(x *byte, nb int, dst *byte)

// dotQ6_KRowsAsm sets out[r] (r < nrows) to dotQ6_K's value for row r of
// w (rows stride bytes apart, nb blocks) against the activation laid out
// at x.
//
//go:noescape
func dotQ6_KRowsAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)

// dotQ6_KRowsBWAsm is dotQ6_KRowsAsm without VBMI.
//
//go:noescape
func dotQ6_KRowsBWAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)
