//go:build amd64 && !purego

#include "textflag.h"

// AVX2 dequantization kernels; dequant_amd64.go says what they must equal.
// Each element takes the scalar kernel's float operations, lane-wise:
// VCVTDQ2PS of the integer quant (exact), VMULPS by the block's or
// sub-block's scale (itself one VMULPS of d by the converted integer
// scale, as the scalar code computes it once), and VSUBPS of the min where
// the format has one, with the operands in the scalar code's order. Plan 9
// operand order: sources first, destination last.
//
// Each block first prefetches the bytes 1 KiB ahead (as many cache lines
// as a block spans): a row streams from memory once, and without the
// prefetch the f32 matmul spent a third more time waiting for it than with.

// DWORDS broadcasts the 32-bit constant C into the eight lanes of Y (AX
// clobbered).
#define DWORDS(C, Y, X) \
	MOVL         C, AX \
	VMOVD        AX, X \
	VPBROADCASTD X, Y

// D_BCAST broadcasts the block's fp16 d at OFF(SI), as float32, into the
// eight lanes of Y0 (AX, X0 clobbered).
#define D_BCAST(OFF) \
	MOVWLZX      OFF(SI), AX \
	VMOVD        AX, X0      \
	VCVTPH2PS    X0, X0      \
	VBROADCASTSS X0, Y0

// DQ_NEXT moves to the next block (WS bytes of quants, OUT bytes of
// floats) and loops back to LOOP while CX blocks are left.
#define DQ_NEXT(WS, OUT, LOOP) \
	ADDQ $WS, SI   \
	ADDQ $OUT, DI  \
	DECQ CX        \
	JNZ  LOOP

// Q8_0_CHUNK writes the eight floats q*d of quants OFF..OFF+7 of the
// block at SI, Y0 holding d.
#define Q8_0_CHUNK(OFF, Y) \
	VPMOVSXBD 2+OFF(SI), Y   \
	VCVTDQ2PS Y, Y           \
	VMULPS    Y0, Y, Y       \
	VMOVUPS   Y, 4*OFF(DI)

// func dequantQ8_0Asm(dst *float32, src *byte, nb int)
TEXT ·dequantQ8_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX

q8_0loop:
	PREFETCHT0   1024(SI)
	D_BCAST(0)
	Q8_0_CHUNK(0, Y1)
	Q8_0_CHUNK(8, Y2)
	Q8_0_CHUNK(16, Y3)
	Q8_0_CHUNK(24, Y4)
	DQ_NEXT(34, 128, q8_0loop)
	VZEROUPPER
	RET

// K4_FRAME starts a Q4_K/Q5_K block (prefetch included): d and dmin
// (lanes 0, 1 of the converted first two halves) broadcast into Y1 and
// Y2, the eight 6-bit scales sc[0..3] = w0 & 0x3f, sc[4..7] = w2 & 0x0f |
// (w0 >> 2) & 0x30 and mins m[0..3] = w1 & 0x3f, m[4..7] = w2 >> 4 & 0x0f |
// (w1 >> 2) & 0x30 unpacked from the scale words w0, w1, w2 at 4(SI), and
// d*sc[j] stored at 0(SP) as float32, dmin*m[j] left in Y4 for the
// caller to store at 32(SP) (vet checks a macro's SP offsets against the
// frame of the function above it, here one without a frame). AX, BX, DX,
// R8-R11, Y0-Y3 clobbered.
#define K4_FRAME \
	PREFETCHT0   1024(SI)         \
	PREFETCHT0   1088(SI)         \
	PREFETCHT0   1152(SI)         \
	VCVTPH2PS    (SI), X0         \
	VBROADCASTSS X0, Y1           \
	VMOVSHDUP    X0, X2           \
	VBROADCASTSS X2, Y2           \
	MOVL         4(SI), AX        \
	MOVL         8(SI), BX        \
	MOVL         12(SI), DX       \
	MOVL         AX, R8           \
	ANDL         $0x3f3f3f3f, R8  \
	MOVL         DX, R9           \
	ANDL         $0x0f0f0f0f, R9  \
	MOVL         AX, R10          \
	SHRL         $2, R10          \
	ANDL         $0x30303030, R10 \
	ORL          R10, R9          \
	MOVL         BX, R10          \
	ANDL         $0x3f3f3f3f, R10 \
	MOVL         DX, R11          \
	SHRL         $4, R11          \
	ANDL         $0x0f0f0f0f, R11 \
	SHRL         $2, BX           \
	ANDL         $0x30303030, BX  \
	ORL          BX, R11          \
	SHLQ         $32, R9          \
	ORQ          R9, R8           \
	SHLQ         $32, R11         \
	ORQ          R11, R10         \
	VMOVQ        R8, X3           \
	VPMOVZXBD    X3, Y3           \
	VCVTDQ2PS    Y3, Y3           \
	VMULPS       Y3, Y1, Y3       \
	VMOVUPS      Y3, 0(SP)        \
	VMOVQ        R10, X4          \
	VPMOVZXBD    X4, Y4           \
	VCVTDQ2PS    Y4, Y4           \
	VMULPS       Y4, Y2, Y4

