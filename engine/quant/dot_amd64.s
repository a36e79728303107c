//go:build amd64 && !purego

#include "textflag.h"

// AVX2 dot kernels; see dot_amd64.go for what they must equal and why the
// integer steps cannot overflow. Plan 9 operand order: sources first,
// destination last.

// HSUMD reduces the eight int32 lanes of Y (X is its low half, T a
// scratch XMM) into lane 0 of X.
#define HSUMD(Y, X, T) \
	VEXTRACTI128 $1, Y, T \
	VPADDD       T, X, X  \
	VPSHUFD      $0x4e, X, T \
	VPADDD       T, X, X  \
	VPSHUFD      $0xb1, X, T \
	VPADDD       T, X, X

// Q8_0_ISUM leaves in Y the eight int32 partial sums of w[j]*x[j] over
// the weight block at OFF(SI) and the activation block at XOFF(DI) (bytes
// sign-extended to int16 and multiplied with VPMADDWD: exact for -128
// too). Y5, Y6 scratch; XY (Y's low half) unused, for LEGACY_LOOPS.
#define Q8_0_ISUM(OFF, XOFF, Y, XY) \
	VPMOVSXBW 2+OFF(SI), Y    \
	VPMOVSXBW 2+XOFF(DI), Y5  \
	VPMADDWD  Y5, Y, Y        \
	VPMOVSXBW 18+OFF(SI), Y5  \
	VPMOVSXBW 18+XOFF(DI), Y6 \
	VPMADDWD  Y6, Y5, Y5      \
	VPADDD    Y5, Y, Y

// HALVES4M loads into X, as four float32 lanes, the fp16 values at M0,
// M1, M2 and M3 (lanes 0-3), gathered in general registers (AX, BX, DX
// clobbered) to keep the vector shuffle units free.
#define HALVES4M(M0, M1, M2, M3, X) \
	MOVWLZX   M0, AX           \
	MOVWLZX   M1, BX           \
	SHLL      $16, BX          \
	ORL       BX, AX           \
	MOVWLZX   M2, BX           \
	MOVWLZX   M3, DX           \
	SHLL      $16, DX          \
	ORL       DX, BX           \
	SHLQ      $32, BX          \
	ORQ       BX, AX           \
	VMOVQ     AX, X            \
	VCVTPH2PS X, X

// HALVES4 is HALVES4M for the fp16 values at OFF, OFF+S, OFF+2S and OFF+3S
// of R (one per block of S bytes).
#define HALVES4(R, OFF, S, X) HALVES4M(OFF(R), OFF+S(R), OFF+2*S(R), OFF+3*S(R), X)

// ADD4 adds lanes 0, 1, 2, 3 of X to lane 0 of S, in that order (the
// scalar kernels' sumf += term, block after block). T is scratch.
#define ADD4(X, S, T) \
	VADDSS    X, S, S    \
	VMOVSHDUP X, T       \
	VADDSS    T, S, S    \
	VPSHUFD   $2, X, T   \
	VADDSS    T, S, S    \
	VPSHUFD   $3, X, T   \
	VADDSS    T, S, S

// REDUCE4 turns the eight int32 lanes of each of Y1..Y4 (four blocks)
// into the four block sums in X1, as int32. Y2, Y3 clobbered.
#define REDUCE4 \
	VPHADDD      Y2, Y1, Y1 \
	VPHADDD      Y4, Y3, Y3 \
	VPHADDD      Y3, Y1, Y1 \
	VEXTRACTI128 $1, Y1, X2 \
	VPADDD       X2, X1, X1

// SIGN_DOT leaves in Y the eight int32 partial sums of w[j]*x[j], the
// weight quants in Y and the activation quants in X, as VPMADDUBSW of |w|
// and x*sign(w) (ggml's sign trick; T gets x*sign(w), T may be X). Y15
// holds int16 ones.
#define SIGN_DOT(Y, X, T) \
	VPSIGNB    Y, X, T        \
	VPABSB     Y, Y           \
	VPMADDUBSW T, Y, Y        \
	VPMADDWD   Y15, Y, Y

// Q8_0_FAST leaves in Y the eight int32 partial sums of w[j]*x[j] over
// the weight block at OFF(SI) and the activation block at XOFF(DI) with
// SIGN_DOT, and ORs into Y9 the bytes of x equal to -128. The sign trick
// is exact unless x has a -128 where w < 0 (-(-128) wraps to -128):
// without such a byte a product pair is at most 2*128*127 in magnitude,
// within int16. Y14 holds 0x80 bytes, Y15 int16 ones; Y5, Y6 scratch; XY
// unused, for LEGACY_LOOPS.
#define Q8_0_FAST(OFF, XOFF, Y, XY) \
	VMOVDQU    2+OFF(SI), Y   \
	VMOVDQU    2+XOFF(DI), Y5 \
	VPCMPEQB   Y14, Y5, Y6    \
	VPOR       Y6, Y9, Y9     \
	SIGN_DOT(Y, Y5, Y5)

// LEGACY_LOOPS is the loop of the one-row kernels of the legacy types
// (Q4_0, Q5_0, Q8_0, Q4_1, Q5_1), CX blocks from SI (weights, WS bytes a
// block) and DI (activations, XS bytes a block): four blocks at a time
// while four are left, then one at a time, then on to the caller's DONE.
// BLOCK(OFF, XOFF, Y, XY) leaves in Y (XY its XMM half) the eight int32
// partial sums of the weight block at OFF(SI) against the activation
// block at XOFF(DI); FLOAT4(WS) adds the float terms of the four block
// sums in X1 to sumf (lane 0 of X0) in block order, FLOAT1 that of the one
// in lane 0 of X1. LOOP4, TAIL and LOOP are the labels it defines.
#define LEGACY_LOOPS(BLOCK, WS, XS, FLOAT4, FLOAT1, LOOP4, TAIL, LOOP, DONE) \
	CMPQ  CX, $4                 \
	JLT   TAIL                   \
LOOP4:                               \
	BLOCK(0, 0, Y1, X1)          \
	BLOCK(WS, XS, Y2, X2)        \
	BLOCK(2*WS, 2*XS, Y3, X3)    \
	BLOCK(3*WS, 3*XS, Y4, X4)    \
	REDUCE4                      \
	FLOAT4(WS)                   \
	ADDQ  $4*WS, SI              \
	ADDQ  $4*XS, DI              \
	SUBQ  $4, CX                 \
	CMPQ  CX, $4                 \
	JGE   LOOP4                  \
TAIL:                                \
	TESTQ CX, CX                 \
	JZ    DONE                   \
LOOP:                                \
	BLOCK(0, 0, Y1, X1)          \
	HSUMD(Y1, X1, X2)            \
	FLOAT1                       \
	ADDQ  $WS, SI                \
	ADDQ  $XS, DI                \
	DECQ  CX                     \
	JNZ   LOOP

// LEGACY0_FLOAT4 is, for four blocks with int32 sums s in X1 and weight
// blocks of WS bytes against Q8_0 activation blocks: sumf += float32(s) *
// (dw*dx) block by block (ggml_vec_dot_q8_0_q8_0_generic / q5_0),
// lane-wise.
#define LEGACY0_FLOAT4(WS) \
	VCVTDQ2PS X1, X1             \
	HALVES4(SI, 0, WS, X3)       \
	HALVES4(DI, 0, 34, X4)       \
	VMULPS    X4, X3, X3         \
	VMULPS    X3, X1, X1         \
	ADD4(X1, X0, X2)

// LEGACY0_FLOAT1 is the same for one block (sum in lane 0 of X1; lane 0
// of the fp16 conversions is the block's d).
#define LEGACY0_FLOAT1 \
	VCVTDQ2PS X1, X1             \
	VCVTPH2PS (SI), X3           \
	VCVTPH2PS (DI), X4           \
	VMULSS    X4, X3, X3         \
	VMULSS    X3, X1, X1         \
	VADDSS    X1, X0, X0

// func dotQ8_0Asm(w, x *byte, nb int) float32
// Per block: s = sum w[j]*x[j]; sumf += float32(s) * (half(w.d) *
// half(x.d)). Four blocks at a time: their sums are reduced together and
// the float products computed lane-wise, then added to sumf one by one in
// block order.
// The block sums come from Q8_0_FAST; if any activation byte was -128
// (which ggml's quantizer never writes) the row is done again with the
// exact sign-extending Q8_0_ISUM.
TEXT ·dotQ8_0Asm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0
	VPXOR   Y9, Y9, Y9
	VMOVDQU bytes80<>(SB), Y14
	VMOVDQU words01<>(SB), Y15
	LEGACY_LOOPS(Q8_0_FAST, 34, 34, LEGACY0_FLOAT4, LEGACY0_FLOAT1, q8_0loop4, q8_0tail, q8_0loop, q8_0done)

q8_0done:
	VPTEST Y9, Y9
	JNZ    q8_0exact
	VZEROUPPER
	MOVSS  X0, ret+24(FP)
	RET

q8_0exact:
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS X0, X0, X0
	LEGACY_LOOPS(Q8_0_ISUM, 34, 34, LEGACY0_FLOAT4, LEGACY0_FLOAT1, q8_0xloop4, q8_0xtail, q8_0xloop, q8_0xdone)

q8_0xdone:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

DATA bytes80<>+0x00(SB)/8, $0x8080808080808080
DATA bytes80<>+0x08(SB)/8, $0x8080808080808080
DATA bytes80<>+0x10(SB)/8, $0x8080808080808080
DATA bytes80<>+0x18(SB)/8, $0x8080808080808080
GLOBL bytes80<>(SB), RODATA|NOPTR, $32

// Byte permutation applied to quants and activations alike before
// VPMADDUBSW, in each 16-byte half: 0,8,1,9,...,7,15. Adjacent bytes then
// share a position mod 8, so the int16 pair sums stay inside one of the
// K-quants' eight lanes: word k of each half is lane k.
DATA lanePerm<>+0x00(SB)/8, $0x0b030a0209010800
DATA lanePerm<>+0x08(SB)/8, $0x0f070e060d050c04
DATA lanePerm<>+0x10(SB)/8, $0x0b030a0209010800
DATA lanePerm<>+0x18(SB)/8, $0x0f070e060d050c04
GLOBL lanePerm<>(SB), RODATA|NOPTR, $32

