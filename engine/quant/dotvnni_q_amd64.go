//go:build amd64 && !purego

package quant

import "unsafe"

// The VNNI matrix kernels for Q5_0 and Q8_0 weights (dotvnni_q_amd64.s)
// run VPDPBUSD with one (row, token) pair's block sum per int32 lane, so
// no lane is ever reduced across and the float steps are done lane-wise
// with the scalar kernels' operations in their order. Two lane layouts:
//
//   - token lanes (vnniMatQ, vnniMatQ8), from 7 tokens: a 512-bit
//     register holds 16 tokens (a tile; a last tile of at most 8 tokens
//     uses 256-bit registers), each weight row's quants are broadcast
//     four at a time; eight rows per pass share the activation loads.
//   - row lanes (vnniMatQT), up to 6 tokens: a 256-bit register holds
//     eight weight rows, each token's quants are broadcast four at a time
//     straight from its Q8_0 block, so the work is in proportion to the
//     tokens (a tile costs as much for 2 tokens as for 16).
//
// Operands. VPDPBUSD multiplies unsigned bytes by signed bytes. The
// activations (Q8_0 quants, any byte) are the signed operand as they are;
// the weights are made unsigned once per call and row (vnniPrepQ5_0W and
// vnniPrepQ8_0W, or the transposing vnniPrepQ5_0WT and vnniPrepQ8_0WT):
// Q5_0 quants q in 0..31 without the -16 offset, Q8_0 quants w+128 in
// 0..255. With y the activation quants of a block,
//
//	Q5_0: s = sum (q-16)*y = sum q*y - 16*sum y
//	Q8_0: s = sum w*y     = sum (w+128)*y - 128*sum y
//
// and the correction -(sum y << shift) depends on the token only: it is
// computed with the activations' layout and starts each lane's block
// sum, so no weight row needs a horizontal sum. Products are at most
// 255*128 in magnitude, a block sum below 2^21: VPDPBUSD (no saturation)
// adds them exactly, so s equals the scalar kernels' int32 sum for every
// byte, -128 included on both sides (no sign trick, no fallback).
//
// Floats. Per (row, token) and block the scalar kernels do
// sumf += float32(s) * (dw*dx) (Q5_0 writes (dw*dx)*s: the same product).
// The kernels do, lane-wise, dx*dw (VMULPS: multiplication commutes, the
// same rounding), VCVTDQ2PS(s) (exact: |s| < 2^24), VMULPS, VADDPS into
// the lane's sum, which starts at +0 like sumf, block after block; no
// FMA.
//
// Token-lane layouts. A tile is up to 16 tokens of activations, laid out
// per block in vnniTileBytes: 8 groups of 64 bytes (group g holds quants
// 4g..4g+3 of the 16 tokens, one dword per token), the 16 dx as float32,
// the 16 corrections as int32 (an 8-token tile: the same in half the
// bytes). A weight group is 8 rows, per block vnniWGroupBytes: for row
// r, 32 unsigned quants at 36r and dw as float32 at 36r+32. Missing
// tokens are zero and their lanes never stored; missing rows are left as
// they were in the scratch buffer and never stored. The row-lane layouts
// are described in dotvnni_q_amd64.s.
const (
	vnniTileTokens  = 16
	vnniTileBytes   = 640
	vnniGroupRows   = 8
	vnniWGroupBytes = 288
)

// vnniRowLaneTokens is the most tokens sent to the row-lane kernel,
// which takes up to vnniRowLaneMax (one register of sums per token): its
// work grows with the tokens where a tile's does not, and from 7 tokens
// an 8-token tile was as fast or faster (BenchmarkVNNIQ; Q5_0 at 7
// tokens 45 against 50 us for 448 rows of 896). vnniXCBytes is its
// per-block bytes of corrections and dx.
const (
	vnniRowLaneTokens = 6
	vnniRowLaneMax    = 8
	vnniXCBytes       = 64
)