// K_PAIR_SCALES broadcasts, for sub-blocks 2J and 2J+1 of a Q4_K/Q5_K
// block, d*sc into Y5 and Y6 and dmin*m into Y7 and Y8 (from the frame,
// see K4_FRAME).
#define K_PAIR_SCALES(J) \
	VBROADCASTSS 8*J(SP), Y5    \
	VBROADCASTSS 8*J+4(SP), Y6  \
	VBROADCASTSS 32+8*J(SP), Y7 \
	VBROADCASTSS 36+8*J(SP), Y8

// K_MINS_OUT converts the quants of the sub-block pair J, chunk C (low
// sub-block in Y9, high in Y10) and writes d1*q - m1 (Y5, Y7) and
// d2*q - m2 (Y6, Y8) at their places in the 256 floats.
#define K_MINS_OUT(J, C) \
	VCVTDQ2PS Y9, Y9               \
	VCVTDQ2PS Y10, Y10             \
	VMULPS    Y9, Y5, Y9           \
	VSUBPS    Y7, Y9, Y9           \
	VMOVUPS   Y9, 256*J+32*C(DI)   \
	VMULPS    Y10, Y6, Y10         \
	VSUBPS    Y8, Y10, Y10         \
	VMOVUPS   Y10, 256*J+128+32*C(DI)

// FIFTH_BIT ORs into D, at bit 4, bit 0 of each lane of SRC shifted right
// by SHIFT AMT (VPSRLD $n, or VPSRLVD by the lanes of a register); ONE
// holds 1 in every lane, T is scratch.
#define FIFTH_BIT(SHIFT, AMT, SRC, ONE, T, D) \
	SHIFT  AMT, SRC, T \
	VPAND  ONE, T, T   \
	VPSLLD $4, T, T    \
	VPOR   T, D, D

// Q4_K_CHUNK writes elements 8C..8C+7 of sub-block pair J (low nibbles of
// quant bytes 32J+8C.., scale Y5, min Y7) and the same positions of the
// next sub-block (high nibbles, scale Y6, min Y8): d1*q - m1. Y15 holds
// 0x0f in every lane.
#define Q4_K_CHUNK(J, C) \
	VPMOVZXBD 16+32*J+8*C(SI), Y9  \
	VPSRLD    $4, Y9, Y10          \
	VPAND     Y15, Y9, Y9          \
	K_MINS_OUT(J, C)

// Q4_K_PAIR writes sub-blocks 2J and 2J+1 (64 elements), their d*sc at
// 8J(SP) and 8J+4(SP), their dmin*m at 32+8J(SP) and 36+8J(SP).
#define Q4_K_PAIR(J) \
	K_PAIR_SCALES(J)            \
	Q4_K_CHUNK(J, 0)            \
	Q4_K_CHUNK(J, 1)            \
	Q4_K_CHUNK(J, 2)            \
	Q4_K_CHUNK(J, 3)