// Sixteen bytes reordered as the eight even ones, then the eight odd ones.
DATA evenOdd<>+0x00(SB)/8, $0x0e0c0a0806040200
DATA evenOdd<>+0x08(SB)/8, $0x0f0d0b0907050301
GLOBL evenOdd<>(SB), RODATA|NOPTR, $16

DATA bytes0F<>+0x00(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0F<>+0x08(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0F<>+0x10(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0F<>+0x18(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL bytes0F<>(SB), RODATA|NOPTR, $32

DATA bytes30<>+0x00(SB)/8, $0x3030303030303030
DATA bytes30<>+0x08(SB)/8, $0x3030303030303030
DATA bytes30<>+0x10(SB)/8, $0x3030303030303030
DATA bytes30<>+0x18(SB)/8, $0x3030303030303030
GLOBL bytes30<>(SB), RODATA|NOPTR, $32

DATA bytes20<>+0x00(SB)/8, $0x2020202020202020
DATA bytes20<>+0x08(SB)/8, $0x2020202020202020
DATA bytes20<>+0x10(SB)/8, $0x2020202020202020
DATA bytes20<>+0x18(SB)/8, $0x2020202020202020
GLOBL bytes20<>(SB), RODATA|NOPTR, $32

// LANES_COMBINE sums the two accumulators of the K-quant kernels into
// the eight int32 lanes aux[0..7] in D: A holds lanes 0-3 of positions
// 0-15 (low half) and of positions 16-31 (high half), B lanes 4-7 alike.
#define LANES_COMBINE(A, B, D, T) \
	VPERM2I128 $0x20, B, A, D \
	VPERM2I128 $0x31, B, A, T \
	VPADDD     T, D, D

// ADD_LANES is ggml's sums[l] += d * float32(aux[l]) on all eight lanes:
// AUX (int32 lanes, clobbered) is converted, multiplied by lane 0 of D
// (an XMM; DY is the YMM of the same register, clobbered) and added to
// SUMS.
#define ADD_LANES(AUX, D, DY, SUMS) \
	VCVTDQ2PS    AUX, AUX \
	VBROADCASTSS D, DY    \
	VMULPS       DY, AUX, AUX \
	VADDPS       AUX, SUMS, SUMS

// FINISH_LANES is ggml's final for l in 0..7: sumf += sums[l], in that
// order, into lane 0 of S; SY/SX is the sums register (clobbered), T a
// scratch XMM.
#define FINISH_LANES(SY, SX, S, T) \
	VADDSS       SX, S, S      \
	VMOVSHDUP    SX, T         \
	VADDSS       T, S, S       \
	VPSHUFD      $2, SX, T     \
	VADDSS       T, S, S       \
	VPSHUFD      $3, SX, T     \
	VADDSS       T, S, S       \
	VEXTRACTF128 $1, SY, SX    \
	VADDSS       SX, S, S      \
	VMOVSHDUP    SX, T         \
	VADDSS       T, S, S       \
	VPSHUFD      $2, SX, T     \
	VADDSS       T, S, S       \
	VPSHUFD      $3, SX, T     \
	VADDSS       T, S, S

// K4_SCALES unpacks the eight 6-bit scales of a Q4_K/Q5_K block (12
// bytes at 4(SI)) into R8 and the eight mins into R10, one byte each: for
// j < 4 the low 6 bits of bytes j and j+4; for j >= 4 the low (scale) or
// high (min) nibble of byte j+4 with the top two bits of byte j-4 (scale)
// or j (min) above it. Clobbers AX, BX, DX, R9.
#define K4_SCALES \
	MOVL 4(SI), AX          \
	MOVL 8(SI), BX          \
	MOVL 12(SI), DX         \
	MOVL AX, R8             \
	ANDL $0x3f3f3f3f, R8    \
	SHRL $2, AX             \
	ANDL $0x30303030, AX    \
	MOVL DX, R9             \
	ANDL $0x0f0f0f0f, R9    \
	ORL  AX, R9             \
	SHLQ $32, R9            \
	ORQ  R9, R8             \
	MOVL BX, R10            \
	ANDL $0x3f3f3f3f, R10   \
	SHRL $2, BX             \
	ANDL $0x30303030, BX    \
	SHRL $4, DX             \
	ANDL $0x0f0f0f0f, DX    \
	ORL  BX, DX             \
	SHLQ $32, DX            \
	ORQ  DX, R10

// K4_BEGIN starts a Q4_K/Q5_K block: scales into Y8 (as int16, in both
// halves, so dword j is the pair 2j, 2j+1), mins into R10, lane
// accumulators Y10, Y11 cleared.
#define K4_BEGIN \
	K4_SCALES                     \
	VMOVQ       R8, X8            \
	VPMOVZXBW   X8, X8            \
	VINSERTI128 $1, X8, Y8, Y8    \
	VPXOR       Y10, Y10, Y10     \
	VPXOR       Y11, Y11, Y11

// K4_NIBBLES loads bytes QOFF..QOFF+31 of the block, permuted, and splits
// them into the low nibbles in Y1 (elements 64j..64j+31) and the high
// nibbles in Y2 (elements 64j+32..64j+63).
#define K4_NIBBLES(QOFF) \
	VMOVDQU QOFF(SI), Y1  \
	VPSHUFB Y15, Y1, Y1   \
	VPSRLW  $4, Y1, Y2    \
	VPAND   Y14, Y1, Y1   \
	VPAND   Y14, Y2, Y2

// K4_ACC multiplies the quants Y1 (scale 2j) and Y2 (scale 2j+1) by the
// permuted activations at YLO and YHI (VPMADDUBSW pairs at most 2*31*128
// for 5-bit quants), then by their scales (the dword of Y8 selected by
// IMM) and accumulates lanes 0-3 into Y10 and 4-7 into Y11.
#define K4_ACC(YLO, YHI, IMM) \
	VMOVDQU    YLO(DI), Y3   \
	VPSHUFB    Y15, Y3, Y3   \
	VMOVDQU    YHI(DI), Y4   \
	VPSHUFB    Y15, Y4, Y4   \
	VPMADDUBSW Y3, Y1, Y1    \
	VPMADDUBSW Y4, Y2, Y2    \
	VPUNPCKLWD Y2, Y1, Y3    \
	VPUNPCKHWD Y2, Y1, Y4    \
	VPSHUFD    $IMM, Y8, Y5  \
	VPMADDWD   Y5, Y3, Y3    \
	VPMADDWD   Y5, Y4, Y4    \
	VPADDD     Y3, Y10, Y10  \
	VPADDD     Y4, Y11, Y11

// K4_END finishes a Q4_K/Q5_K block: sums[l] += (d*yd) * aux[l], and
// sumf -= (dmin*yd) * (sum over the sixteen bsums of bsum * min(j/2)).
#define K4_END \
	LANES_COMBINE(Y10, Y11, Y1, Y2) \
	VCVTPH2PS (SI), X2         \
	VMOVSS    (DI), X3         \
	VMULSS    X3, X2, X4       \
	ADD_LANES(Y1, X4, Y4, Y13) \
	VMOVQ      R10, X5         \
	VPUNPCKLBW X5, X5, X5      \
	VPMOVZXBW  X5, Y5          \
	VPMADDWD   260(DI), Y5, Y5 \
	HSUMD(Y5, X5, X6)          \
	VCVTDQ2PS  X5, X5          \
	VMOVSHDUP  X2, X2          \
	VMULSS     X3, X2, X2      \
	VMULSS     X5, X2, X2      \
	VSUBSS     X2, X0, X0

// K_NEXT moves the one-row K-quant kernels to the next block (WS bytes of
// weights, a Q8_K activation block of 292) and loops back to LOOP while CX
// blocks are left.
#define K_NEXT(WS, LOOP) \
	ADDQ $WS, SI  \
	ADDQ $292, DI \
	DECQ CX       \
	JNZ  LOOP

// func dotQ4_KAsm(w, x *byte, nb int) float32
// Byte l of the j-th 32 quant bytes holds element 64j + l (low nibble,
// scale 2j) and 64j + 32 + l (high nibble, scale 2j+1).
TEXT ·dotQ4_KAsm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0         // sumf
	VXORPS  Y13, Y13, Y13      // sums[0..7]
	VMOVDQU bytes0F<>(SB), Y14
	VMOVDQU lanePerm<>(SB), Y15

	// The one-row K-quant kernels prefetch 2 KiB ahead of the weights
	// (one row after another, a decode step's long stream): the 1.5B
	// shape's decode step ran 15-20% faster (CPU time, 1 thread).
q4kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	PREFETCHT0 2176(SI)
	K4_BEGIN
	K4_NIBBLES(16)
	K4_ACC(4, 36, 0x00)
	K4_NIBBLES(48)
	K4_ACC(68, 100, 0x55)
	K4_NIBBLES(80)
	K4_ACC(132, 164, 0xaa)
	K4_NIBBLES(112)
	K4_ACC(196, 228, 0xff)
	K4_END
	K_NEXT(144, q4kloop)

	FINISH_LANES(Y13, X13, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// K5_HIGH puts the fifth bits into Y1 and Y2: bit 2j (low nibbles) and
// 2j+1 (high nibbles) of the permuted qh bytes in Y9, moved to bit 4 by
// the shifts LO and HI (word shifts: the bits that cross into the other
// byte of a word never land on bit 4). Y12 holds 0x10 bytes.
#define K5_HIGH(LO, LOAMT, HI, HIAMT) \
	LO      $LOAMT, Y9, Y6 \
	VPAND   Y12, Y6, Y6    \
	VPOR    Y6, Y1, Y1     \
	HI      $HIAMT, Y9, Y6 \
	VPAND   Y12, Y6, Y6    \
	VPOR    Y6, Y2, Y2

// func dotQ5_KAsm(w, x *byte, nb int) float32
// As Q4_K, with the fifth bits of elements 64j + l and 64j + 32 + l in
// bits 2j and 2j+1 of qh[l] (32 bytes at 16; quants at 48).
TEXT ·dotQ5_KAsm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0         // sumf
	VXORPS  Y13, Y13, Y13      // sums[0..7]
	VMOVDQU bytes10<>(SB), Y12
	VMOVDQU bytes0F<>(SB), Y14
	VMOVDQU lanePerm<>(SB), Y15

q5kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	PREFETCHT0 2176(SI)
	K4_BEGIN
	VMOVDQU 16(SI), Y9
	VPSHUFB Y15, Y9, Y9
	K4_NIBBLES(48)
	K5_HIGH(VPSLLW, 4, VPSLLW, 3)
	K4_ACC(4, 36, 0x00)
	K4_NIBBLES(80)
	K5_HIGH(VPSLLW, 2, VPSLLW, 1)
	K4_ACC(68, 100, 0x55)
	K4_NIBBLES(112)
	K5_HIGH(VPSLLW, 0, VPSRLW, 1)
	K4_ACC(132, 164, 0xaa)
	K4_NIBBLES(144)
	K5_HIGH(VPSRLW, 2, VPSRLW, 3)
	K4_ACC(196, 228, 0xff)
	K4_END
	K_NEXT(176, q5kloop)

	FINISH_LANES(Y13, X13, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Q6K_QUANTS builds, from the permuted ql bytes QL0/QL1 and qh bytes QH,
// the four 6-bit quant vectors Y4 (g=0), Y5 (g=1), Y6 (g=2), Y7 (g=3):
// low nibble of QL0, of QL1, high nibble of QL0, of QL1, with bits 2g of
// QH on top. Y12 holds 0x30 bytes, Y14 0x0f bytes.
#define Q6K_QUANTS(QL0, QL1, QH) \
	VPSLLW  $4, QH, Y4   \
	VPAND   Y12, Y4, Y4  \
	VPAND   Y14, QL0, Y0 \
	VPOR    Y0, Y4, Y4   \
	VPSLLW  $2, QH, Y5   \
	VPAND   Y12, Y5, Y5  \
	VPAND   Y14, QL1, Y0 \
	VPOR    Y0, Y5, Y5   \
	VPAND   Y12, QH, Y6  \
	VPSRLW  $4, QL0, Y0  \
	VPAND   Y14, Y0, Y0  \
	VPOR    Y0, Y6, Y6   \
	VPSRLW  $2, QH, Y7   \
	VPAND   Y12, Y7, Y7  \
	VPSRLW  $4, QL1, Y0  \
	VPAND   Y14, Y0, Y0  \
	VPOR    Y0, Y7, Y7

// Q6K_DOT replaces the quants Q (0..63) by the int16 pair sums of
// (q-32)*y over the permuted activations at YOFF: VPMADDUBSW of q and of
// 32 against y, subtracted (each at most 2*63*128, the difference at most
// 2*32*128 in magnitude, all within int16).
#define Q6K_DOT(Q, YOFF) \
	VMOVDQU    YOFF(DI), Y0 \
	VPSHUFB    Y15, Y0, Y0  \
	VPMADDUBSW Y0, Q, Q     \
	VPMADDUBSW Y0, Y9, Y0   \
	VPSUBW     Y0, Q, Q

// Q6K_PAIR multiplies the pair sums of two element groups A and B (32
// elements each, scales 2g, 2g+1 and 2g', 2g'+1) by their int8 scales,
// the dword selected by IMM from Y8, and accumulates the lanes into Y10
// and Y11. A, B clobbered; Y0 scratch.
#define Q6K_PAIR(A, B, IMM) \
	VPSHUFD    $IMM, Y8, Y0 \
	VPUNPCKLWD B, A, Y1     \
	VPUNPCKHWD B, A, Y2     \
	VPMADDWD   Y0, Y1, Y1   \
	VPMADDWD   Y0, Y2, Y2   \
	VPADDD     Y1, Y10, Y10 \
	VPADDD     Y2, Y11, Y11

// Q6K_GROUPS accumulates the four element groups of 32 whose quants are
// in Y4..Y7 (Q6_K's 0..63 against 32, Q3_K's q+4 in 0..7 against 4: Y9
// holds the offset bytes) with the permuted activations at YOFF, YOFF+32,
// YOFF+64 and YOFF+96: Q6K_DOT each, then Q6K_PAIR with the scale dwords
// IMM0 (Y4, Y5) and IMM1 (Y6, Y7).
#define Q6K_GROUPS(YOFF, IMM0, IMM1) \
	Q6K_DOT(Y4, YOFF)      \
	Q6K_DOT(Y5, YOFF+32)   \
	Q6K_DOT(Y6, YOFF+64)   \
	Q6K_DOT(Y7, YOFF+96)   \
	Q6K_PAIR(Y4, Y5, IMM0) \
	Q6K_PAIR(Y6, Y7, IMM1)

// Q6K_HALF handles elements 128h..128h+127 of a Q6_K block: ql bytes at
// QL and QL+32, qh bytes at QH, activations from YOFF.
#define Q6K_HALF(QL, QH, YOFF, IMM0, IMM1) \
	VMOVDQU QL(SI), Y1    \
	VPSHUFB Y15, Y1, Y1   \
	VMOVDQU QL+32(SI), Y2 \
	VPSHUFB Y15, Y2, Y2   \
	VMOVDQU QH(SI), Y3    \
	VPSHUFB Y15, Y3, Y3   \
	Q6K_QUANTS(Y1, Y2, Y3) \
	Q6K_GROUPS(YOFF, IMM0, IMM1)

// K6_END finishes a Q6_K/Q3_K block: the lanes Y10, Y11 combined into
// aux[0..7], sums[l] += (d*yd) * aux[l] (Y13) with the fp16 d at
// DOFF(SI) and yd at (DI).
#define K6_END(DOFF) \
	LANES_COMBINE(Y10, Y11, Y1, Y2) \
	MOVWLZX   DOFF(SI), AX     \
	VMOVD     AX, X2           \
	VCVTPH2PS X2, X2           \
	VMULSS    (DI), X2, X2     \
	ADD_LANES(Y1, X2, Y2, Y13)

// func dotQ6_KAsm(w, x *byte, nb int) float32
// Element 128h + 32g + l: nibble g/2 of ql[64h + 32(g%2) + l], bits 2g of
// qh[32h + l] above it, minus 32; scale 8h + 2g + l/16 (int8).
TEXT ·dotQ6_KAsm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  Y13, Y13, Y13      // sums[0..7]
	VMOVDQU bytes20<>(SB), Y9
	VMOVDQU bytes30<>(SB), Y12
	VMOVDQU bytes0F<>(SB), Y14
	VMOVDQU lanePerm<>(SB), Y15

q6kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	PREFETCHT0 2176(SI)
	PREFETCHT0 2240(SI)
	// Y8: the even scales as int16 in the low half, the odd ones in the
	// high half, so dword k pairs scales 4k, 4k+2 (low) and 4k+1, 4k+3
	// (high): the scales of groups 2k%4, 2k%4+1 of half k/2, elements
	// l < 16 and l >= 16.
	VMOVDQU   192(SI), X8
	VPSHUFB   evenOdd<>(SB), X8, X8
	VPMOVSXBW X8, Y8
	VPXOR     Y10, Y10, Y10
	VPXOR     Y11, Y11, Y11
	Q6K_HALF(0, 128, 4, 0x00, 0x55)
	Q6K_HALF(64, 160, 132, 0xaa, 0xff)
	K6_END(208)

	K_NEXT(210, q6kloop)

	VXORPS X0, X0, X0
	FINISH_LANES(Y13, X13, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

DATA bytes08<>+0x00(SB)/8, $0x0808080808080808
DATA bytes08<>+0x08(SB)/8, $0x0808080808080808
DATA bytes08<>+0x10(SB)/8, $0x0808080808080808
DATA bytes08<>+0x18(SB)/8, $0x0808080808080808
GLOBL bytes08<>(SB), RODATA|NOPTR, $32

DATA bytes10<>+0x00(SB)/8, $0x1010101010101010
DATA bytes10<>+0x08(SB)/8, $0x1010101010101010
DATA bytes10<>+0x10(SB)/8, $0x1010101010101010
DATA bytes10<>+0x18(SB)/8, $0x1010101010101010
GLOBL bytes10<>(SB), RODATA|NOPTR, $32

DATA words01<>+0x00(SB)/8, $0x0001000100010001
DATA words01<>+0x08(SB)/8, $0x0001000100010001
DATA words01<>+0x10(SB)/8, $0x0001000100010001
DATA words01<>+0x18(SB)/8, $0x0001000100010001
GLOBL words01<>(SB), RODATA|NOPTR, $32

// qh bit expansion: byte e of a broadcast uint32 is byte e/8 of it,
// masked with bit e%8.
DATA bitByte<>+0x00(SB)/8, $0x0000000000000000
DATA bitByte<>+0x08(SB)/8, $0x0101010101010101
DATA bitByte<>+0x10(SB)/8, $0x0202020202020202
DATA bitByte<>+0x18(SB)/8, $0x0303030303030303
GLOBL bitByte<>(SB), RODATA|NOPTR, $32

DATA bitMask<>+0x00(SB)/8, $0x8040201008040201
DATA bitMask<>+0x08(SB)/8, $0x8040201008040201
DATA bitMask<>+0x10(SB)/8, $0x8040201008040201
DATA bitMask<>+0x18(SB)/8, $0x8040201008040201
GLOBL bitMask<>(SB), RODATA|NOPTR, $32

// NIBBLES32 loads the 16 bytes at MEM into Y as 32 quants: the low
// nibbles (elements 0-15), then the high nibbles (16-31). Y14 holds 0x0f
// bytes; T is scratch; XY and XT are the XMM halves of Y and T.
#define NIBBLES32(MEM, Y, T, XY, XT) \
	VMOVDQU     MEM, XT         \
	VPSRLW      $4, XT, XY      \
	VINSERTI128 $1, XY, T, Y    \
	VPAND       Y14, Y, Y

// HIGHBITS sets in Y (a YMM) 0x10 in byte e where bit e of the uint32 at
// MEM is set, 0 elsewhere. Y11 holds bitByte, Y12 bitMask, Y10 0x10
// bytes.
#define HIGHBITS(MEM, Y) \
	VPBROADCASTD MEM, Y     \
	VPSHUFB      Y11, Y, Y  \
	VPAND        Y12, Y, Y  \
	VPCMPEQB     Y12, Y, Y  \
	VPAND        Y10, Y, Y

// Q5_CONSTS loads the constants of the Q5_0/Q5_1 kernels: Y10 0x10
// bytes, Y11 bitByte, Y12 bitMask (HIGHBITS), Y14 0x0f bytes (NIBBLES32),
// Y15 int16 ones.
#define Q5_CONSTS \
	VMOVDQU bytes10<>(SB), Y10 \
	VMOVDQU bitByte<>(SB), Y11 \
	VMOVDQU bitMask<>(SB), Y12 \
	VMOVDQU bytes0F<>(SB), Y14 \
	VMOVDQU words01<>(SB), Y15

// Q5_QUANTS loads into Y the 32 quants 0..31 of a Q5_0 or Q5_1 block:
// the nibbles at QS (NIBBLES32) with the fifth bits, the uint32 at QH
// (HIGHBITS), as bit 4. T and U scratch YMMs (they may be the same), XY
// and XU the XMM halves of Y and U.
#define Q5_QUANTS(QS, QH, Y, XY, T, U, XU) \
	NIBBLES32(QS, Y, U, XY, XU)  \
	HIGHBITS(QH, T)              \
	VPOR         T, Y, Y

// Q4_0_ISUM: eight int32 partial sums of (q-8)*y for the Q4_0 block at
// OFF(SI) and Q8_0 block at XOFF(DI). VPMADDUBSW of q (0..15) and of 8
// against y (pairs at most 2*15*128), subtracted. Y13 holds 0x08 bytes,
// Y15 int16 ones; Y5 scratch.
#define Q4_0_ISUM(OFF, XOFF, Y, XY) \
	NIBBLES32(2+OFF(SI), Y, Y5, XY, X5) \
	VPMADDUBSW 2+XOFF(DI), Y, Y         \
	VPMADDUBSW 2+XOFF(DI), Y13, Y5      \
	VPSUBW     Y5, Y, Y                 \
	VPMADDWD   Y15, Y, Y

// Q4_0_FLOAT4 is, for four blocks with int32 sums s in X1: sumf +=
// (float32(s) * dw) * dx block by block (ggml_vec_dot_q4_0_q8_0_generic's
// order, unlike Q5_0's and Q8_0's), lane-wise. WS: 18, the block size.
#define Q4_0_FLOAT4(WS) \
	VCVTDQ2PS X1, X1             \
	HALVES4(SI, 0, WS, X3)       \
	HALVES4(DI, 0, 34, X4)       \
	VMULPS    X3, X1, X1         \
	VMULPS    X4, X1, X1         \
	ADD4(X1, X0, X2)

// Q4_0_FLOAT1 is the same for one block (sum in lane 0 of X1).
#define Q4_0_FLOAT1 \
	VCVTDQ2PS X1, X1             \
	VCVTPH2PS (SI), X3           \
	VCVTPH2PS (DI), X4           \
	VMULSS    X3, X1, X1         \
	VMULSS    X4, X1, X1         \
	VADDSS    X1, X0, X0

// func dotQ4_0Asm(w, x *byte, nb int) float32
// sumf += float32(s) * d * dx per block (ggml_vec_dot_q4_0_q8_0_generic).
TEXT ·dotQ4_0Asm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0
	VMOVDQU bytes08<>(SB), Y13
	VMOVDQU bytes0F<>(SB), Y14
	VMOVDQU words01<>(SB), Y15
	LEGACY_LOOPS(Q4_0_ISUM, 18, 34, Q4_0_FLOAT4, Q4_0_FLOAT1, q4_0loop4, q4_0tail, q4_0loop, q4_0done)

q4_0done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Q5_0_ISUM: as Q4_0_ISUM for a Q5_0 block (qh at 2, nibbles at 6),
// quants q = nibble | bit<<4 (0..31) against 16 (Y10 holds 0x10 bytes,
// the unsigned operand; pairs at most 2*31*128).
#define Q5_0_ISUM(OFF, XOFF, Y, XY) \
	Q5_QUANTS(6+OFF(SI), 2+OFF(SI), Y, XY, Y5, Y5, X5) \
	VPMADDUBSW 2+XOFF(DI), Y, Y       \
	VPMADDUBSW 2+XOFF(DI), Y10, Y5    \
	VPSUBW     Y5, Y, Y               \
	VPMADDWD   Y15, Y, Y

// func dotQ5_0Asm(w, x *byte, nb int) float32
// sumf += (d*dx) * float32(s) per block (ggml_vec_dot_q5_0_q8_0_generic).
TEXT ·dotQ5_0Asm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0
	Q5_CONSTS
	LEGACY_LOOPS(Q5_0_ISUM, 22, 34, LEGACY0_FLOAT4, LEGACY0_FLOAT1, q5_0loop4, q5_0tail, q5_0loop, q5_0done)

q5_0done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Q4_1_ISUM: eight int32 partial sums of q*y (q = 0..15) for the Q4_1
// block at OFF(SI) (nibbles at 4) and the Q8_1 block at XOFF(DI) (quants
// at 4).
#define Q4_1_ISUM(OFF, XOFF, Y, XY) \
	NIBBLES32(4+OFF(SI), Y, Y5, XY, X5) \
	VPMADDUBSW 4+XOFF(DI), Y, Y         \
	VPMADDWD   Y15, Y, Y

// Q5_1_ISUM: the same for a Q5_1 block (qh at 4, nibbles at 8; q 0..31).
#define Q5_1_ISUM(OFF, XOFF, Y, XY) \
	Q5_QUANTS(8+OFF(SI), 4+OFF(SI), Y, XY, Y5, Y5, X5) \
	VPMADDUBSW 4+XOFF(DI), Y, Y       \
	VPMADDWD   Y15, Y, Y

// LEGACY1_FLOAT4 is, for four blocks with int32 sums in X1 and weight
// blocks of WS bytes: sumf += float32((d*dx)*float32(s)) + float32(m*sx)
// block by block (ggml_vec_dot_q4_1_q8_1_generic / q5_1), lane-wise.
#define LEGACY1_FLOAT4(WS) \
	VCVTDQ2PS X1, X1             \
	HALVES4(SI, 0, WS, X3)       \
	HALVES4(DI, 0, 36, X4)       \
	VMULPS    X4, X3, X3         \
	VMULPS    X3, X1, X1         \
	HALVES4(SI, 2, WS, X5)       \
	HALVES4(DI, 2, 36, X6)       \
	VMULPS    X6, X5, X5         \
	VADDPS    X5, X1, X1         \
	ADD4(X1, X0, X2)

// LEGACY1_FLOAT1 is the same for one block (sum in lane 0 of X1).
#define LEGACY1_FLOAT1 \
	VCVTDQ2PS X1, X1             \
	VCVTPH2PS (SI), X3           \
	VCVTPH2PS (DI), X4           \
	VMULSS    X4, X3, X5         \
	VMULSS    X5, X1, X1         \
	VMULPS    X4, X3, X3         \
	VMOVSHDUP X3, X3             \
	VADDSS    X3, X1, X1         \
	VADDSS    X1, X0, X0

// func dotQ4_1Asm(w, x *byte, nb int) float32
TEXT ·dotQ4_1Asm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0
	VMOVDQU bytes0F<>(SB), Y14
	VMOVDQU words01<>(SB), Y15
	LEGACY_LOOPS(Q4_1_ISUM, 20, 36, LEGACY1_FLOAT4, LEGACY1_FLOAT1, q4_1loop4, q4_1tail, q4_1loop, q4_1done)

q4_1done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ5_1Asm(w, x *byte, nb int) float32
TEXT ·dotQ5_1Asm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0
	Q5_CONSTS
	LEGACY_LOOPS(Q5_1_ISUM, 24, 36, LEGACY1_FLOAT4, LEGACY1_FLOAT1, q5_1loop4, q5_1tail, q5_1loop, q5_1done)

q5_1done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

DATA bytes03<>+0x00(SB)/8, $0x0303030303030303
DATA bytes03<>+0x08(SB)/8, $0x0303030303030303
DATA bytes03<>+0x10(SB)/8, $0x0303030303030303
DATA bytes03<>+0x18(SB)/8, $0x0303030303030303
GLOBL bytes03<>(SB), RODATA|NOPTR, $32

DATA bytes04<>+0x00(SB)/8, $0x0404040404040404
DATA bytes04<>+0x08(SB)/8, $0x0404040404040404
DATA bytes04<>+0x10(SB)/8, $0x0404040404040404
DATA bytes04<>+0x18(SB)/8, $0x0404040404040404
GLOBL bytes04<>(SB), RODATA|NOPTR, $32

DATA bytes02<>+0x00(SB)/8, $0x0202020202020202
DATA bytes02<>+0x08(SB)/8, $0x0202020202020202
DATA bytes02<>+0x10(SB)/8, $0x0202020202020202
DATA bytes02<>+0x18(SB)/8, $0x0202020202020202
GLOBL bytes02<>(SB), RODATA|NOPTR, $32

// Word 0 of each 16-byte half, repeated: VPSHUFB control that broadcasts
// one int16 within each half (add 2 to every byte for the next word).
DATA word0<>+0x00(SB)/8, $0x0100010001000100
DATA word0<>+0x08(SB)/8, $0x0100010001000100
DATA word0<>+0x10(SB)/8, $0x0100010001000100
DATA word0<>+0x18(SB)/8, $0x0100010001000100
GLOBL word0<>(SB), RODATA|NOPTR, $32

// Q3K_Q builds in D the quants of group g (0..3) of half k of a Q3_K
// block, plus 4 (0..7): bits 2g of the permuted qs bytes Y1 (shifted down
// by LOAMT = 2g), with bit 4k+g of the permuted hmask bytes Y14 moved to
// bit 2 by HI $HIAMT (word shifts; bits that cross bytes never land on
// bit 2). Y12 holds 0x03 bytes, Y9 0x04 bytes.
#define Q3K_Q(LOAMT, HI, HIAMT, D) \
	VPSRLW $LOAMT, Y1, D   \
	VPAND  Y12, D, D       \
	HI     $HIAMT, Y14, Y0 \
	VPAND  Y9, Y0, Y0      \
	VPOR   Y0, D, D

// func dotQ3_KAsm(w, x *byte, nb int) float32
// Element 128k + 32g + l: bits 2g of qs[32k + l], high bit 4k + g of
// hmask[l] (clear means minus 4), scale 8k + 2g + l/16 (6 bits, minus 32).
// The integer work is Q6_K's with q+4 in 0..7 against 4 (Q6K_DOT with Y9
// holding 0x04 bytes; pairs at most 2*7*128) and the scales in -32..31.
TEXT ·dotQ3_KAsm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  Y13, Y13, Y13      // sums[0..7]
	VMOVDQU bytes04<>(SB), Y9
	VMOVDQU bytes03<>(SB), Y12
	VMOVDQU lanePerm<>(SB), Y15

q3kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	// Scales: 16 6-bit values from 12 bytes a[0:4], b[4:8], c[8:12]:
	// scale j has low nibble (j%8 < 4 ? a : b) byte j%4, nibble j/8,
	// and high bits 2(j/4) of c byte j%4.
	MOVL 96(SI), AX
	MOVL 100(SI), BX
	MOVL 104(SI), DX
	MOVL AX, R8
	ANDL $0x0f0f0f0f, R8
	MOVL DX, R9
	ANDL $0x03030303, R9
	SHLL $4, R9
	ORL  R9, R8                // scales 0-3
	MOVL BX, R9
	ANDL $0x0f0f0f0f, R9
	MOVL DX, R10
	SHLL $2, R10
	ANDL $0x30303030, R10
	ORL  R10, R9               // scales 4-7
	SHLQ $32, R9
	ORQ  R9, R8
	SHRL $4, AX
	ANDL $0x0f0f0f0f, AX
	MOVL DX, R9
	ANDL $0x30303030, R9
	ORL  R9, AX                // scales 8-11
	SHRL $4, BX
	ANDL $0x0f0f0f0f, BX
	SHRL $2, DX
	ANDL $0x30303030, DX
	ORL  DX, BX                // scales 12-15
	SHLQ $32, BX
	ORQ  BX, AX

	// Y8 as in the Q6_K kernel: even scales (int16) low, odd ones high.
	VMOVQ     R8, X8
	VPINSRQ   $1, AX, X8, X8
	VPSUBB    bytes20<>(SB), X8, X8
	VPSHUFB   evenOdd<>(SB), X8, X8
	VPMOVSXBW X8, Y8
	VPXOR     Y10, Y10, Y10
	VPXOR     Y11, Y11, Y11
	VMOVDQU   (SI), Y14
	VPSHUFB   Y15, Y14, Y14

	VMOVDQU 32(SI), Y1
	VPSHUFB Y15, Y1, Y1
	Q3K_Q(0, VPSLLW, 2, Y4)
	Q3K_Q(2, VPSLLW, 1, Y5)
	Q3K_Q(4, VPSLLW, 0, Y6)
	Q3K_Q(6, VPSRLW, 1, Y7)
	Q6K_GROUPS(4, 0x00, 0x55)

	VMOVDQU 64(SI), Y1
	VPSHUFB Y15, Y1, Y1
	Q3K_Q(0, VPSRLW, 2, Y4)
	Q3K_Q(2, VPSRLW, 3, Y5)
	Q3K_Q(4, VPSRLW, 4, Y6)
	Q3K_Q(6, VPSRLW, 5, Y7)
	Q6K_GROUPS(132, 0xaa, 0xff)
	K6_END(108)

	K_NEXT(110, q3kloop)

	VXORPS X0, X0, X0
	FINISH_LANES(Y13, X13, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Q2K_GROUP adds to Y10 the products of group G = 4k + g (elements
// 128k + 32g .. +31, activations at YOFF): quants bits 2g (SHIFT) of the
// qs bytes in Y1 (0..3; VPMADDUBSW pairs at most 2*3*128), times scale
// 2G (elements l < 16, low half) or 2G+1 (l >= 16, high half): word G of
// each half of Y8, broadcast by the control Y7 (then moved to word G+1).
#define Q2K_GROUP(SHIFT, YOFF) \
	VPSRLW     $SHIFT, Y1, Y2 \
	VPAND      Y12, Y2, Y2    \
	VPMADDUBSW YOFF(DI), Y2, Y2 \
	VPSHUFB    Y7, Y8, Y3     \
	VPADDB     Y6, Y7, Y7     \
	VPMADDWD   Y3, Y2, Y2     \
	VPADDD     Y2, Y10, Y10

// func dotQ2_KAsm(w, x *byte, nb int) float32
// Per block: isum = sum over the sixteen groups of 16 of scale * q*y
// (scales are the low nibbles of bytes 0-15), summs = sum of bsum[j] *
// (high nibble of byte j); sumf += dall*isum - dmin*summs.
TEXT ·dotQ2_KAsm(SB), NOSPLIT, $0-28
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  X0, X0, X0
	VMOVDQU bytes02<>(SB), Y6
	VMOVDQU bytes03<>(SB), Y12
	VMOVDQU bytes0F<>(SB), Y14

q2kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	VMOVDQU   (SI), X8
	VPSRLW    $4, X8, X5
	VPAND     X14, X5, X5      // mins
	VPAND     X14, X8, X8      // scales
	VPSHUFB   evenOdd<>(SB), X8, X8
	VPMOVZXBW X8, Y8           // even scales low, odd high
	VPMOVZXBW X5, Y5
	VPMADDWD  260(DI), Y5, Y5
	HSUMD(Y5, X5, X4)          // summs
	VMOVDQU   word0<>(SB), Y7
	VPXOR     Y10, Y10, Y10

	VMOVDQU 16(SI), Y1
	Q2K_GROUP(0, 4)
	Q2K_GROUP(2, 36)
	Q2K_GROUP(4, 68)
	Q2K_GROUP(6, 100)
	VMOVDQU 48(SI), Y1
	Q2K_GROUP(0, 132)
	Q2K_GROUP(2, 164)
	Q2K_GROUP(4, 196)
	Q2K_GROUP(6, 228)
	HSUMD(Y10, X10, X4)        // isum

	MOVL         80(SI), AX
	VMOVD        AX, X3
	VCVTPH2PS    X3, X3        // d, dmin
	VBROADCASTSS (DI), X4
	VMULPS       X3, X4, X3    // dall = yd*d, dmin = yd*dmin
	VPUNPCKLDQ   X5, X10, X1   // isum, summs
	VCVTDQ2PS    X1, X1
	VMULPS       X3, X1, X1
	VMOVSHDUP    X1, X2
	VSUBSS       X2, X1, X1
	VADDSS       X1, X0, X0

	K_NEXT(84, q2kloop)

	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// ROWS4_HALVES loads into X, as four float32 lanes, the fp16 d at the
// start of the blocks of the four rows at (SI), (R13), (SI)(R11*2) and
// (R13)(R11*2) (rows 0-3 of a four-row kernel). AX, BX, DX clobbered.
#define ROWS4_HALVES(X) HALVES4M((SI), (R13), (SI)(R11*2), (R13)(R11*2), X)

// ROWS4_SUMF is the float step of the four-row kernels for one block:
// with the four rows' int32 block sums in X1, their fp16 d at (SI),
// (R13), (SI)(R11*2), (R13)(R11*2) (rows 0-3) and the activations' at
// (DI): sumf += float32(s) * (dw*dx), lane r for row r, in X0. AX, BX,
// DX, X3 and X4 clobbered.
#define ROWS4_SUMF \
	VCVTDQ2PS    X1, X1          \
	ROWS4_HALVES(X3)             \
	VCVTPH2PS    (DI), X4        \
	VBROADCASTSS X4, X4          \
	VMULPS       X4, X3, X3      \
	VMULPS       X3, X1, X1      \
	VADDPS       X1, X0, X0

// ROWS4_NEXT moves the four-row kernels to the next block (weight blocks
// of WS bytes, Q8_0 activation blocks) and loops back to LOOP while CX
// blocks are left.
#define ROWS4_NEXT(WS, LOOP) \
	ADDQ $WS, SI  \
	ADDQ $WS, R13 \
	ADDQ $34, DI  \
	DECQ CX       \
	JNZ  LOOP

// func dotQ8_0x4Asm(w *byte, stride int, x *byte, nb int, out *[4]float32) bool
// Four weight rows (w, w+stride, w+2*stride, w+3*stride) against one
// activation row: the four rows' block sums are reduced together, and
// lane r of X0 is row r's sumf, so the per-row float operations are
// exactly those of dotQ8_0Asm, done four rows at a time (the four
// dependent addition chains overlap instead of running one after
// another). Returns false, with out unspecified, when an activation byte
// is -128 (see Q8_0_FAST): the caller then uses dotQ8_0Asm.
TEXT ·dotQ8_0x4Asm(SB), NOSPLIT, $0-41
	MOVQ    w+0(FP), SI
	MOVQ    stride+8(FP), R11
	MOVQ    x+16(FP), DI
	MOVQ    nb+24(FP), CX
	LEAQ    (SI)(R11*1), R13   // row 1; rows 2 and 3 are SI, R13 + 2*stride
	LEAQ    (SI)(R11*4), R14   // the next four rows, prefetched as we go
	VXORPS  X0, X0, X0
	VPXOR   Y9, Y9, Y9
	VMOVDQU bytes80<>(SB), Y14
	VMOVDQU words01<>(SB), Y15

q8_0x4loop:
	// Four rows are four short streams, which the hardware prefetcher
	// does not follow (out of cache this kernel ran at half the speed
	// of the one-row kernel without these): bring in the next four rows
	// (as many bytes as these four rows' blocks) one group ahead.
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	PREFETCHT0 128(R14)
	ADDQ       $136, R14
	VMOVDQU    2(DI), Y5
	VPCMPEQB   Y14, Y5, Y6
	VPOR       Y6, Y9, Y9
	VMOVDQU    2(SI), Y1
	VMOVDQU    2(R13), Y2
	VMOVDQU    2(SI)(R11*2), Y3
	VMOVDQU    2(R13)(R11*2), Y4
	SIGN_DOT(Y1, Y5, Y6)
	SIGN_DOT(Y2, Y5, Y6)
	SIGN_DOT(Y3, Y5, Y6)
	SIGN_DOT(Y4, Y5, Y6)
	REDUCE4                        // X1: the four rows' block sums
	ROWS4_SUMF
	ROWS4_NEXT(34, q8_0x4loop)

	MOVQ    out+32(FP), R8
	VMOVUPS X0, (R8)
	VPTEST  Y9, Y9
	SETEQ   ret+40(FP)
	VZEROUPPER
	RET

// REDUCE4R turns the eight int32 lanes of each of A, B, C, D (four rows'
// block products) into the four block sums in XA, as int32 (REDUCE4 on
// other registers). B, C clobbered; XC is the low half of C.
#define REDUCE4R(A, B, C, D, XA, XC) \
	VPHADDD      B, A, A  \
	VPHADDD      D, C, C  \
	VPHADDD      C, A, A  \
	VEXTRACTI128 $1, A, XC \
	VPADDD       XC, XA, XA

// ROWS4_MATF is the float step of the four-row matrix kernels for one
// token and block, then the move to the next token: the four rows' block
// products in Y5..Y8 are reduced (REDUCE4R) to their block sums s, and
// the token's sums at (DX) get sum += float32(s) * (dw*dx) row by row
// (the rows' d in X9, the token's block at R10); R10 += xstride (R12),
// DX += 16, back to LOOP while R9 tokens are left. D and S scratch XMMs.
#define ROWS4_MATF(D, S, LOOP) \
	REDUCE4R(Y5, Y6, Y7, Y8, X5, X7) \
	VCVTDQ2PS    X5, X5          \
	VCVTPH2PS    (R10), D        \
	VBROADCASTSS D, D            \
	VMULPS       D, X9, D        \
	VMULPS       D, X5, X5       \
	VMOVUPS      (DX), S         \
	VADDPS       X5, S, S        \
	VMOVUPS      S, (DX)         \
	ADDQ         R12, R10        \
	ADDQ         $16, DX         \
	DECQ         R9              \
	JNZ          LOOP

// Q8_0_ROWTOK leaves in Y the eight int32 partial sums of row r's block
// (its quants at OFF(R), made unsigned in W) times the token's block
// quants in Y4 (ggml's sign trick, as Q8_0_FAST; the caller has made sure
// no activation byte is -128). Y15 holds int16 ones.
#define Q8_0_ROWTOK(OFF, W, Y) \
	VPSIGNB    OFF, Y4, Y  \
	VPMADDUBSW Y, W, Y     \
	VPMADDWD   Y15, Y, Y

// func dotQ8_0MatAsm(w *byte, stride int, x *byte, xstride int, nt int, nb int, acc *float32)
// Four weight rows (w + r*stride, r < 4) against nt >= 1 activation rows
// (x + t*xstride): acc[4*t + r] += the dot product of nb >= 1 blocks, acc
// zeroed by the caller. Blocks outer, tokens inner: each weight block is
// loaded, made unsigned and its scales converted once for all nt tokens.
// For each (row, token) the float operations are those of dotQ8_0Asm:
// per block, s*(dw*dx) added to that pair's sum (acc[4*t + r], kept in
// memory between blocks), block after block. The activations must hold
// no -128 (the sign trick is not exact there); the caller checks.
// Registers: Y0-Y3 the rows' |quants|, Y4 the token's quants, Y5-Y8 the
// four products, X9 the rows' d, X10-X11 scratch, Y15 int16 ones.
TEXT ·dotQ8_0MatAsm(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), SI
	MOVQ    stride+8(FP), R11
	MOVQ    x+16(FP), DI
	MOVQ    xstride+24(FP), R12
	MOVQ    nb+40(FP), CX
	LEAQ    (SI)(R11*1), R13   // row 1; rows 2 and 3 are SI, R13 + 2*stride
	LEAQ    (SI)(R11*4), R14   // the next four rows, prefetched as we go
	VMOVDQU words01<>(SB), Y15

q8_0matblock:
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	PREFETCHT0 128(R14)
	ADDQ       $136, R14
	VMOVDQU    2(SI), Y0
	VMOVDQU    2(R13), Y1
	VMOVDQU    2(SI)(R11*2), Y2
	VMOVDQU    2(R13)(R11*2), Y3
	VPABSB     Y0, Y0
	VPABSB     Y1, Y1
	VPABSB     Y2, Y2
	VPABSB     Y3, Y3
	ROWS4_HALVES(X9)                // the rows' d
	MOVQ       DI, R10             // this block of token 0
	MOVQ       nt+32(FP), R9
	MOVQ       acc+48(FP), DX

q8_0mattok:
	VMOVDQU    2(R10), Y4
	Q8_0_ROWTOK(2(SI), Y0, Y5)
	Q8_0_ROWTOK(2(R13), Y1, Y6)
	Q8_0_ROWTOK(2(SI)(R11*2), Y2, Y7)
	Q8_0_ROWTOK(2(R13)(R11*2), Y3, Y8)
	ROWS4_MATF(X10, X11, q8_0mattok)
	ROWS4_NEXT(34, q8_0matblock)

	VZEROUPPER
	RET

// The K-quant matrix kernels (Q4_K, Q6_K against Q8_K activations) take
// one weight row at a time against a chunk of tokens whose activations
// prepQ8KMatAsm has laid out for them, block-major: prepared block
// (b*nt + t)*320 holds token t's block b as
//
//	0..255  the 256 quants, permuted (below) and offset by +128 (unsigned)
//	256..287 the sixteen bsums, int16, as in Q8_K
//	288..291 d, float32
//
// The permutation, per 64 elements e = 64j + i of a block: with E the
// first 32 and E' the last 32, bytes 64j..64j+31 hold, for d = 0..7, the
// dword (E[d], E[d+8], E'[d], E'[d+8]) and bytes 64j+32..64j+63 the dword
// (E[16+d], E[24+d], E'[16+d], E'[24+d]). Every element of dword d is
// element d mod 8, so lane d of ggml's eight int32 lanes; each of its two
// words holds two elements under one scale (E[0..15] and E[16..31] are
// one 16-element scale group each, as are those of E'). The weight block
// is decoded once per row and block into the same order (signed quants,
// eight registers W0..W7, W_k for bytes 32k..32k+31), so per token and
// block the integer part is, for k = 0..7, VPMADDUBSW of the prepared
// (unsigned) activations and W_k, then VPMADDWD with the word pair of
// scales of W_k (S_k), summed: the eight lanes of
// sum_e scale(e) * w(e) * (y(e) + 128), from which the weight-only
// correction C = 128 * sum_e scale(e) * w(e) (per lane, once per row and
// block) is subtracted. Integer sums are exact in any order: a VPMADDUBSW
// pair is at most 2*255*32 = 16320 in magnitude (Q6_K w in -32..31; Q4_K
// 2*255*15), a lane at most 32*128*32*255 < 2^25, so the result is the
// scalar kernel's aux[l]. The float steps per (row, token) are the
// one-row kernels': sums[l] += (d*yd)*float(aux[l]) lane-wise (and Q4_K's
// sumf -= (dmin*yd)*float(mins term)), block after block, then
// sumf + sums[0] + ... + sums[7]. The per-token sums live in the work area
// between blocks:
//
//	work+0..255    S_0..S_7, the scale words of W_k in every dword
//	work+256..767  sums[8] float32 per token (32 bytes each, nt <= 16)
//	work+768..831  sumf float32 per token

// KPREP_CHUNK permutes the 64 activation quants of chunk J of the Q8_K
// block at AX into the prepared block at BX (see above), +128 on the way.
// Y15 holds lanePerm, Y14 0x80 bytes; Y0-Y4 scratch.
#define KPREP_CHUNK(J) \
	VMOVDQU    4+64*J(AX), Y0   \
	VMOVDQU    36+64*J(AX), Y1  \
	VPSHUFB    Y15, Y0, Y0      \
	VPSHUFB    Y15, Y1, Y1      \
	VPUNPCKLWD Y1, Y0, Y2       \
	VPUNPCKHWD Y1, Y0, Y0       \
	VPERM2I128 $0x20, Y0, Y2, Y3 \
	VPERM2I128 $0x31, Y0, Y2, Y4 \
	VPXOR      Y14, Y3, Y3      \
	VPXOR      Y14, Y4, Y4      \
	VMOVDQU    Y3, 64*J(BX)     \
	VMOVDQU    Y4, 32+64*J(BX)

// KMAT_ZERO clears the per-token sums and sumf in the work area (R11) of
// the R9 tokens. Clobbers R8, R9, R10, Y10.
#define KMAT_ZERO(LABEL) \
	LEAQ   256(R11), R8    \
	LEAQ   768(R11), R10   \
	VXORPS Y10, Y10, Y10   \
LABEL:                     \
	VMOVUPS Y10, (R8)      \
	VMOVSS  X10, (R10)     \
	ADDQ    $32, R8        \
	ADDQ    $4, R10        \
	DECQ    R9             \
	JNZ     LABEL

// KMAT_SCALE stores in S_K and S_K2 (work area) dword IMM of each half of
// Y (already one half repeated), broadcast. Y12 scratch.
#define KMAT_SCALE(Y, IMM, K) \
	VPSHUFD $IMM, Y, Y12 \
	VMOVDQU Y12, 32*K(R11)

// KMAT_CORR_TERM adds to Y9 VPMADDUBSW(128, W) times S_k, the scale
// words at OFF(R11). Y15 holds 0x80 bytes; Y10 scratch.
#define KMAT_CORR_TERM(W, OFF) \
	VPMADDUBSW W, Y15, Y10       \
	VPMADDWD   OFF(R11), Y10, Y10 \
	VPADDD     Y10, Y9, Y9

// KMAT_CORR sets Y9 = C, the correction for the +128 of the prepared
// activations: sum over k of VPMADDUBSW(128, W_k) times S_k. Y15 gets 0x80
// bytes; Y10 scratch.
#define KMAT_CORR \
	VMOVDQU    bytes80<>(SB), Y15 \
	VPMADDUBSW Y0, Y15, Y9        \
	VPMADDWD   0(R11), Y9, Y9     \
	KMAT_CORR_TERM(Y1, 32)        \
	KMAT_CORR_TERM(Y2, 64)        \
	KMAT_CORR_TERM(Y3, 96)        \
	KMAT_CORR_TERM(Y4, 128)       \
	KMAT_CORR_TERM(Y5, 160)       \
	KMAT_CORR_TERM(Y6, 192)       \
	KMAT_CORR_TERM(Y7, 224)

// KMAT_TERM adds to Y12 the lanes of W_k (WREG) times the prepared
// activations at 32*K(DI), scaled by S_k. T scratch.
#define KMAT_TERM(K, WREG, T) \
	VMOVDQU    32*K(DI), T      \
	VPMADDUBSW WREG, T, T       \
	VPMADDWD   32*K(R11), T, T  \
	VPADDD     T, Y12, Y12

// KMAT_DOT leaves in Y12 the eight int32 lanes aux[0..7] of the weight
// block (W0..W7 in Y0..Y7, C in Y9) times the token's prepared block at DI.
#define KMAT_DOT \
	VMOVDQU    0(DI), Y10        \
	VPMADDUBSW Y0, Y10, Y10      \
	VPMADDWD   0(R11), Y10, Y10  \
	VPSUBD     Y9, Y10, Y12      \
	KMAT_TERM(1, Y1, Y11)        \
	KMAT_TERM(2, Y2, Y10)        \
	KMAT_TERM(3, Y3, Y11)        \
	KMAT_TERM(4, Y4, Y10)        \
	KMAT_TERM(5, Y5, Y11)        \
	KMAT_TERM(6, Y6, Y10)        \
	KMAT_TERM(7, Y7, Y11)

// KMAT_LANES is sums[l] += (d*yd) * float32(aux[l]) for the token's sums
// at R8: aux in Y12, d in lane 0 of X15, yd in lane 0 of X11.
#define KMAT_LANES \
	VCVTDQ2PS    Y12, Y12      \
	VMULSS       X11, X15, X13 \
	VBROADCASTSS X13, Y13      \
	VMULPS       Y13, Y12, Y12 \
	VADDPS       (R8), Y12, Y12 \
	VMOVUPS      Y12, (R8)

// KMAT_FIN_HEAD and KMAT_FIN_TAIL write each token's sumf + sums[0] +
// ... + sums[7] to out (R14, then ostride bytes per token); between them
// the caller sets lane 0 of X11 to the token's starting sumf (its sumf
// at (R10) for Q4_K, zero for Q6_K), the sums being in Y10. R9 holds the
// token count, AX the out stride in bytes.
#define KMAT_FIN_HEAD(LABEL) \
	LEAQ 256(R11), R8       \
	LEAQ 768(R11), R10      \
	MOVQ R14, DX            \
LABEL:                      \
	VMOVUPS (R8), Y10

#define KMAT_FIN_TAIL(LABEL) \
	FINISH_LANES(Y10, X10, X11, X12) \
	VMOVSS  X11, (DX)                \
	ADDQ    AX, DX                   \
	ADDQ    $32, R8                  \
	ADDQ    $4, R10                  \
	DECQ    R9                       \
	JNZ     LABEL

// Q4KM_W decodes quant bytes OFF..OFF+31 of the Q4_K block at SI (low
// nibbles E, high nibbles E' of one 64-element chunk) into A and B in the
// prepared order. Y15 holds lanePerm, Y14 0x0f bytes; Y10-Y12 scratch.
#define Q4KM_W(OFF, A, B) \
	VMOVDQU    OFF(SI), Y10  \
	VPSHUFB    Y15, Y10, Y10 \
	VPSRLW     $4, Y10, Y11  \
	VPAND      Y14, Y10, Y10 \
	VPAND      Y14, Y11, Y11 \
	VPUNPCKLWD Y11, Y10, Y12 \
	VPUNPCKHWD Y11, Y10, Y10 \
	VPERM2I128 $0x20, Y10, Y12, A \
	VPERM2I128 $0x31, Y10, Y12, B

// func prepQ8KMatAsm(x *byte, xstride, nt, nb int, dst *byte)
// Lays out nb Q8_K blocks of nt >= 1 activation rows (x + t*xstride) for
// the K-quant matrix kernels, block-major (see above).
TEXT ·prepQ8KMatAsm(SB), NOSPLIT, $0-40
	MOVQ    x+0(FP), SI
	MOVQ    nt+16(FP), R9
	MOVQ    nb+24(FP), R10
	MOVQ    dst+32(FP), DI
	IMUL3Q  $320, R9, R11        // from one block of a token to the next
	VMOVDQU lanePerm<>(SB), Y15
	VMOVDQU bytes80<>(SB), Y14

kprepTok:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R10, CX

kprepBlock:
	KPREP_CHUNK(0)
	KPREP_CHUNK(1)
	KPREP_CHUNK(2)
	KPREP_CHUNK(3)
	VMOVDQU 260(AX), Y0          // bsums
	VMOVDQU Y0, 256(BX)
	MOVL    (AX), DX             // d
	MOVL    DX, 288(BX)
	ADDQ    $292, AX
	ADDQ    R11, BX
	DECQ    CX
	JNZ     kprepBlock

	ADDQ xstride+8(FP), SI
	ADDQ $320, DI
	DECQ R9
	JNZ  kprepTok
	VZEROUPPER
	RET

// func dotQ4_KMatAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
// nrows >= 1 Q4_K rows (w + r*stride) of nb >= 1 blocks against nt in
// 1..16 tokens prepared by prepQ8KMatAsm at x: out + r*4 + t*ostride
// (bytes) = the row's dot product with token t, dotQ4_K's bits.
TEXT ·dotQ4_KMatAsm(SB), NOSPLIT, $0-72
	MOVQ w+0(FP), R12
	MOVQ nrows+16(FP), R13
	MOVQ out+48(FP), R14
	MOVQ work+64(FP), R11

q4kmrow:
	MOVQ nt+32(FP), R9
	KMAT_ZERO(q4kmzero)
	MOVQ R12, SI
	MOVQ x+24(FP), DI
	MOVQ nb+40(FP), CX

q4kmblock:
	K4_SCALES                   // scales in R8, mins in R10
	VMOVQ      R8, X10
	VPMOVZXBW  X10, Y10         // dword j: scales 2j, 2j+1
	VPERMQ     $0x44, Y10, Y10
	KMAT_SCALE(Y10, 0x00, 0)
	KMAT_SCALE(Y10, 0x00, 1)
	KMAT_SCALE(Y10, 0x55, 2)
	KMAT_SCALE(Y10, 0x55, 3)
	KMAT_SCALE(Y10, 0xaa, 4)
	KMAT_SCALE(Y10, 0xaa, 5)
	KMAT_SCALE(Y10, 0xff, 6)
	KMAT_SCALE(Y10, 0xff, 7)
	VMOVQ      R10, X8
	VPUNPCKLBW X8, X8, X8
	VPMOVZXBW  X8, Y8           // the mins, each for two bsums
	VMOVDQU    bytes0F<>(SB), Y14
	VMOVDQU    lanePerm<>(SB), Y15
	Q4KM_W(16, Y0, Y1)
	Q4KM_W(48, Y2, Y3)
	Q4KM_W(80, Y4, Y5)
	Q4KM_W(112, Y6, Y7)
	KMAT_CORR
	VCVTPH2PS  (SI), X15        // d, dmin
	MOVQ       nt+32(FP), R9
	LEAQ       256(R11), R8
	LEAQ       768(R11), R10

q4kmtok:
	KMAT_DOT
	VPMADDWD     256(DI), Y8, Y10 // bsums times mins
	HSUMD(Y10, X10, X11)
	VCVTDQ2PS    X10, X10
	VMOVSS       288(DI), X11     // yd
	KMAT_LANES
	VMOVSHDUP    X15, X13
	VMULSS       X11, X13, X13    // dmin*yd
	VMULSS       X10, X13, X13
	VMOVSS       (R10), X14
	VSUBSS       X13, X14, X14    // sumf -= (dmin*yd)*mins term
	VMOVSS       X14, (R10)
	ADDQ         $320, DI
	ADDQ         $32, R8
	ADDQ         $4, R10
	DECQ         R9
	JNZ          q4kmtok

	ADDQ $144, SI
	DECQ CX
	JNZ  q4kmblock

	MOVQ nt+32(FP), R9
	MOVQ ostride+56(FP), AX
	KMAT_FIN_HEAD(q4kmfin)
	VMOVSS (R10), X11
	KMAT_FIN_TAIL(q4kmfin)
	ADDQ stride+8(FP), R12
	ADDQ $4, R14
	DECQ R13
	JNZ  q4kmrow
	VZEROUPPER
	RET

// Q6KM_HALF decodes elements 128h..128h+127 of the Q6_K block at SI (ql
// bytes at QL and QL+32, qh at QH) into A, B (chunk 2h) and C, D (chunk
// 2h+1) in the prepared order, minus 32 (signed). Y13 holds 0x30 bytes,
// Y14 0x0f, Y15 0x20; Y8-Y12 scratch.
#define Q6KM_HALF(QL, QH, A, B, C, D) \
	VMOVDQU    QL(SI), Y10                  \
	VPSHUFB    lanePerm<>(SB), Y10, Y10     \
	VMOVDQU    QL+32(SI), Y11               \
	VPSHUFB    lanePerm<>(SB), Y11, Y11     \
	VMOVDQU    QH(SI), Y12                  \
	VPSHUFB    lanePerm<>(SB), Y12, Y12     \
	VPSLLW     $4, Y12, A                   \
	VPAND      Y13, A, A                    \
	VPAND      Y14, Y10, Y8                 \
	VPOR       Y8, A, A                     \
	VPSUBB     Y15, A, A                    \
	VPSLLW     $2, Y12, B                   \
	VPAND      Y13, B, B                    \
	VPAND      Y14, Y11, Y8                 \
	VPOR       Y8, B, B                     \
	VPSUBB     Y15, B, B                    \
	VPAND      Y13, Y12, C                  \
	VPSRLW     $4, Y10, Y8                  \
	VPAND      Y14, Y8, Y8                  \
	VPOR       Y8, C, C                     \
	VPSUBB     Y15, C, C                    \
	VPSRLW     $2, Y12, D                   \
	VPAND      Y13, D, D                    \
	VPSRLW     $4, Y11, Y8                  \
	VPAND      Y14, Y8, Y8                  \
	VPOR       Y8, D, D                     \
	VPSUBB     Y15, D, D                    \
	VPUNPCKLWD B, A, Y8                     \
	VPUNPCKHWD B, A, Y9                     \
	VPERM2I128 $0x20, Y9, Y8, A             \
	VPERM2I128 $0x31, Y9, Y8, B             \
	VPUNPCKLWD D, C, Y8                     \
	VPUNPCKHWD D, C, Y9                     \
	VPERM2I128 $0x20, Y9, Y8, C             \
	VPERM2I128 $0x31, Y9, Y8, D

// func dotQ6_KMatAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
// As dotQ4_KMatAsm for Q6_K rows: dotQ6_K's bits.
TEXT ·dotQ6_KMatAsm(SB), NOSPLIT, $0-72
	MOVQ w+0(FP), R12
	MOVQ nrows+16(FP), R13
	MOVQ out+48(FP), R14
	MOVQ work+64(FP), R11

q6kmrow:
	MOVQ nt+32(FP), R9
	KMAT_ZERO(q6kmzero)
	MOVQ R12, SI
	MOVQ x+24(FP), DI
	MOVQ nb+40(FP), CX

q6kmblock:
	// The sixteen int8 scales, even ones in the low half and odd ones in
	// the high half as int16: dword j of the low half is the scale pair
	// of W_2j (scales 4j, 4j+2), of the high half that of W_2j+1.
	VMOVDQU   192(SI), X8
	VPSHUFB   evenOdd<>(SB), X8, X8
	VPMOVSXBW X8, Y8
	VPERMQ    $0x44, Y8, Y10
	VPERMQ    $0xee, Y8, Y11
	KMAT_SCALE(Y10, 0x00, 0)
	KMAT_SCALE(Y11, 0x00, 1)
	KMAT_SCALE(Y10, 0x55, 2)
	KMAT_SCALE(Y11, 0x55, 3)
	KMAT_SCALE(Y10, 0xaa, 4)
	KMAT_SCALE(Y11, 0xaa, 5)
	KMAT_SCALE(Y10, 0xff, 6)
	KMAT_SCALE(Y11, 0xff, 7)
	VMOVDQU   bytes30<>(SB), Y13
	VMOVDQU   bytes0F<>(SB), Y14
	VMOVDQU   bytes20<>(SB), Y15
	Q6KM_HALF(0, 128, Y0, Y1, Y2, Y3)
	Q6KM_HALF(64, 160, Y4, Y5, Y6, Y7)
	KMAT_CORR
	MOVWLZX   208(SI), AX
	VMOVD     AX, X15
	VCVTPH2PS X15, X15          // d
	MOVQ      nt+32(FP), R9
	LEAQ      256(R11), R8

q6kmtok:
	KMAT_DOT
	VMOVSS 288(DI), X11         // yd
	KMAT_LANES
	ADDQ   $320, DI
	ADDQ   $32, R8
	DECQ   R9
	JNZ    q6kmtok

	ADDQ $210, SI
	DECQ CX
	JNZ  q6kmblock

	MOVQ nt+32(FP), R9
	MOVQ ostride+56(FP), AX
	KMAT_FIN_HEAD(q6kmfin)
	VXORPS X11, X11, X11
	KMAT_FIN_TAIL(q6kmfin)
	ADDQ stride+8(FP), R12
	ADDQ $4, R14
	DECQ R13
	JNZ  q6kmrow
	VZEROUPPER
	RET

// Q5M_DOT leaves in P the eight int32 partial sums of (q-16)*y for the
// row's quants Q and the token's quants in Y4: VPMADDUBSW of q and y,
// minus that of 16 and y (Y13), pairs summed by VPMADDWD with ones (Y15).
#define Q5M_DOT(Q, P) \
	VPMADDUBSW Y4, Q, P  \
	VPSUBW     Y13, P, P \
	VPMADDWD   Y15, P, P

// func dotQ5_0MatAsm(w *byte, stride int, x *byte, xstride int, nt int, nb int, acc *float32)
// As dotQ8_0MatAsm for Q5_0 weight rows: four rows against nt >= 1 tokens'
// Q8_0 blocks, acc[4*t + r] += the dot product, every (row, token) with
// dotQ5_0Asm's float steps (per block sum += s*(dw*dx)); each weight
// block is decoded once for all nt tokens. The quants are unsigned and
// the activations the signed operand of VPMADDUBSW, so -128 activations
// are exact (no sign trick, no fallback).
TEXT ·dotQ5_0MatAsm(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), SI
	MOVQ    stride+8(FP), R11
	MOVQ    x+16(FP), DI
	MOVQ    xstride+24(FP), R12
	MOVQ    nb+40(FP), CX
	LEAQ    (SI)(R11*1), R13   // row 1; rows 2 and 3 are SI, R13 + 2*stride
	LEAQ    (SI)(R11*4), R14   // the next four rows, prefetched as we go
	VMOVDQU bytes10<>(SB), Y10
	VMOVDQU bytes0F<>(SB), Y14
	VMOVDQU words01<>(SB), Y15

q5_0matblock:
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	ADDQ       $88, R14
	VMOVDQU    bitByte<>(SB), Y11
	VMOVDQU    bitMask<>(SB), Y12
	Q5_QUANTS(6(SI), 2(SI), Y0, X0, Y5, Y5, X5)               // the rows' quants 0..31
	Q5_QUANTS(6(R13), 2(R13), Y1, X1, Y6, Y6, X6)
	Q5_QUANTS(6(SI)(R11*2), 2(SI)(R11*2), Y2, X2, Y7, Y7, X7)
	Q5_QUANTS(6(R13)(R11*2), 2(R13)(R11*2), Y3, X3, Y8, Y8, X8)
	ROWS4_HALVES(X9)                // the rows' d
	MOVQ       DI, R10             // this block of token 0
	MOVQ       nt+32(FP), R9
	MOVQ       acc+48(FP), DX

q5_0mattok:
	VMOVDQU      2(R10), Y4
	VPMADDUBSW   Y4, Y10, Y13      // 16*y, pairs
	Q5M_DOT(Y0, Y5)
	Q5M_DOT(Y1, Y6)
	Q5M_DOT(Y2, Y7)
	Q5M_DOT(Y3, Y8)
	ROWS4_MATF(X11, X12, q5_0mattok)
	ROWS4_NEXT(22, q5_0matblock)

	VZEROUPPER
	RET

// Q5_0_ROW leaves in Y the eight int32 partial sums of (q-16)*x for the
// Q5_0 block whose qh is at QH and nibbles at QS, against the activation
// quants in Y5, with Y6 = VPMADDUBSW(16, x) computed once for all rows
// (pairs at most 2*31*128 before the subtraction: no saturation). T, U
// scratch YMMs, XY, XU the XMM halves of Y, U.
#define Q5_0_ROW(QH, QS, Y, T, U, XY, XU) \
	Q5_QUANTS(QS, QH, Y, XY, T, U, XU) \
	VPMADDUBSW Y5, Y, Y           \
	VPSUBW     Y6, Y, Y           \
	VPMADDWD   Y15, Y, Y

// func dotQ5_0x4Asm(w *byte, stride int, x *byte, nb int, out *[4]float32)
// Four Q5_0 rows (at w, w+stride, w+2*stride, w+3*stride) against one
// Q8_0 activation row: out[r] = dotQ5_0 of row r, bit for bit. Per block
// the activation quants are loaded and their 16*x pair sums formed once
// for the four rows; the four block sums are reduced together, and the
// float steps (d = dw*dx, s*d, sumf += s*d) run lane-wise, one lane per
// row, block after block as the scalar kernel.
TEXT ·dotQ5_0x4Asm(SB), NOSPLIT, $0-40
	MOVQ    w+0(FP), SI
	MOVQ    stride+8(FP), R11
	MOVQ    x+16(FP), DI
	MOVQ    nb+24(FP), CX
	LEAQ    (SI)(R11*1), R13   // row 1; rows 2 and 3 are SI, R13 + 2*stride
	LEAQ    (SI)(R11*4), R14   // the next four rows, prefetched as we go
	VXORPS  X0, X0, X0
	Q5_CONSTS

q5_0x4loop:
	// As dotQ8_0x4Asm: the next four rows' bytes, one group ahead.
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	ADDQ       $88, R14
	VMOVDQU    2(DI), Y5
	VPMADDUBSW Y5, Y10, Y6
	Q5_0_ROW(2(SI), 6(SI), Y1, Y7, Y8, X1, X8)
	Q5_0_ROW(2(R13), 6(R13), Y2, Y7, Y8, X2, X8)
	Q5_0_ROW(2(SI)(R11*2), 6(SI)(R11*2), Y3, Y7, Y8, X3, X8)
	Q5_0_ROW(2(R13)(R11*2), 6(R13)(R11*2), Y4, Y7, Y8, X4, X8)
	REDUCE4                        // X1: the four rows' block sums
	ROWS4_SUMF
	ROWS4_NEXT(22, q5_0x4loop)

	MOVQ    out+32(FP), R8
	VMOVUPS X0, (R8)
	VZEROUPPER
	RET
