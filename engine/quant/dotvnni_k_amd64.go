//go:build amd64 && !purego

package quant

import (
	"math"
	"unsafe"
)

// The AVX-512 VNNI K-quant matrix kernels (dotQ4_KVNNIAsm, dotQ6_KVNNIAsm
// in dotvnni_k_amd64.s) put tokens in the lanes: a 512-bit register holds
// one int32 of each of up to 16 tokens. prepQ8KVNNIAsm lays the Q8_K
// activations of such a tile out once per call, per block b:
//
//	b*kvPrepBlock + 64*p         pair vector p (p = 0..127): lane t holds
//	                             token t's activations at e and e+8 as two
//	                             int16, e = 32c + 16h + l for p = 16c + 8h + l
//	b*kvPrepBlock + 8192 + 64*k  lane t: token t's bsums 2k and 2k+1 (int16)
//	b*kvPrepBlock + 8704         lane t: token t's d (float32)
//
// Both elements of pair p are in lane l = p mod 8 of ggml's eight int32
// lanes, and under one scale of both Q4_K (32 elements) and Q6_K (16). A
// weight row's block is decoded, once per tile, into the same 128 pairs
// with the scale multiplied in (int16 scale*q: at most 63*15 for Q4_K,
// 128*32 for Q6_K), so that per row and block the integer part is 128
// VPDPWSSD, each the decoded pair broadcast from memory against a pair
// vector, into eight accumulators aux[l] of 16 tokens each. The products
// are exact and no sum can wrap (|aux| < 2^25), so the lanes are the
// scalar kernels' aux[l]; the float steps are then the scalar kernels'
// own, lane-wise over the tokens: sums[l] += (d*yd)*float32(aux[l]) block
// after block (and Q4_K's sumf -= (dmin*yd)*float32(mins term), whose
// integer part is eight VPDPWSSD of the bsum pairs with the mins), then
// sumf + sums[0] + ... + sums[7]. Rows go two at a time, sharing each
// pair vector load.
//
// The order of work keeps the pair vectors in the L1 cache: a group of
// kvGroupBlocks blocks (8768 bytes each) is taken by kvChunkRows rows
// before the next group, each row pair carrying its sums from group to
// group in memory (1152 bytes per pair).
const (
	kvTokens      = 16
	kvPrepBlock   = 8768
	kvWork        = 2432
	kvGroupBlocks = 4
	kvChunkRows   = 64
	kvPairSums    = 1152
)

// kvAsm is the signature of the VNNI K-quant kernels: rows [0, nrows)
// (nrows even) of w, blocks [0, nb) of each, against nt tokens prepared at
// x; phase bit 0: the blocks are each row's first (zero the sums), bit 1:
// its last (write out).
type kvAsm func(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work, sums *byte, phase int)

// dotMatrixKVNNI runs a K-quant VNNI matrix kernel (asm, weight blocks of
// ws bytes against Q8_K activations): for each tile of up to kvTokens
// tokens the activations are laid out once, then every weight row is
// decoded block by block once for all the tile's tokens. One token (a
// decode step) and an odd last row go through rows, the one-row kernel.
func dotMatrixKVNNI(asm kvAsm, ws int, rows DotRowsKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	checkMatrixStrides(stride, xstride, ostride)
	nb := n / QK_K
	if nrows == 0 || tokens == 0 {
		return
	}
	// The outputs are scattered with 32-bit indices t*ostride (t < 16).
	if nb == 0 || tokens == 1 || ostride > math.MaxInt32/kvTokens {
		dotMatrixByRows(rows, n, w, stride, 0, nrows, x, xstride, 0, tokens, out, ostride)
		return
	}
	// The assembly reads and writes through pointers: check every extent.
	_ = w[(nrows-1)*stride+ws*nb-1]
	_ = x[(tokens-1)*xstride+292*nb-1]
	_ = out[(tokens-1)*ostride+nrows-1]
	var s *kMatScratch
	select {
	case s = <-kMatFree:
	default:
		s = new(kMatScratch)
	}
	sumsLen := kvChunkRows / 2 * kvPairSums
	need := 64 + kvWork + sumsLen + nb*kvPrepBlock
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	// 64-byte aligned: every vector load and store is one cache line.
	a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 63)
	work := s.buf[a : a+kvWork]
	sums := s.buf[a+kvWork : a+kvWork+sumsLen]
	prep := s.buf[a+kvWork+sumsLen : a+kvWork+sumsLen+nb*kvPrepBlock]
	pairs := nrows &^ 1
	for t0 := 0; t0 < tokens; t0 += kvTokens {
		nt := min(kvTokens, tokens-t0)
		prepQ8KVNNIAsm(&x[t0*xstride], xstride, nt, nb, &prep[0])
		for r0 := 0; r0 < pairs; r0 += kvChunkRows {
			nr := min(kvChunkRows, pairs-r0)
			for b0 := 0; b0 < nb; b0 += kvGroupBlocks {
				gb := min(kvGroupBlocks, nb-b0)
				phase := 0
				if b0 == 0 {
					phase |= 1
				}
				if b0+gb == nb {
					phase |= 2
				}
				asm(&w[r0*stride+b0*ws], stride, nr, &prep[b0*kvPrepBlock], nt, gb,
					&out[t0*ostride+r0], ostride, &work[0], &sums[0], phase)
			}
		}
	}
	select {
	case kMatFree <- s:
	default:
	}
	dotMatrixByRows(rows, n, w, stride, pairs, nrows, x, xstride, 0, tokens, out, ostride)
}