// func dequantQ4_KAsm(dst *float32, src *byte, nb int)
//
// The eight 6-bit scales and mins (ggml's get_scale_min_k4) unpack in
// general registers from the three little-endian words w0, w1, w2 of the
// 12 scale bytes, four bytes at a time:
//
//	sc[0..3] = w0 & 0x3f            m[0..3] = w1 & 0x3f
//	sc[4..7] = w2 & 0x0f | (w0 >> 6) << 4
//	m[4..7]  = w2 >> 4   | (w1 >> 6) << 4
//
// ((b >> 6) << 4 of each byte is (w >> 2) & 0x30 of its word.) They are
// widened, converted and multiplied by d and dmin in one VMULPS each, and
// kept in the frame for broadcasting.
TEXT ·dequantQ4_KAsm(SB), NOSPLIT, $64-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	DWORDS($0x0f, Y15, X15)

q4_kloop:
	K4_FRAME
	VMOVUPS      Y4, 32(SP)      // dmin*m[j]
	Q4_K_PAIR(0)
	Q4_K_PAIR(1)
	Q4_K_PAIR(2)
	Q4_K_PAIR(3)
	DQ_NEXT(144, 1024, q4_kloop)
	VZEROUPPER
	RET

// Q6_K_CHUNK writes, for l = 8C..8C+7 of half N, the elements l, l+32,
// l+64 and l+96 of the half: (d*sc)*q with q the 6-bit quant minus 32,
// its low four bits from ql (low nibble of ql[l] / ql[l+32], high nibble
// of ql[l] / ql[l+32]) and its top two from bits 0-1, 2-3, 4-5, 6-7 of
// qh[l]. Y0..Y3 hold the four sub-blocks' d*sc; Y15 = 0x0f, Y14 = 0x30,
// Y13 = 32 in every lane.
#define Q6_K_CHUNK(N, C) \
	VPMOVZXBD 64*N+8*C(SI), Y4      \
	VPMOVZXBD 64*N+32+8*C(SI), Y5   \
	VPMOVZXBD 128+32*N+8*C(SI), Y6  \
	VPAND     Y15, Y4, Y7           \
	VPSLLD    $4, Y6, Y8            \
	VPAND     Y14, Y8, Y8           \
	VPOR      Y8, Y7, Y7            \
	VPSUBD    Y13, Y7, Y7           \
	VCVTDQ2PS Y7, Y7                \
	VMULPS    Y7, Y0, Y7            \
	VMOVUPS   Y7, 512*N+32*C(DI)    \
	VPAND     Y15, Y5, Y7           \
	VPSLLD    $2, Y6, Y8            \
	VPAND     Y14, Y8, Y8           \
	VPOR      Y8, Y7, Y7            \
	VPSUBD    Y13, Y7, Y7           \
	VCVTDQ2PS Y7, Y7                \
	VMULPS    Y7, Y1, Y7            \
	VMOVUPS   Y7, 512*N+128+32*C(DI) \
	VPSRLD    $4, Y4, Y7            \
	VPAND     Y14, Y6, Y8           \
	VPOR      Y8, Y7, Y7            \
	VPSUBD    Y13, Y7, Y7           \
	VCVTDQ2PS Y7, Y7                \
	VMULPS    Y7, Y2, Y7            \
	VMOVUPS   Y7, 512*N+256+32*C(DI) \
	VPSRLD    $4, Y5, Y7            \
	VPSRLD    $2, Y6, Y8            \
	VPAND     Y14, Y8, Y8           \
	VPOR      Y8, Y7, Y7            \
	VPSUBD    Y13, Y7, Y7           \
	VCVTDQ2PS Y7, Y7                \
	VMULPS    Y7, Y3, Y7            \
	VMOVUPS   Y7, 512*N+384+32*C(DI)

// Q6_K_QUARTER writes l = 16I..16I+15 of half N (chunks C0 = 2I and
// C1 = 2I+1, spelled out: macro arguments substitute as text), whose four
// sub-blocks have the scales 8N+I, +2, +4, +6 (their d*sc in the frame).
#define Q6_K_QUARTER(N, I, C0, C1) \
	VBROADCASTSS 32*N+4*I(SP), Y0    \
	VBROADCASTSS 32*N+4*I+8(SP), Y1  \
	VBROADCASTSS 32*N+4*I+16(SP), Y2 \
	VBROADCASTSS 32*N+4*I+24(SP), Y3 \
	Q6_K_CHUNK(N, C0)                \
	Q6_K_CHUNK(N, C1)

