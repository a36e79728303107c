//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The AVX2 kernels of dot_amd64.s compute the same numbers as the scalar
// kernels of dot.go, bit for bit. The integer part of each block (the sums
// of products of quants, and for the K-quants the eight int32 lanes
// aux[l] = sum over positions p%8 == l) is exact in any order, so it is
// done with 256-bit integer instructions; everything in float32 (the
// block scales d*dx, the products with the integer sums, the K-quants'
// eight float lanes and the final reduction) is done with the same
// operations in the same order as the scalar code: scalar SSE arithmetic,
// or lane-wise VMULPS/VADDPS for the eight lanes (never FMA). fp16 scales
// are converted with VCVTPH2PS, which is exact like FP16ToFP32.
//
// Overflow. VPMADDUBSW multiplies unsigned bytes by signed bytes and sums
// adjacent pairs into int16 with saturation, so it is used only where the
// unsigned operand is a small quant q (the subtracted offset of Q4_0,
// Q5_0, Q3_K and Q6_K is a second VPMADDUBSW of the constant against the
// same activations, then VPSUBW). With activations y in [-128, 127] the
// largest pair sum in magnitude is 2*max(q)*128:
//
//	Q2_K q 0..3: 768       Q3_K q+4 0..7: 1792    Q4_0, Q4_1, Q4_K q 0..15: 3840
//	Q5_0, Q5_1, Q5_K q 0..31: 7936                Q6_K q+32 0..63: 16128
//
// and the differences (q-8, q-16, q-4, q-32 times y) are smaller still,
// all below 32767. The int16 pair sums then go through VPMADDWD (int16
// products summed in pairs to int32) with the block scales (|s| <= 128),
// and int32 additions, whose totals per block stay below 2^25: no step
// overflows, so the integers equal the scalar kernels' int32 sums.
//
// Q8_0 times Q8_0 has no small operand. Its fast path is ggml's sign
// trick, VPMADDUBSW of |w| and y*sign(w), which is exact unless some y is
// -128 (negating -128 wraps, and 2*128*128 would saturate); without a
// -128 activation a pair sum is at most 2*128*127 = 32512. ggml's Q8_0
// quantizer never writes -128 (except for NaN or infinite input), so the
// kernels OR together the activation bytes equal to -128 as they go and,
// if there was one, compute the row again with the bytes sign-extended to
// int16 and multiplied with VPMADDWD, which is exact for every input.

// simdEnabled selects the AVX2 kernels; tests turn it off to compare with
// the scalar ones. F16C converts the fp16 scales.
var simdEnabled = cpu.X86.HasAVX2 && cpu.X86.HasF16C

// asmDots are the one-row AVX2 kernels of dot_amd64.s by weight type.
// Each takes nb >= 1 whole blocks of weights and of activations in the
// type's VecDotType.
var asmDots = map[Type]func(w, x *byte, nb int) float32{
	Q4_0: dotQ4_0Asm, Q4_1: dotQ4_1Asm, Q5_0: dotQ5_0Asm, Q5_1: dotQ5_1Asm, Q8_0: dotQ8_0Asm,
	Q2_K: dotQ2_KAsm, Q3_K: dotQ3_KAsm, Q4_K: dotQ4_KAsm, Q5_K: dotQ5_KAsm, Q6_K: dotQ6_KAsm,
}

// simdDot returns the AVX2 kernel for weights of type t, or nil when there
// is none or the CPU lacks AVX2. The kernel checks the slices' lengths
// (rowBlocks) before the assembly reads through pointers.
func simdDot(t Type) DotKernel {
	asm, ok := asmDots[t]
	if !simdEnabled || !ok {
		return nil
	}
	bs, ws, xs := t.BlockSize(), t.TypeSize(), VecDotType(t).TypeSize()
	return func(n int, w, x []byte) float32 {
		nb := rowBlocks(n, bs, w, ws, x, xs)
		if nb == 0 {
			return 0
		}
		return asm(&w[0], &x[0], nb)
	}
}

