//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 VNNI matrix kernels for Q5_0 and Q8_0 weights against Q8_0
// activations; see dotvnni_q_amd64.go for the layouts and why they give
// the scalar kernels' bits. Plan 9 operand order: sources first,
// destination last; VPDPBUSD S, U, ACC is Intel's vpdpbusd acc, u, s
// (ACC += the sums of four products of the unsigned bytes of U and the
// signed bytes of S, per int32 lane).

// VQX_GATHER gathers dword G (quants 4G..4G+3) of the current block of
// the tile's tokens (SI + IDX[t]) into R, zero for the tokens masked off
// by K1, adds their byte sums to SUMS (ONES holds unsigned ones) and
// stores R at GB*G(DI) (GB: the tile's group bytes). R, IDX, ONES and
// SUMS are all ZMM (16-token tiles) or all YMM (8-token tiles).
#define VQX_GATHER(G, R, GB, IDX, ONES, SUMS) \
	KMOVW      K1, K2                    \
	VPXORD     R, R, R                   \
	VPGATHERDD 2+4*G(SI)(IDX*1), K2, R   \
	VPDPBUSD   R, ONES, SUMS             \
	VMOVDQU32  R, GB*G(DI)

// VQX_DSUM finishes a tile block: gathers the tokens' fp16 d (with the
// first two quants: the dword at (SI)(IDX*1)) into D (DH its half-width
// register), stores them as float32 at DOFF(DI) and the correction
// -(SUMS << X28) (ZERO holds zeros) at DOFF+GB(DI).
#define VQX_DSUM(D, DH, IDX, SUMS, ZERO, DOFF, GB) \
	KMOVW      K1, K2                          \
	VPXORD     D, D, D                         \
	VPGATHERDD (SI)(IDX*1), K2, D              \
	VPMOVDW    D, DH                           \
	VCVTPH2PS  DH, D                           \
	VMOVUPS    D, DOFF(DI)                     \
	VPSLLD     X28, SUMS, SUMS                 \
	VPSUBD     SUMS, ZERO, SUMS                \
	VMOVDQU32  SUMS, DOFF+GB(DI)

// VQX16_GATHER is VQX_GATHER for 16-token tiles (Z31 the tokens' offsets,
// Z30 ones, Z29 the byte sums).
#define VQX16_GATHER(G, Z) VQX_GATHER(G, Z, 64, Z31, Z30, Z29)