// The pair kernels (dotQ4_KPairAsm, dotQ6_KPairAsm; layout in
// dotvnni_k_amd64.s) take up to kpTokens tokens, four rows at a time.
const (
	kpTokens    = 16
	kpPrepBlock = 9280
	kpWork      = 5120
)

// kpAsm is the signature of the pair kernels: nrows (a multiple of 4)
// rows of w, nb blocks each, against nt in 2..16 tokens prepared at x,
// out[t*ostride + r] (float32 elements from out).
type kpAsm func(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// dotMatrixKPair runs a pair kernel over the rows in groups of four, the
// tokens in chunks of up to kpTokens; a last chunk of one token and the
// rows past the last group of four go through rows.
func dotMatrixKPair(asm kpAsm, ws int, rows DotRowsKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	checkMatrixStrides(stride, xstride, ostride)
	nb := n / QK_K
	if nrows == 0 || tokens == 0 {
		return
	}
	quads := nrows &^ 3
	if nb == 0 || tokens == 1 || quads == 0 {
		dotMatrixByRows(rows, n, w, stride, 0, nrows, x, xstride, 0, tokens, out, ostride)
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
	for ; tokens-t0 >= 2; t0 += kpTokens {
		nt := min(kpTokens, tokens-t0)
		prepQ8KPairAsm(&x[t0*xstride], xstride, nt, nb, &prep[0])
		asm(&w[0], stride, quads, &prep[0], nt, nb, &out[t0*ostride], ostride, &work[0])
	}
	select {
	case kMatFree <- s:
	default:
	}
	dotMatrixByRows(rows, n, w, stride, 0, quads, x, xstride, t0, tokens, out, ostride)
	dotMatrixByRows(rows, n, w, stride, quads, nrows, x, xstride, 0, tokens, out, ostride)
}

// vnniDotMatrixK returns the VNNI matrix kernel for Q4_K or Q6_K weights.
func vnniDotMatrixK(t Type, rows DotRowsKernel) DotMatrixKernel {
	asm, ws := dotQ4_KVNNIAsm, 144
	if t == Q6_K {
		asm, ws = dotQ6_KVNNIAsm, 210
	}
	pair := dotQ4_KPairAsm
	if t == Q6_K {
		pair = dotQ6_KPairAsm
	}
	return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		if kvUsePair {
			dotMatrixKPair(pair, ws, rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
			return
		}
		dotMatrixKVNNI(asm, ws, rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
}

// prepQ8KVNNIAsm lays out nb Q8_K blocks of nt in 1..16 activation rows
// (x + t*xstride) at dst (nb*kvPrepBlock bytes, 64-byte aligned) as
// described above. Lanes nt..15 get d = 0 and keep whatever quants were
// there (their outputs are never stored).
//
//go:noescape
func prepQ8KVNNIAsm(x *byte, xstride, nt, nb int, dst *byte)

// dotQ4_KVNNIAsm takes nrows (even, >= 2) Q4_K rows (w + r*stride), nb
// >= 1 blocks of each, against nt in 1..16 tokens laid out at x; with
// phase bit 1 it writes out[t*ostride + r] (float32 elements from out) =
// the row's dot product with token t, dotQ4_K's bits. work is kvWork
// bytes, sums nrows/2*kvPairSums, both 64-byte aligned.
//
//go:noescape
func dotQ4_KVNNIAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work, sums *byte, phase int)

// dotQ6_KVNNIAsm is dotQ4_KVNNIAsm for Q6_K rows: dotQ6_K's bits.
//
//go:noescape
func dotQ6_KVNNIAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work, sums *byte, phase int)

var kvUsePair = true

// prepQ8KPairAsm lays out nb Q8_K blocks of nt in 1..16 activation rows
// (x + t*xstride) at dst (nb*kpPrepBlock bytes, 64-byte aligned) for the
// pair kernels; every d past the nt tokens is zero.
//
//go:noescape
func prepQ8KPairAsm(x *byte, xstride, nt, nb int, dst *byte)

// dotQ4_KPairAsm: see kpAsm; dotQ4_K's bits.
//
//go:noescape
func dotQ4_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

// dotQ6_KPairAsm: see kpAsm; dotQ6_K's bits.
//
//go:noescape
func dotQ6_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