// vnniQType is what the VNNI kernels need to know of a weight type: its
// block size in bytes, its decoders into the two weight group layouts,
// the correction's shift (4: 16*sum y for Q5_0, 7: 128*sum y for Q8_0)
// and the fewest tokens worth sending to the VNNI kernels (fewer go to
// the AVX2 matrix kernel; measured with BenchmarkVNNIQ and the engine's
// BenchmarkDecode).
type vnniQType struct {
	ws        int
	shift     int
	minTokens int
	prepW     func(w *byte, stride, nr, nb int, dst *byte)
	prepWT    func(w *byte, offs *[vnniGroupRows]int, nb int, pf int, dst *byte)
}

var (
	vnniQ5_0 = &vnniQType{ws: 22, shift: 4, minTokens: 1, prepW: vnniPrepQ5_0W, prepWT: vnniPrepQ5_0WT}
	vnniQ8_0 = &vnniQType{ws: 34, shift: 7, minTokens: 2, prepW: vnniPrepQ8_0W, prepWT: vnniPrepQ8_0WT}
)

// vnniDotMatrixQ returns the VNNI matrix kernel for Q5_0 or Q8_0 weights
// (vnniDotMatrix's cases); rows is the type's DotRowsKernel, for the AVX2
// matrix kernel the VNNI one hands small token counts to.
func vnniDotMatrixQ(t Type, rows DotRowsKernel) DotMatrixKernel {
	q, avx2 := vnniQ5_0, dotMatrixQ5_0AVX2
	if t == Q8_0 {
		q, avx2 = vnniQ8_0, dotMatrixQ8_0AVX2
	}
	fallback := func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		avx2(rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
	return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		dotMatrixQVNNI(q, fallback, n, w, stride, nrows, x, xstride, tokens, out, ostride)
	}
}

// vnniQScratch is a call's scratch memory (the activation tiles and one
// weight group), kept on a free list so that a matmul allocates nothing
// once warm.
type vnniQScratch struct{ buf []byte }

var vnniQFree = make(chan *vnniQScratch, 64)

// dotMatrixQVNNI is the VNNI matrix kernel for Q5_0 (ws 22) or Q8_0 (ws
// 34) weights, prepW their weight decoder and shift the correction's
// (4: 16*sum y, 7: 128*sum y). It lays out every tile of activations
// once, then for each group of eight weight rows decodes the group once
// and runs it against every tile. Fewer than q.minTokens tokens, or
// strides whose offsets within a tile do not fit the int32 indices of
// the gathers and scatters, go to avx2, the type's AVX2 matrix kernel.
func dotMatrixQVNNI(q *vnniQType, avx2 DotMatrixKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	checkMatrixStrides(stride, xstride, ostride)
	nb := n / 32
	if nrows == 0 || tokens == 0 {
		return
	}
	const maxIdx = 1<<31 - 1
	if nb == 0 || tokens < q.minTokens ||
		(vnniTileTokens-1)*xstride > maxIdx || (vnniTileTokens-1)*ostride > maxIdx {
		avx2(n, w, stride, nrows, x, xstride, tokens, out, ostride)
		return
	}
	// The assembly reads and writes through pointers: check every extent.
	_ = w[(nrows-1)*stride+q.ws*nb-1]
	_ = x[(tokens-1)*xstride+34*nb-1]
	_ = out[(tokens-1)*ostride+nrows-1]
	if tokens <= vnniRowLaneTokens {
		dotMatrixQRowLanes(q, nb, w, stride, nrows, x, xstride, tokens, out, ostride)
		return
	}
	prepW, shift := q.prepW, q.shift

	// Tiles of 16 tokens, the last one of 8 if at most 8 tokens are
	// left (the 256-bit kernels: half the work).
	tiles := (tokens + vnniTileTokens - 1) / vnniTileTokens
	last := tokens - (tiles-1)*vnniTileTokens
	xpBytes := nb * tiles * vnniTileBytes
	if last <= vnniTileTokens/2 {
		xpBytes -= nb * vnniTileBytes / 2
	}
	need := 64 + xpBytes + nb*vnniWGroupBytes
	var s *vnniQScratch
	select {
	case s = <-vnniQFree:
	default:
		s = new(vnniQScratch)
	}
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	// 64-byte aligned: no tile load splits a cache line.
	a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 63)
	xp := s.buf[a : a+xpBytes]
	wp := s.buf[a+xpBytes : need]

	var xidx, oidx [vnniTileTokens]int32
	for t := range xidx {
		xidx[t] = int32(t * xstride)
		oidx[t] = int32(t * ostride)
	}
	for tile := range tiles {
		t0 := tile * vnniTileTokens
		nt := min(vnniTileTokens, tokens-t0)
		for t := nt; t < vnniTileTokens; t++ {
			xidx[t] = 0 // masked off; kept in range anyway
		}
		if nt <= vnniTileTokens/2 {
			vnniPrepQ8_0X8(&x[t0*xstride], nt, nb, shift, &xidx[0], &xp[tile*nb*vnniTileBytes])
		} else {
			vnniPrepQ8_0X(&x[t0*xstride], nt, nb, shift, &xidx[0], &xp[tile*nb*vnniTileBytes])
		}
	}
	for r0 := 0; r0 < nrows; r0 += vnniGroupRows {
		nr := min(vnniGroupRows, nrows-r0)
		prepW(&w[r0*stride], stride, nr, nb, &wp[0])
		for tile := range tiles {
			t0 := tile * vnniTileTokens
			nt := min(vnniTileTokens, tokens-t0)
			if nt <= vnniTileTokens/2 {
				vnniMatQ8(&wp[0], &xp[tile*nb*vnniTileBytes], nb, &out[t0*ostride+r0], &oidx[0], 1<<nt-1, nr)
			} else {
				vnniMatQ(&wp[0], &xp[tile*nb*vnniTileBytes], nb, &out[t0*ostride+r0], &oidx[0], 1<<nt-1, nr)
			}
		}
	}
	select {
	case vnniQFree <- s:
	default:
	}
}