// func vnniPrepQ8_0X(x *byte, nt, nb, shift int, xidx *int32, dst *byte)
// Lays out nb Q8_0 blocks of nt (1..16) activation rows, token t at
// x + xidx[t], as a vnniTile per block at dst (vnniTileBytes apart):
// the quants token-interleaved four by four, the tokens' d as float32 and
// -(sum of the block's quants << shift). Tokens nt..15 are zero.
TEXT ·vnniPrepQ8_0X(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         nt+8(FP), CX
	MOVQ         nb+16(FP), R10
	MOVQ         shift+24(FP), AX
	VMOVQ        AX, X28
	MOVQ         xidx+32(FP), BX
	MOVQ         dst+40(FP), DI
	VMOVDQU32    (BX), Z31
	MOVL         $1, AX
	SHLL         CX, AX
	DECL         AX
	KMOVW        AX, K1
	MOVL         $0x01010101, AX
	VPBROADCASTD AX, Z30
	VPXORD       Z27, Z27, Z27

vqxblock:
	VPXORD     Z29, Z29, Z29
	VQX16_GATHER(0, Z0)
	VQX16_GATHER(1, Z1)
	VQX16_GATHER(2, Z2)
	VQX16_GATHER(3, Z3)
	VQX16_GATHER(4, Z4)
	VQX16_GATHER(5, Z5)
	VQX16_GATHER(6, Z6)
	VQX16_GATHER(7, Z7)
	VQX_DSUM(Z8, Y8, Z31, Z29, Z27, 512, 64)
	ADDQ       $34, SI
	ADDQ       $640, DI
	DECQ       R10
	JNZ        vqxblock

	VZEROUPPER
	RET

// VQW_LOOPS is the loop of vnniPrepQ5_0W and vnniPrepQ8_0W: for each of
// the R9 rows (SI, then R11 bytes on) and each of its R10 blocks (WS bytes
// each, at R8), DECODE(R8, Y0) leaves the block's 32 unsigned quants in Y0, stored
// at (DX), and the fp16 d goes as float32 to 32(DX) (converting the first
// four halves of the block, all within it; X1 scratch); DX moves one
// weight group (288 bytes) per block, DI 36 bytes per row. The row two
// groups on (R12 = 16*stride), same block, is prefetched. ROW and BLOCK
// are the labels it defines.
#define VQW_LOOPS(DECODE, WS, ROW, BLOCK) \
	MOVQ R11, R12                     \
	SHLQ $4, R12                      \
ROW:                                      \
	MOVQ SI, R8                       \
	MOVQ DI, DX                       \
	MOVQ R10, CX                      \
BLOCK:                                    \
	PREFETCHT0 (R8)(R12*1)            \
	DECODE(R8, Y0)                    \
	VMOVDQU   Y0, (DX)                \
	VCVTPH2PS (R8), X1                \
	VMOVSS    X1, 32(DX)              \
	ADDQ      $WS, R8                 \
	ADDQ      $288, DX                \
	DECQ      CX                      \
	JNZ       BLOCK                   \
	ADDQ      R11, SI                 \
	ADDQ      $36, DI                 \
	DECQ      R9                      \
	JNZ       ROW

// VQ_Q5_CONSTS loads VQ_Q5's masks: Y14 0x0f bytes, Y13 0x10 bytes
// (Y12, vnniQNibShift, is the caller's). AX clobbered.
#define VQ_Q5_CONSTS \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Y14         \
	MOVL         $0x10101010, AX \
	VPBROADCASTD AX, Y13

// VQ_Q5 decodes the Q5_0 block at P into Y as 32 unsigned quants 0..31:
// elements j (low nibble) and 16+j (high) from the nibbles broadcast to
// both halves and shifted (Y12, vnniQNibShift), masked (Y14 0x0f bytes),
// plus 0x10 (Y13) where bit e of qh is set (K1).
#define VQ_Q5(P, Y) \
	VBROADCASTI128 6(P), Y            \
	VPSRLVW        Y12, Y, Y          \
	VPAND          Y14, Y, Y          \
	KMOVD          2(P), K1           \
	VPADDB         Y13, Y, K1, Y

// VQ_Q8 loads the Q8_0 quants at P into Y plus 128 (Y14 0x80 bytes).
#define VQ_Q8(P, Y) \
	VMOVDQU 2(P), Y                   \
	VPXOR   Y14, Y, Y

// vnniQNibShift shifts the words of the upper 128 bits right by 4: the
// block's 16 nibble bytes, loaded into both halves, become the low
// nibbles (elements 0..15) and the high ones (16..31).
DATA vnniQNibShift<>+0x00(SB)/8, $0
DATA vnniQNibShift<>+0x08(SB)/8, $0
DATA vnniQNibShift<>+0x10(SB)/8, $0x0004000400040004
DATA vnniQNibShift<>+0x18(SB)/8, $0x0004000400040004
GLOBL vnniQNibShift<>(SB), RODATA|NOPTR, $32

// func vnniPrepQ5_0W(w *byte, stride, nr, nb int, dst *byte)
// Decodes nb Q5_0 blocks of nr (1..8) weight rows (w + r*stride) into
// the kernel's weight group at dst: per block (vnniWGroupBytes) and row r,
// at 36*r the 32 quants 0..31 (unsigned: the kernel subtracts 16 times
// the activations' sum) and at 36*r+32 d as float32.
TEXT ·vnniPrepQ5_0W(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         stride+8(FP), R11
	MOVQ         nr+16(FP), R9
	MOVQ         nb+24(FP), R10
	MOVQ         dst+32(FP), DI
	VQ_Q5_CONSTS
	VMOVDQU      vnniQNibShift<>(SB), Y12

	VQW_LOOPS(VQ_Q5, 22, vq5wrow, vq5wblock)
	VZEROUPPER
	RET

// func vnniPrepQ8_0W(w *byte, stride, nr, nb int, dst *byte)
// vnniPrepQ5_0W for Q8_0 weights: the quants plus 128 (unsigned; the
// kernel subtracts 128 times the activations' sum).
TEXT ·vnniPrepQ8_0W(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         stride+8(FP), R11
	MOVQ         nr+16(FP), R9
	MOVQ         nb+24(FP), R10
	MOVQ         dst+32(FP), DI
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Y14

	VQW_LOOPS(VQ_Q8, 34, vq8wrow, vq8wblock)
	VZEROUPPER
	RET

// VQ_ZERO8 clears R0..R7.
#define VQ_ZERO8(R0, R1, R2, R3, R4, R5, R6, R7) \
	VPXORD R0, R0, R0 \
	VPXORD R1, R1, R1 \
	VPXORD R2, R2, R2 \
	VPXORD R3, R3, R3 \
	VPXORD R4, R4, R4 \
	VPXORD R5, R5, R5 \
	VPXORD R6, R6, R6 \
	VPXORD R7, R7, R7

// VQ_LOAD8 loads the eight activation or weight groups at B, GB bytes
// apart, into R0..R7.
#define VQ_LOAD8(B, GB, R0, R1, R2, R3, R4, R5, R6, R7) \
	VMOVDQU32 0*GB(B), R0 \
	VMOVDQU32 1*GB(B), R1 \
	VMOVDQU32 2*GB(B), R2 \
	VMOVDQU32 3*GB(B), R3 \
	VMOVDQU32 4*GB(B), R4 \
	VMOVDQU32 5*GB(B), R5 \
	VMOVDQU32 6*GB(B), R6 \
	VMOVDQU32 7*GB(B), R7

// VQ_COPY8 copies C into R0..R7 (each row's block sum starts at the
// tile's correction).
#define VQ_COPY8(C, R0, R1, R2, R3, R4, R5, R6, R7) \
	VMOVDQA32 C, R0 \
	VMOVDQA32 C, R1 \
	VMOVDQA32 C, R2 \
	VMOVDQA32 C, R3 \
	VMOVDQA32 C, R4 \
	VMOVDQA32 C, R5 \
	VMOVDQA32 C, R6 \
	VMOVDQA32 C, R7

// VQ_GROUPR adds to the eight rows' block sums (C0..C7) the VPDPBUSD of
// activation group G (register A) and each row's quants 4G..4G+3,
// broadcast. The rows are interleaved so that eight independent
// dependency chains are in flight. T0-T3 scratch. All registers ZMM
// (16-token tiles) or all YMM (8-token tiles).
#define VQ_GROUPR(G, A, T0, T1, T2, T3, C0, C1, C2, C3, C4, C5, C6, C7) \
	VPBROADCASTD 4*G(SI), T0       \
	VPDPBUSD     A, T0, C0         \
	VPBROADCASTD 36+4*G(SI), T1    \
	VPDPBUSD     A, T1, C1         \
	VPBROADCASTD 72+4*G(SI), T2    \
	VPDPBUSD     A, T2, C2         \
	VPBROADCASTD 108+4*G(SI), T3   \
	VPDPBUSD     A, T3, C3         \
	VPBROADCASTD 144+4*G(SI), T0   \
	VPDPBUSD     A, T0, C4         \
	VPBROADCASTD 180+4*G(SI), T1   \
	VPDPBUSD     A, T1, C5         \
	VPBROADCASTD 216+4*G(SI), T2   \
	VPDPBUSD     A, T2, C6         \
	VPBROADCASTD 252+4*G(SI), T3   \
	VPDPBUSD     A, T3, C7

// VQ_GROUP is VQ_GROUPR for 16-token tiles: block sums Z24..Z31, Z10-Z13
// scratch.
#define VQ_GROUP(G, A) VQ_GROUPR(G, A, Z10, Z11, Z12, Z13, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31)

// VQ_ROWF adds to SUM (the tokens' running sums of weight row R) the
// block's term: SUM += float32(ACC) * (dx * dw), lane by lane (XD holds
// the tokens' dx; dw is broadcast from the weight group). T scratch.
#define VQ_ROWF(R, ACC, SUM, T, XD) \
	VCVTDQ2PS   ACC, ACC             \
	VMULPS.BCST 36*R+32(SI), XD, T   \
	VMULPS      T, ACC, ACC          \
	VADDPS      ACC, SUM, SUM

// VQ_STORE writes the sums of row R (SUM) to out + 4*R + 4*IDX[t] for
// the tokens set in AX.
#define VQ_STORE(R, SUM, IDX) \
	KMOVW       AX, K1 \
	VSCATTERDPS SUM, K1, 4*R(DX)(IDX*4)

// VQ_STORE_IF is VQ_STORE of row R, R >= 1, when the group has more than
// R rows (R9 of them); else on to DONE.
#define VQ_STORE_IF(R, SUM, IDX, DONE) \
	CMPQ        R9, $R+1 \
	JLT         DONE     \
	VQ_STORE(R, SUM, IDX)

// func vnniMatQ(wp, xp *byte, nb int, out *float32, oidx *int32, mask, nr int)
// One weight group (eight rows, prepared by vnniPrepQ5_0W or
// vnniPrepQ8_0W) against one tile of 16 tokens (vnniPrepQ8_0X), nb >= 1
// blocks: for rows r < nr and the tokens t set in mask, out[oidx[t] + r]
// = the dot product. Per (row, token) the float steps are the scalar
// kernels': sum = 0, then sum += float32(s) * (dw*dx) block after block.
// Registers: Z0-Z7 the block's activation groups, Z8 dx, Z9 the
// correction, Z16-Z23 the eight rows' sums, Z24-Z31 their block sums.
TEXT ·vnniMatQ(SB), NOSPLIT, $0-56
	MOVQ   wp+0(FP), SI
	MOVQ   xp+8(FP), DI
	MOVQ   nb+16(FP), CX
	VQ_ZERO8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

vqblock:
	VQ_LOAD8(DI, 64, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVUPS   512(DI), Z8
	VMOVDQU32 576(DI), Z9
	VQ_COPY8(Z9, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31)
	VQ_GROUP(0, Z0)
	VQ_GROUP(1, Z1)
	VQ_GROUP(2, Z2)
	VQ_GROUP(3, Z3)
	VQ_GROUP(4, Z4)
	VQ_GROUP(5, Z5)
	VQ_GROUP(6, Z6)
	VQ_GROUP(7, Z7)
	VQ_ROWF(0, Z24, Z16, Z10, Z8)
	VQ_ROWF(1, Z25, Z17, Z11, Z8)
	VQ_ROWF(2, Z26, Z18, Z12, Z8)
	VQ_ROWF(3, Z27, Z19, Z13, Z8)
	VQ_ROWF(4, Z28, Z20, Z14, Z8)
	VQ_ROWF(5, Z29, Z21, Z15, Z8)
	VQ_ROWF(6, Z30, Z22, Z10, Z8)
	VQ_ROWF(7, Z31, Z23, Z11, Z8)
	ADDQ      $288, SI
	ADDQ      $640, DI
	DECQ      CX
	JNZ       vqblock

	MOVQ      out+24(FP), DX
	MOVQ      oidx+32(FP), BX
	VMOVDQU32 (BX), Z13
	MOVQ      mask+40(FP), AX
	MOVQ      nr+48(FP), R9
	VQ_STORE(0, Z16, Z13)
	VQ_STORE_IF(1, Z17, Z13, vqdone)
	VQ_STORE_IF(2, Z18, Z13, vqdone)
	VQ_STORE_IF(3, Z19, Z13, vqdone)
	VQ_STORE_IF(4, Z20, Z13, vqdone)
	VQ_STORE_IF(5, Z21, Z13, vqdone)
	VQ_STORE_IF(6, Z22, Z13, vqdone)
	VQ_STORE_IF(7, Z23, Z13, vqdone)

vqdone:
	VZEROUPPER
	RET

// The 8-token variants (tiles of vnniTile8Bytes per block: 8 groups of
// 32 bytes, 8 dx, 8 corrections) do the same on 256-bit registers, for a
// last tile of at most 8 tokens: half the work of a 16-token tile. Every
// VPDPBUSD names a register above Y15, so that it is encoded with EVEX
// (AVX512_VNNI) and never as AVX-VNNI, which a CPU may lack.

// VQX8_GATHER is VQX_GATHER for 8-token tiles (Y31 their offsets, Y30
// ones, Y29 the byte sums).
#define VQX8_GATHER(G, Y) VQX_GATHER(G, Y, 32, Y31, Y30, Y29)

// func vnniPrepQ8_0X8(x *byte, nt, nb, shift int, xidx *int32, dst *byte)
// vnniPrepQ8_0X for nt (1..8) tokens and 8-token tiles.
TEXT ·vnniPrepQ8_0X8(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         nt+8(FP), CX
	MOVQ         nb+16(FP), R10
	MOVQ         shift+24(FP), AX
	VMOVQ        AX, X28
	MOVQ         xidx+32(FP), BX
	MOVQ         dst+40(FP), DI
	VMOVDQU32    (BX), Y31
	MOVL         $1, AX
	SHLL         CX, AX
	DECL         AX
	KMOVW        AX, K1
	MOVL         $0x01010101, AX
	VPBROADCASTD AX, Y30
	VPXORD       Y27, Y27, Y27

vqx8block:
	VPXORD     Y29, Y29, Y29
	VQX8_GATHER(0, Y16)
	VQX8_GATHER(1, Y17)
	VQX8_GATHER(2, Y18)
	VQX8_GATHER(3, Y19)
	VQX8_GATHER(4, Y20)
	VQX8_GATHER(5, Y21)
	VQX8_GATHER(6, Y22)
	VQX8_GATHER(7, Y23)
	VQX_DSUM(Y24, X24, Y31, Y29, Y27, 256, 32)
	ADDQ       $34, SI
	ADDQ       $320, DI
	DECQ       R10
	JNZ        vqx8block

	VZEROUPPER
	RET

// VQ8_GROUP is VQ_GROUPR for 8-token tiles: block sums Y24..Y31, Y10-Y13
// scratch.
#define VQ8_GROUP(G, A) VQ_GROUPR(G, A, Y10, Y11, Y12, Y13, Y24, Y25, Y26, Y27, Y28, Y29, Y30, Y31)

// func vnniMatQ8(wp, xp *byte, nb int, out *float32, oidx *int32, mask, nr int)
// vnniMatQ against an 8-token tile (vnniPrepQ8_0X8). Registers: Y16-Y23
// the activation groups, Y8 dx, Y9 the correction, Y0-Y7 the rows' sums,
// Y24-Y31 their block sums.
TEXT ·vnniMatQ8(SB), NOSPLIT, $0-56
	MOVQ   wp+0(FP), SI
	MOVQ   xp+8(FP), DI
	MOVQ   nb+16(FP), CX
	VQ_ZERO8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)

vq8block:
	VQ_LOAD8(DI, 32, Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23)
	VMOVUPS   256(DI), Y8
	VMOVDQU32 288(DI), Y9
	VQ_COPY8(Y9, Y24, Y25, Y26, Y27, Y28, Y29, Y30, Y31)
	VQ8_GROUP(0, Y16)
	VQ8_GROUP(1, Y17)
	VQ8_GROUP(2, Y18)
	VQ8_GROUP(3, Y19)
	VQ8_GROUP(4, Y20)
	VQ8_GROUP(5, Y21)
	VQ8_GROUP(6, Y22)
	VQ8_GROUP(7, Y23)
	VQ_ROWF(0, Y24, Y0, Y10, Y8)
	VQ_ROWF(1, Y25, Y1, Y11, Y8)
	VQ_ROWF(2, Y26, Y2, Y12, Y8)
	VQ_ROWF(3, Y27, Y3, Y13, Y8)
	VQ_ROWF(4, Y28, Y4, Y14, Y8)
	VQ_ROWF(5, Y29, Y5, Y15, Y8)
	VQ_ROWF(6, Y30, Y6, Y10, Y8)
	VQ_ROWF(7, Y31, Y7, Y11, Y8)
	ADDQ      $288, SI
	ADDQ      $320, DI
	DECQ      CX
	JNZ       vq8block

	MOVQ      out+24(FP), DX
	MOVQ      oidx+32(FP), BX
	VMOVDQU32 (BX), Y9
	MOVQ      mask+40(FP), AX
	MOVQ      nr+48(FP), R9
	VQ_STORE(0, Y0, Y9)
	VQ_STORE_IF(1, Y1, Y9, vq8done)
	VQ_STORE_IF(2, Y2, Y9, vq8done)
	VQ_STORE_IF(3, Y3, Y9, vq8done)
	VQ_STORE_IF(4, Y4, Y9, vq8done)
	VQ_STORE_IF(5, Y5, Y9, vq8done)
	VQ_STORE_IF(6, Y6, Y9, vq8done)
	VQ_STORE_IF(7, Y7, Y9, vq8done)

vq8done:
	VZEROUPPER
	RET

// The row-lane kernel (vnniMatQT) is for calls of at most 8 tokens: the
// eight int32 lanes of a 256-bit register are eight weight rows, the
// activation quants the signed operand of VPDPBUSD, broadcast four at a
// time straight from the token's Q8_0 block, so the work is in
// proportion to the tokens (a 16- or 8-token tile costs the same for 2
// tokens as for 16 or 8). Its weight group (vnniPrepQ5_0WT, vnniPrepQ8_0WT)
// holds per block, for g = 0..7, the dword g (quants 4g..4g+3, unsigned)
// of the eight rows at 32*g (row r at 32*g + 4*r), then the rows' dw as
// float32 at 256 + 4*r: the decoded rows transposed as 8x8 dwords.

// VQT_T8 transposes the 8x8 dwords of Y0..Y7 (row r in Yr) and stores
// dword g of the eight rows at 32*g(DI). Y8-Y11 scratch.
#define VQT_T8 \
	VPUNPCKLDQ  Y1, Y0, Y8          \
	VPUNPCKHDQ  Y1, Y0, Y9          \
	VPUNPCKLDQ  Y3, Y2, Y10         \
	VPUNPCKHDQ  Y3, Y2, Y11         \
	VPUNPCKLQDQ Y10, Y8, Y0         \
	VPUNPCKHQDQ Y10, Y8, Y1         \
	VPUNPCKLQDQ Y11, Y9, Y2         \
	VPUNPCKHQDQ Y11, Y9, Y3         \
	VPUNPCKLDQ  Y5, Y4, Y8          \
	VPUNPCKHDQ  Y5, Y4, Y9          \
	VPUNPCKLDQ  Y7, Y6, Y10         \
	VPUNPCKHDQ  Y7, Y6, Y11         \
	VPUNPCKLQDQ Y10, Y8, Y4         \
	VPUNPCKHQDQ Y10, Y8, Y5         \
	VPUNPCKLQDQ Y11, Y9, Y6         \
	VPUNPCKHQDQ Y11, Y9, Y7         \
	VPERM2I128  $0x20, Y4, Y0, Y8   \
	VPERM2I128  $0x31, Y4, Y0, Y9   \
	VMOVDQU     Y8, 0(DI)           \
	VMOVDQU     Y9, 128(DI)         \
	VPERM2I128  $0x20, Y5, Y1, Y8   \
	VPERM2I128  $0x31, Y5, Y1, Y9   \
	VMOVDQU     Y8, 32(DI)          \
	VMOVDQU     Y9, 160(DI)         \
	VPERM2I128  $0x20, Y6, Y2, Y8   \
	VPERM2I128  $0x31, Y6, Y2, Y9   \
	VMOVDQU     Y8, 64(DI)          \
	VMOVDQU     Y9, 192(DI)         \
	VPERM2I128  $0x20, Y7, Y3, Y8   \
	VPERM2I128  $0x31, Y7, Y3, Y9   \
	VMOVDQU     Y8, 96(DI)          \
	VMOVDQU     Y9, 224(DI)

// VQT_D stores row R's d (the fp16 at (P)) as float32 at 256+4*R(DI).
#define VQT_D(P, R) \
	VCVTPH2PS (P), X15 \
	VMOVSS    X15, 256+4*R(DI)

// VQT_ROWS loads the eight rows' block pointers, base SI plus offs[r]
// (BX), into R8..R15.
#define VQT_ROWS \
	MOVQ 0(BX), R8   \
	ADDQ SI, R8      \
	MOVQ 8(BX), R9   \
	ADDQ SI, R9      \
	MOVQ 16(BX), R10 \
	ADDQ SI, R10     \
	MOVQ 24(BX), R11 \
	ADDQ SI, R11     \
	MOVQ 32(BX), R12 \
	ADDQ SI, R12     \
	MOVQ 40(BX), R13 \
	ADDQ SI, R13     \
	MOVQ 48(BX), R14 \
	ADDQ SI, R14     \
	MOVQ 56(BX), R15 \
	ADDQ SI, R15

// VQT_LOOP is the block loop of vnniPrepQ5_0WT and vnniPrepQ8_0WT, CX
// blocks: the eight rows' blocks (WS bytes each, at R8..R15) prefetched
// DX bytes ahead and decoded by DECODE(P, Y) into Y0..Y7, their d stored
// (VQT_D), the 8x8 dwords transposed and stored (VQT_T8); DI moves one
// weight group (288 bytes) per block. BLOCK is the label it defines.
#define VQT_LOOP(DECODE, WS, BLOCK) \
BLOCK:                       \
	PREFETCHT0 (R8)(DX*1)    \
	DECODE(R8, Y0)           \
	PREFETCHT0 (R9)(DX*1)    \
	DECODE(R9, Y1)           \
	PREFETCHT0 (R10)(DX*1)   \
	DECODE(R10, Y2)          \
	PREFETCHT0 (R11)(DX*1)   \
	DECODE(R11, Y3)          \
	PREFETCHT0 (R12)(DX*1)   \
	DECODE(R12, Y4)          \
	PREFETCHT0 (R13)(DX*1)   \
	DECODE(R13, Y5)          \
	PREFETCHT0 (R14)(DX*1)   \
	DECODE(R14, Y6)          \
	PREFETCHT0 (R15)(DX*1)   \
	DECODE(R15, Y7)          \
	VQT_D(R8, 0)             \
	VQT_D(R9, 1)             \
	VQT_D(R10, 2)            \
	VQT_D(R11, 3)            \
	VQT_D(R12, 4)            \
	VQT_D(R13, 5)            \
	VQT_D(R14, 6)            \
	VQT_D(R15, 7)            \
	VQT_T8                   \
	ADDQ $WS, R8             \
	ADDQ $WS, R9             \
	ADDQ $WS, R10            \
	ADDQ $WS, R11            \
	ADDQ $WS, R12            \
	ADDQ $WS, R13            \
	ADDQ $WS, R14            \
	ADDQ $WS, R15            \
	ADDQ $288, DI            \
	DECQ CX                  \
	JNZ  BLOCK

// func vnniPrepQ5_0WT(w *byte, offs *[8]int, nb int, pf int, dst *byte)
// Decodes nb Q5_0 blocks of the eight weight rows at w + offs[r] into
// the row-lane kernel's transposed weight group at dst (vnniWGroupBytes
// per block). pf is how far ahead (bytes) to prefetch.
TEXT ·vnniPrepQ5_0WT(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         offs+8(FP), BX
	MOVQ         nb+16(FP), CX
	MOVQ         pf+24(FP), DX
	MOVQ         dst+32(FP), DI
	VMOVDQU      vnniQNibShift<>(SB), Y12 // before R15 is loaded (dynamic linking clobbers it here)
	VQT_ROWS
	VQ_Q5_CONSTS

	VQT_LOOP(VQ_Q5, 22, vqt5block)
	VZEROUPPER
	RET

// func vnniPrepQ8_0WT(w *byte, offs *[8]int, nb int, pf int, dst *byte)
// vnniPrepQ5_0WT for Q8_0 weights (quants plus 128).
TEXT ·vnniPrepQ8_0WT(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         offs+8(FP), BX
	MOVQ         nb+16(FP), CX
	MOVQ         pf+24(FP), DX
	MOVQ         dst+32(FP), DI
	VQT_ROWS
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Y14

	VQT_LOOP(VQ_Q8, 34, vqt8block)
	VZEROUPPER
	RET

// func vnniPrepXC(x *byte, xstride, nt, nb, shift int, dst *byte)
// For the row-lane kernel: per block b (64 bytes at dst + 64*b) and token
// t < nt (1..8) of the nb Q8_0 blocks at x + t*xstride, the correction
// -(sum of the block's quants << shift) as int32 at 4*t and dx as float32
// at 32 + 4*t.
TEXT ·vnniPrepXC(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         xstride+8(FP), R11
	MOVQ         nt+16(FP), R9
	MOVQ         nb+24(FP), R10
	MOVQ         shift+32(FP), AX
	VMOVQ        AX, X13
	MOVQ         dst+40(FP), DI
	MOVL         $0x01010101, AX
	VPBROADCASTD AX, Y16
	VPXOR        X14, X14, X14

vxctok:
	MOVQ SI, R8
	MOVQ DI, DX
	MOVQ R10, CX

vxcblock:
	VPXORD       Y17, Y17, Y17
	VPDPBUSD     2(R8), Y16, Y17     // eight partial sums of the quants
	VEXTRACTI32X4 $1, Y17, X1
	VMOVDQA32    X17, X0
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VPSLLD       X13, X0, X0
	VPSUBD       X0, X14, X0         // -(sum << shift)
	VMOVD        X0, (DX)
	VCVTPH2PS    (R8), X2
	VMOVSS       X2, 32(DX)
	ADDQ         $34, R8
	ADDQ         $64, DX
	DECQ         CX
	JNZ          vxcblock

	ADDQ R11, SI
	ADDQ $4, DI
	DECQ R9
	JNZ  vxctok
	VZEROUPPER
	RET

// VQT_TOK adds token T's block term to its sums SUM (lanes: the eight
// rows): ACC = its correction, plus the eight VPDPBUSD of the weight
// groups Y16..Y23 and the quants at (B)(I*S) broadcast four at a time;
// SUM += float32(ACC) * (dw*dx) (Y24 the rows' dw, dx broadcast).
#define VQT_TOK(T, B, I, S, ACC, SUM, TMP) \
	VPBROADCASTD  4*T(BX), ACC      \
	VPDPBUSD.BCST 2(B)(I*S), Y16, ACC    \
	VPDPBUSD.BCST 6(B)(I*S), Y17, ACC    \
	VPDPBUSD.BCST 10(B)(I*S), Y18, ACC   \
	VPDPBUSD.BCST 14(B)(I*S), Y19, ACC   \
	VPDPBUSD.BCST 18(B)(I*S), Y20, ACC   \
	VPDPBUSD.BCST 22(B)(I*S), Y21, ACC   \
	VPDPBUSD.BCST 26(B)(I*S), Y22, ACC   \
	VPDPBUSD.BCST 30(B)(I*S), Y23, ACC   \
	VCVTDQ2PS     ACC, ACC          \
	VMULPS.BCST   32+4*T(BX), Y24, TMP \
	VMULPS        TMP, ACC, ACC     \
	VADDPS        ACC, SUM, SUM

// VQT_STORE_IF writes token T's sums (SUM, lanes r < nr set in K1) at
// the next out row (DI += R9, ostride in bytes) when there are more than
// T tokens (DX of them); else on to DONE.
#define VQT_STORE_IF(T, SUM, DONE) \
	CMPQ    DX, $T+1     \
	JLT     DONE         \
	ADDQ    R9, DI       \
	VMOVUPS SUM, K1, (DI)

// func vnniMatQT(wp, x *byte, xstride, nt, nb int, xc *byte, out *float32, ostride, nr int)
// The row-lane kernel: the eight rows of the transposed weight group wp
// against nt (1..8) tokens' Q8_0 blocks (x + t*xstride; their
// corrections and dx in xc, from vnniPrepXC), nb >= 1 blocks; out[t*ostride
// + r] = the dot product for r < nr. Per (row, token) the float steps are
// the scalar kernels' (sum = 0; sum += float32(s) * (dw*dx) per block).
// Registers: Y16-Y23 the weight groups, Y24 dw, Y0-Y7 the tokens' sums,
// Y25-Y28 block sums, Y29-Y30 scratch; SI wp, DI token 0's block,
// R8 token 4's, R9 xstride, R10 3*xstride, R11 zero, BX the block's xc.
TEXT ·vnniMatQT(SB), NOSPLIT, $0-72
	MOVQ   wp+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xstride+16(FP), R9
	MOVQ   nt+24(FP), DX
	MOVQ   nb+32(FP), CX
	MOVQ   xc+40(FP), BX
	LEAQ   (R9)(R9*2), R10
	LEAQ   (DI)(R9*4), R8
	XORQ   R11, R11
	VQ_ZERO8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)

vqtblock:
	VQ_LOAD8(SI, 32, Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23)
	VMOVUPS   256(SI), Y24
	VQT_TOK(0, DI, R11, 1, Y25, Y0, Y29)
	CMPQ      DX, $2
	JLT       vqtnext
	VQT_TOK(1, DI, R9, 1, Y26, Y1, Y30)
	CMPQ      DX, $3
	JLT       vqtnext
	VQT_TOK(2, DI, R9, 2, Y27, Y2, Y29)
	CMPQ      DX, $4
	JLT       vqtnext
	VQT_TOK(3, DI, R10, 1, Y28, Y3, Y30)
	CMPQ      DX, $5
	JLT       vqtnext
	VQT_TOK(4, R8, R11, 1, Y25, Y4, Y29)
	CMPQ      DX, $6
	JLT       vqtnext
	VQT_TOK(5, R8, R9, 1, Y26, Y5, Y30)
	CMPQ      DX, $7
	JLT       vqtnext
	VQT_TOK(6, R8, R9, 2, Y27, Y6, Y29)
	CMPQ      DX, $8
	JLT       vqtnext
	VQT_TOK(7, R8, R10, 1, Y28, Y7, Y30)

vqtnext:
	ADDQ $288, SI
	ADDQ $34, DI
	ADDQ $34, R8
	ADDQ $64, BX
	DECQ CX
	JNZ  vqtblock

	MOVQ  out+48(FP), DI
	MOVQ  ostride+56(FP), R9
	SHLQ  $2, R9
	MOVQ  nr+64(FP), CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS Y0, K1, (DI)
	VQT_STORE_IF(1, Y1, vqtdone)
	VQT_STORE_IF(2, Y2, vqtdone)
	VQT_STORE_IF(3, Y3, vqtdone)
	VQT_STORE_IF(4, Y4, vqtdone)
	VQT_STORE_IF(5, Y5, vqtdone)
	VQT_STORE_IF(6, Y6, vqtdone)
	VQT_STORE_IF(7, Y7, vqtdone)

vqtdone:
	VZEROUPPER
	RET