// simdDotRows returns the SIMD several-rows kernel for weights of type t
// (AVX-512 VNNI where there is one, else AVX2), or nil when there is none
// (DotRowsFunc then loops over the rows: byRow, which a kernel also takes
// for what it hands back).
func simdDotRows(t Type, byRow DotRowsKernel) DotRowsKernel {
	if !simdEnabled {
		return nil
	}
	if k := vnniDotRows(t, byRow); k != nil {
		return k
	}
	switch t {
	case Q8_0:
		return dotRowsQ8_0AVX2
	case Q5_0:
		return dotRowsQ5_0AVX2
	}
	return nil
}

// simdDotMatrix returns the AVX2 matrix kernel for weights of type t, or
// nil when there is none (DotMatrixFunc then goes through rows, the
// kernel DotRowsFunc returned for t).
func simdDotMatrix(t Type, rows DotRowsKernel) DotMatrixKernel {
	if !simdEnabled {
		return nil
	}
	if k := vnniDotMatrix(t, rows); k != nil {
		return k
	}
	switch t {
	case Q8_0:
		return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
			dotMatrixQ8_0AVX2(rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
		}
	case Q5_0:
		return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
			dotMatrixQ5_0AVX2(rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
		}
	case Q4_K, Q6_K:
		asm, ws := dotQ4_KMatAsm, 144
		if t == Q6_K {
			asm, ws = dotQ6_KMatAsm, 210
		}
		return func(n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
			dotMatrixKAVX2(asm, ws, rows, n, w, stride, nrows, x, xstride, tokens, out, ostride)
		}
	}
	return nil
}

// The K-quant matrix kernels (dotQ4_KMatAsm, dotQ6_KMatAsm; the layout
// and why they give the one-row kernels' bits are in dot_amd64.s) take
// kMatTokens tokens at a time, whose activations prepQ8KMatAsm first lays
// out (kPrepBlock bytes per token and block) in a scratch buffer, after
// the kernels' work area (kMatWork bytes).
const (
	kMatTokens = 16
	kPrepBlock = 320
	kMatWork   = 832
)

// kMatScratch is a K-quant matrix call's scratch memory, kept on a free
// list so that a matmul allocates nothing once warm (a sync.Pool would
// drop it at every garbage collection).
type kMatScratch struct{ buf []byte }

var kMatFree = make(chan *kMatScratch, 64)