// dotMatrixQRowLanes is dotMatrixQVNNI for at most vnniRowLaneMax
// tokens (the extents checked by the caller), through the row-lane kernel (vnniMatQT): eight weight rows per
// register, the tokens' quants broadcast from their blocks. Rows past
// nrows in the last group repeat its last row (read, never stored).
func dotMatrixQRowLanes(q *vnniQType, nb int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	var s *vnniQScratch
	select {
	case s = <-vnniQFree:
	default:
		s = new(vnniQScratch)
	}
	need := 64 + nb*vnniWGroupBytes + nb*vnniXCBytes
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 63)
	wp := s.buf[a : a+nb*vnniWGroupBytes]
	xc := s.buf[a+nb*vnniWGroupBytes : need]
	vnniPrepXC(&x[0], xstride, tokens, nb, q.shift, &xc[0])
	var offs [vnniGroupRows]int
	for r0 := 0; r0 < nrows; r0 += vnniGroupRows {
		nr := min(vnniGroupRows, nrows-r0)
		for r := range offs {
			offs[r] = min(r, nr-1) * stride
		}
		q.prepWT(&w[r0*stride], &offs, nb, vnniGroupRows*stride, &wp[0])
		vnniMatQT(&wp[0], &x[0], xstride, tokens, nb, &xc[0], &out[r0], ostride, nr)
	}
	select {
	case vnniQFree <- s:
	default:
	}
}

//go:noescape
func vnniPrepQ8_0X(x *byte, nt, nb, shift int, xidx *int32, dst *byte)

//go:noescape
func vnniPrepQ5_0WT(w *byte, offs *[vnniGroupRows]int, nb int, pf int, dst *byte)

//go:noescape
func vnniPrepQ8_0WT(w *byte, offs *[vnniGroupRows]int, nb int, pf int, dst *byte)

//go:noescape
func vnniPrepXC(x *byte, xstride, nt, nb, shift int, dst *byte)

//go:noescape
func vnniMatQT(wp, x *byte, xstride, nt, nb int, xc *byte, out *float32, ostride, nr int)

//go:noescape
func vnniPrepQ8_0X8(x *byte, nt, nb, shift int, xidx *int32, dst *byte)

//go:noescape
func vnniMatQ8(wp, xp *byte, nb int, out *float32, oidx *int32, mask, nr int)

//go:noescape
func vnniPrepQ5_0W(w *byte, stride, nr, nb int, dst *byte)

//go:noescape
func vnniPrepQ8_0W(w *byte, stride, nr, nb int, dst *byte)

//go:noescape
func vnniMatQ(wp, xp *byte, nb int, out *float32, oidx *int32, mask, nr int)