// func dequantQ6_KAsm(dst *float32, src *byte, nb int)
TEXT ·dequantQ6_KAsm(SB), NOSPLIT, $64-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	DWORDS($0x0f, Y15, X15)
	DWORDS($0x30, Y14, X14)
	DWORDS($32, Y13, X13)

q6_kloop:
	PREFETCHT0   1024(SI)
	PREFETCHT0   1088(SI)
	PREFETCHT0   1152(SI)
	PREFETCHT0   1216(SI)
	D_BCAST(208)                 // d
	VPMOVSXBD    192(SI), Y1
	VCVTDQ2PS    Y1, Y1
	VMULPS       Y1, Y0, Y1      // d*sc[0..7]
	VMOVUPS      Y1, 0(SP)
	VPMOVSXBD    200(SI), Y2
	VCVTDQ2PS    Y2, Y2
	VMULPS       Y2, Y0, Y2      // d*sc[8..15]
	VMOVUPS      Y2, 32(SP)
	Q6_K_QUARTER(0, 0, 0, 1)
	Q6_K_QUARTER(0, 1, 2, 3)
	Q6_K_QUARTER(1, 0, 0, 1)
	Q6_K_QUARTER(1, 1, 2, 3)
	DQ_NEXT(210, 1024, q6_kloop)
	VZEROUPPER
	RET

// Q4_0_CHUNK writes elements J..J+7 (low nibbles of quant bytes J..J+7)
// and J+16..J+23 (their high nibbles) of the block at SI: (q-8)*d, Y0
// holding d, Y15 = 0x0f, Y14 = 8 in every lane.
#define Q4_0_CHUNK(J) \
	VPMOVZXBD 2+J(SI), Y1  \
	VPSRLD    $4, Y1, Y2   \
	VPAND     Y15, Y1, Y1  \
	VPSUBD    Y14, Y1, Y1  \
	VPSUBD    Y14, Y2, Y2  \
	VCVTDQ2PS Y1, Y1       \
	VCVTDQ2PS Y2, Y2       \
	VMULPS    Y0, Y1, Y1   \
	VMULPS    Y0, Y2, Y2   \
	VMOVUPS   Y1, 4*J(DI)  \
	VMOVUPS   Y2, 64+4*J(DI)

// func dequantQ4_0Asm(dst *float32, src *byte, nb int)
TEXT ·dequantQ4_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	DWORDS($0x0f, Y15, X15)
	DWORDS($8, Y14, X14)

q4_0loop:
	PREFETCHT0   1024(SI)
	D_BCAST(0)
	Q4_0_CHUNK(0)
	Q4_0_CHUNK(8)
	DQ_NEXT(18, 128, q4_0loop)
	VZEROUPPER
	RET

// lanes07 holds 0, 1, ..., 7 as int32: per-lane shift counts.
DATA lanes07<>+0(SB)/8, $0x0000000100000000
DATA lanes07<>+8(SB)/8, $0x0000000300000002
DATA lanes07<>+16(SB)/8, $0x0000000500000004
DATA lanes07<>+24(SB)/8, $0x0000000700000006
GLOBL lanes07<>(SB), RODATA|NOPTR, $32

// Q5_0_OUT stores (Q | fifth bit - 16) * d at OFF(DI), the fifth bits
// being bits 0..7 of the lanes of Y1 (qh shifted so that lane l holds
// bit 8k+l at the bottom after VPSRLVD by l), moved to bit 4. Y0 = d,
// Y13 = lane indices, Y12 = 1, Y14 = 16; Y6 scratch.
#define Q5_0_OUT(Q, OFF) \
	FIFTH_BIT(VPSRLVD, Y13, Y1, Y12, Y6, Q) \
	VPSUBD    Y14, Q, Q   \
	VCVTDQ2PS Q, Q        \
	VMULPS    Y0, Q, Q    \
	VMOVUPS   Q, OFF(DI)