// dotMatrixKAVX2 runs a K-quant matrix kernel (asm, weight blocks of ws
// bytes against Q8_K activations): for each chunk of up to kMatTokens
// tokens the activations are laid out once, then every weight row is
// decoded block by block once for all the chunk's tokens. One token (a
// decode step) goes through rows, the one-row kernel.
func dotMatrixKAVX2(asm func(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte),
	ws int, rows DotRowsKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	checkMatrixStrides(stride, xstride, ostride)
	nb := n / QK_K
	if nrows == 0 || tokens == 0 {
		return
	}
	if nb == 0 || tokens == 1 {
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
	need := 32 + kMatWork + kMatTokens*nb*kPrepBlock
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	// 32-byte aligned, so that no prepared load splits a cache line.
	a := int(-uintptr(unsafe.Pointer(&s.buf[0])) & 31)
	work := s.buf[a : a+kMatWork]
	prep := s.buf[a+kMatWork : need]
	for t0 := 0; t0 < tokens; t0 += kMatTokens {
		nt := min(kMatTokens, tokens-t0)
		prepQ8KMatAsm(&x[t0*xstride], xstride, nt, nb, &prep[0])
		asm(&w[0], stride, nrows, &prep[0], nt, nb, &out[t0*ostride], 4*ostride, &work[0])
	}
	select {
	case kMatFree <- s:
	default:
	}
}

// matrixTokens is how many tokens one dotQ8_0MatAsm call takes at most
// (the size of its accumulator array on the caller's stack).
const matrixTokens = 16

// dotMatrixQ8_0AVX2 takes the weight rows four at a time against every
// token (dotQ8_0MatAsm, matrixTokens tokens per call), the rows left over
// through rows. One token (a decode step) goes through rows as well: its
// four-row kernel prefetches the same and has no accumulators in memory.
// If any activation holds a -128 (never written by ggml's quantizer, but
// the sign trick is not exact for it), the whole call goes through rows,
// whose kernels handle it.
func dotMatrixQ8_0AVX2(rows DotRowsKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	dotMatrixRows4(rows, false, n, w, stride, nrows, x, xstride, tokens, out, ostride)
}

// dotMatrixQ5_0AVX2 is dotMatrixQ8_0AVX2 for Q5_0 weights
// (dotQ5_0MatAsm), which are exact for every activation byte.
func dotMatrixQ5_0AVX2(rows DotRowsKernel, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	dotMatrixRows4(rows, true, n, w, stride, nrows, x, xstride, tokens, out, ostride)
}

// dotMatrixRows4 is dotMatrixQ8_0AVX2 (q5_0 false) and dotMatrixQ5_0AVX2
// (q5_0 true). The four-row kernels are called by name, not through a
// func value, so that acc stays on the stack (they are go:noescape).
func dotMatrixRows4(rows DotRowsKernel, q5_0 bool, n int, w []byte, stride, nrows int, x []byte, xstride, tokens int, out []float32, ostride int) {
	ws := 34 // Q8_0 weight blocks
	if q5_0 {
		ws = 22
	}
	checkMatrixStrides(stride, xstride, ostride)
	nb := n / 32
	if nrows == 0 || tokens == 0 {
		return
	}
	if nb == 0 || tokens == 1 || nrows < 4 {
		dotMatrixByRows(rows, n, w, stride, 0, nrows, x, xstride, 0, tokens, out, ostride)
		return
	}
	_ = w[(nrows-1)*stride+ws*nb-1]
	_ = x[(tokens-1)*xstride+34*nb-1]
	_ = out[(tokens-1)*ostride+nrows-1]
	if !q5_0 {
		for t := range tokens {
			if q8Has128(x[t*xstride:], nb) {
				dotMatrixByRows(rows, n, w, stride, 0, nrows, x, xstride, 0, tokens, out, ostride)
				return
			}
		}
	}
	var acc [4 * matrixTokens]float32
	r := 0
	for ; r+4 <= nrows; r += 4 {
		for t0 := 0; t0 < tokens; t0 += matrixTokens {
			nt := min(matrixTokens, tokens-t0)
			clear(acc[:4*nt])
			if q5_0 {
				dotQ5_0MatAsm(&w[r*stride], stride, &x[t0*xstride], xstride, nt, nb, &acc[0])
			} else {
				dotQ8_0MatAsm(&w[r*stride], stride, &x[t0*xstride], xstride, nt, nb, &acc[0])
			}
			for j := range nt {
				o := (t0+j)*ostride + r
				copy(out[o:o+4], acc[4*j:4*j+4])
			}
		}
	}
	dotMatrixByRows(rows, n, w, stride, r, nrows, x, xstride, 0, tokens, out, ostride)
}

// q8Has128 reports whether any quant of the nb Q8_0 blocks at x is -128
// (0x80), eight bytes at a time (a byte of v^0x80... is zero exactly where
// the quant is 0x80).
func q8Has128(x []byte, nb int) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x = x[:34*nb]
	for b := 0; b < nb; b++ {
		q := x[34*b+2 : 34*b+34]
		for i := 0; i < 32; i += 8 {
			v := binary.LittleEndian.Uint64(q[i:]) ^ highs
			if (v-ones)&^v&highs != 0 {
				return true
			}
		}
	}
	return false
}

// dotRowsQ8_0AVX2 takes the rows four at a time, and the rest one by one.
// If the activations hold a -128 (the four-row kernel's fast sign trick
// is not exact then), the rows go through dotQ8_0Asm, which handles it.
func dotRowsQ8_0AVX2(n int, w []byte, stride int, x []byte, out []float32) {
	nb := rowsQ8Blocks(n, w, 34, stride, x, out)
	if nb == 0 {
		return
	}
	i := 0
	for ; i+4 <= len(out); i += 4 {
		if !dotQ8_0x4Asm(&w[i*stride], stride, &x[0], nb, (*[4]float32)(out[i:])) {
			break
		}
	}
	for ; i < len(out); i++ {
		out[i] = dotQ8_0Asm(&w[i*stride], &x[0], nb)
	}
}

// dotRowsQ5_0AVX2 takes the rows four at a time (dotQ5_0x4Asm: the
// Qwen2-0.5B shape's ffn_gate and ffn_up in a decode step), and the rest
// one by one.
func dotRowsQ5_0AVX2(n int, w []byte, stride int, x []byte, out []float32) {
	nb := rowsQ8Blocks(n, w, 22, stride, x, out)
	if nb == 0 {
		return
	}
	i := 0
	for ; i+4 <= len(out); i += 4 {
		dotQ5_0x4Asm(&w[i*stride], stride, &x[0], nb, (*[4]float32)(out[i:]))
	}
	for ; i < len(out); i++ {
		out[i] = dotQ5_0Asm(&w[i*stride], &x[0], nb)
	}
}

// rowsQ8Blocks starts a DotRowsKernel call of len(out) weight rows
// (ws-byte blocks, stride bytes apart) against one Q8_0 activation row: it
// returns the number of 32-element blocks, or 0 when there is nothing left
// to do (no rows; or n < 32, out then cleared), and panics on a negative
// stride or (index out of range, like the scalar kernels) when w or x is
// shorter than the rows need, before the assembly reads through pointers.
func rowsQ8Blocks(n int, w []byte, ws, stride int, x []byte, out []float32) int {
	if stride < 0 {
		panic("quant: DotRowsKernel: negative stride")
	}
	nb := n / 32
	if len(out) == 0 {
		return 0
	}
	if nb == 0 {
		clear(out)
		return 0
	}
	_ = w[(len(out)-1)*stride+ws*nb-1]
	_ = x[34*nb-1]
	return nb
}

// rowBlocks returns the number of blocks of n elements and panics (index
// out of range, like the scalar kernels) when w or x is shorter than they
// need: the assembly reads through pointers and must not run past a slice.
func rowBlocks(n, blockSize int, w []byte, wSize int, x []byte, xSize int) int {
	nb := n / blockSize
	if nb > 0 {
		_ = w[nb*wSize-1]
		_ = x[nb*xSize-1]
	}
	return nb
}

// The assembly kernels take nb >= 1 whole blocks of weights w and
// activations x.

//go:noescape
func dotQ4_0Asm(w, x *byte, nb int) float32

//go:noescape
func dotQ4_1Asm(w, x *byte, nb int) float32

//go:noescape
func dotQ5_0Asm(w, x *byte, nb int) float32

//go:noescape
func dotQ5_1Asm(w, x *byte, nb int) float32

//go:noescape
func dotQ8_0Asm(w, x *byte, nb int) float32

//go:noescape
func dotQ8_0x4Asm(w *byte, stride int, x *byte, nb int, out *[4]float32) bool

//go:noescape
func dotQ5_0x4Asm(w *byte, stride int, x *byte, nb int, out *[4]float32)

//go:noescape
func dotQ2_KAsm(w, x *byte, nb int) float32

//go:noescape
func dotQ3_KAsm(w, x *byte, nb int) float32

//go:noescape
func dotQ4_KAsm(w, x *byte, nb int) float32

//go:noescape
func dotQ5_KAsm(w, x *byte, nb int) float32

//go:noescape
func dotQ6_KAsm(w, x *byte, nb int) float32

//go:noescape
func dotQ5_0MatAsm(w *byte, stride int, x *byte, xstride int, nt int, nb int, acc *float32)

//go:noescape
func prepQ8KMatAsm(x *byte, xstride, nt, nb int, dst *byte)

//go:noescape
func dotQ4_KMatAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

//go:noescape
func dotQ6_KMatAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)

//go:noescape
func dotQ8_0MatAsm(w *byte, stride int, x *byte, xstride int, nt int, nb int, acc *float32)