// func dequantQ5_0Asm(dst *float32, src *byte, nb int)
//
// Element j < 16 is the low nibble of qs[j] with bit j of qh as its fifth
// bit; element j+16 the high nibble with bit j+16. qh is broadcast and
// shifted right by 8 between groups of eight elements.
TEXT ·dequantQ5_0Asm(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    nb+16(FP), CX
	DWORDS($0x0f, Y15, X15)
	DWORDS($16, Y14, X14)
	DWORDS($1, Y12, X12)
	VMOVDQU lanes07<>(SB), Y13

q5_0loop:
	PREFETCHT0   1024(SI)
	D_BCAST(0)
	VPBROADCASTD 2(SI), Y1   // qh in every lane
	VPMOVZXBD    6(SI), Y2   // qs[0..7]
	VPMOVZXBD    14(SI), Y3  // qs[8..15]
	VPSRLD       $4, Y2, Y4  // elements 16..23
	VPAND        Y15, Y2, Y2 // elements 0..7
	VPSRLD       $4, Y3, Y5  // elements 24..31
	VPAND        Y15, Y3, Y3 // elements 8..15
	Q5_0_OUT(Y2, 0)
	VPSRLD       $8, Y1, Y1
	Q5_0_OUT(Y3, 32)
	VPSRLD       $8, Y1, Y1
	Q5_0_OUT(Y4, 64)
	VPSRLD       $8, Y1, Y1
	Q5_0_OUT(Y5, 96)
	DQ_NEXT(22, 128, q5_0loop)
	VZEROUPPER
	RET

// Q5_K_CHUNK is Q4_K_CHUNK with the fifth bits: bit 2J (low nibbles, +16)
// and bit 2J+1 (high nibbles) of qh[8C..8C+7], at shifts S1 = 2J and
// S2 = 2J+1 (spelled out: macro arguments substitute as text). Y14 = 1.
#define Q5_K_CHUNK(J, C, S1, S2) \
	VPMOVZXBD 48+32*J+8*C(SI), Y9  \
	VPMOVZXBD 16+8*C(SI), Y11      \
	VPSRLD    $4, Y9, Y10          \
	VPAND     Y15, Y9, Y9          \
	FIFTH_BIT(VPSRLD, $S1, Y11, Y14, Y12, Y9)  \
	FIFTH_BIT(VPSRLD, $S2, Y11, Y14, Y12, Y10) \
	K_MINS_OUT(J, C)

// Q5_K_PAIR is Q4_K_PAIR for Q5_K (fifth bits at shifts S1, S2).
#define Q5_K_PAIR(J, S1, S2) \
	K_PAIR_SCALES(J)            \
	Q5_K_CHUNK(J, 0, S1, S2)    \
	Q5_K_CHUNK(J, 1, S1, S2)    \
	Q5_K_CHUNK(J, 2, S1, S2)    \
	Q5_K_CHUNK(J, 3, S1, S2)

// func dequantQ5_KAsm(dst *float32, src *byte, nb int)
//
// The scales and mins unpack as in dequantQ4_KAsm (the same 12 bytes at
// the same offset).
TEXT ·dequantQ5_KAsm(SB), NOSPLIT, $64-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	DWORDS($0x0f, Y15, X15)
	DWORDS($1, Y14, X14)

q5_kloop:
	K4_FRAME
	VMOVUPS      Y4, 32(SP)      // dmin*m[j]
	Q5_K_PAIR(0, 0, 1)
	Q5_K_PAIR(1, 2, 3)
	Q5_K_PAIR(2, 4, 5)
	Q5_K_PAIR(3, 6, 7)
	DQ_NEXT(176, 1024, q5_kloop)
	VZEROUPPER
	RET

// func dequantF16Asm(dst *float32, src *byte, n8 int)
//
// n8 >= 1 groups of eight binary16 values, converted with VCVTPH2PS.
TEXT ·dequantF16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n8+16(FP), CX

f16loop:
	PREFETCHT0 1024(SI)
	VCVTPH2PS  (SI), Y0
	VMOVUPS    Y0, (DI)
	DQ_NEXT(16, 32, f16loop)
	VZEROUPPER
	RET

// func dequantBF16Asm(dst *float32, src *byte, n8 int)
//
// n8 >= 1 groups of eight bfloat16 values: each the top half of its
// float32.
TEXT ·dequantBF16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n8+16(FP), CX

bf16loop:
	PREFETCHT0 1024(SI)
	VPMOVZXWD  (SI), Y0
	VPSLLD     $16, Y0, Y0
	VMOVUPS    Y0, (DI)
	DQ_NEXT(16, 32, bf16loop)
	VZEROUPPER
	RET
