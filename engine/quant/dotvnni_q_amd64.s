//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 VNNI matrix kernels for Q5_0 and Q8_0 weights against Q8_0
// activations; see dotvnni_q_amd64.go for the layouts and why they give
// the scalar kernels' bits. Plan 9 operand order: sources first,
// destination last; VPDPBUSD S, U, ACC is Intel's vpdpbusd acc, u, s
// (ACC += the sums of four products of the unsigned bytes of U and the
// signed bytes of S, per int32 lane).

// VQX_GATHER gathers dword G (quants 4G..4G+3) of the current block of
// the tile's tokens (SI + Z31[t]) into Z, zero for the tokens masked off
// by K1, adds their byte sums to Z29 (Z30 holds unsigned ones) and stores
// Z at 64*G(DI).
#define VQX_GATHER(G, Z) \
	KMOVW      K1, K2                    \
	VPXORD     Z, Z, Z                   \
	VPGATHERDD 2+4*G(SI)(Z31*1), K2, Z   \
	VPDPBUSD   Z, Z30, Z29               \
	VMOVDQU32  Z, 64*G(DI)

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
	VQX_GATHER(0, Z0)
	VQX_GATHER(1, Z1)
	VQX_GATHER(2, Z2)
	VQX_GATHER(3, Z3)
	VQX_GATHER(4, Z4)
	VQX_GATHER(5, Z5)
	VQX_GATHER(6, Z6)
	VQX_GATHER(7, Z7)
	KMOVW      K1, K2
	VPXORD     Z8, Z8, Z8
	VPGATHERDD (SI)(Z31*1), K2, Z8   // d and the first two quants
	VPMOVDW    Z8, Y8                // d, fp16
	VCVTPH2PS  Y8, Z8
	VMOVUPS    Z8, 512(DI)
	VPSLLD     X28, Z29, Z29
	VPSUBD     Z29, Z27, Z29         // -(sum << shift)
	VMOVDQU32  Z29, 576(DI)
	ADDQ       $34, SI
	ADDQ       $640, DI
	DECQ       R10
	JNZ        vqxblock

	VZEROUPPER
	RET

// VQW_D stores the fp16 d at (R8) as float32 at 32(DX) (converting the
// first four halves of the block, all within it). X1 scratch.
#define VQW_D \
	VCVTPH2PS (R8), X1 \
	VMOVSS    X1, 32(DX)

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
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Y14
	MOVL         $0x10101010, AX
	VPBROADCASTD AX, Y13
	VMOVDQU      vnniQNibShift<>(SB), Y12

	MOVQ R11, R12
	SHLQ $4, R12          // sixteen rows: the group after next
vq5wrow:
	MOVQ SI, R8
	MOVQ DI, DX
	MOVQ R10, CX

vq5wblock:
	PREFETCHT0     (R8)(R12*1)       // the row two groups on, same block
	VBROADCASTI128 6(R8), Y0         // elements j (low nibble), 16+j (high)
	VPSRLVW        Y12, Y0, Y0
	VPAND          Y14, Y0, Y0
	KMOVD       2(R8), K1            // bit e: element e's fifth bit
	VPADDB      Y13, Y0, K1, Y0
	VMOVDQU     Y0, (DX)
	VQW_D
	ADDQ        $22, R8
	ADDQ        $288, DX
	DECQ        CX
	JNZ         vq5wblock

	ADDQ R11, SI
	ADDQ $36, DI
	DECQ R9
	JNZ  vq5wrow
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

	MOVQ R11, R12
	SHLQ $4, R12          // sixteen rows: the group after next
vq8wrow:
	MOVQ SI, R8
	MOVQ DI, DX
	MOVQ R10, CX

vq8wblock:
	PREFETCHT0 (R8)(R12*1)           // the row two groups on, same block
	VMOVDQU    2(R8), Y0
	VPXOR   Y14, Y0, Y0
	VMOVDQU Y0, (DX)
	VQW_D
	ADDQ    $34, R8
	ADDQ    $288, DX
	DECQ    CX
	JNZ     vq8wblock

	ADDQ R11, SI
	ADDQ $36, DI
	DECQ R9
	JNZ  vq8wrow
	VZEROUPPER
	RET

// VQ_GROUP adds to the eight rows' block sums (Z24..Z31) the VPDPBUSD of
// activation group G (register A) and each row's quants 4G..4G+3,
// broadcast. The rows are interleaved so that eight independent
// dependency chains are in flight. Z10-Z15 scratch.
#define VQ_GROUP(G, A) \
	VPBROADCASTD 4*G(SI), Z10      \
	VPDPBUSD     A, Z10, Z24       \
	VPBROADCASTD 36+4*G(SI), Z11   \
	VPDPBUSD     A, Z11, Z25       \
	VPBROADCASTD 72+4*G(SI), Z12   \
	VPDPBUSD     A, Z12, Z26       \
	VPBROADCASTD 108+4*G(SI), Z13  \
	VPDPBUSD     A, Z13, Z27       \
	VPBROADCASTD 144+4*G(SI), Z10  \
	VPDPBUSD     A, Z10, Z28       \
	VPBROADCASTD 180+4*G(SI), Z11  \
	VPDPBUSD     A, Z11, Z29       \
	VPBROADCASTD 216+4*G(SI), Z12  \
	VPDPBUSD     A, Z12, Z30       \
	VPBROADCASTD 252+4*G(SI), Z13  \
	VPDPBUSD     A, Z13, Z31

// VQ_ROWF adds to SUM (the 16 tokens' running sums of weight row R) the
// block's term: SUM += float32(ACC) * (dx * dw), lane by lane (Z8 holds
// dx; dw is broadcast from the weight group). T scratch.
#define VQ_ROWF(R, ACC, SUM, T) \
	VCVTDQ2PS   ACC, ACC             \
	VMULPS.BCST 36*R+32(SI), Z8, T   \
	VMULPS      T, ACC, ACC          \
	VADDPS      ACC, SUM, SUM

// VQ_STORE writes the sums of row R (SUM) to out + 4*R + 4*Z13[t] for
// the tokens set in AX.
#define VQ_STORE(R, SUM) \
	KMOVW       AX, K1 \
	VSCATTERDPS SUM, K1, 4*R(DX)(Z13*4)

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
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

vqblock:
	VMOVDQU32 0(DI), Z0
	VMOVDQU32 64(DI), Z1
	VMOVDQU32 128(DI), Z2
	VMOVDQU32 192(DI), Z3
	VMOVDQU32 256(DI), Z4
	VMOVDQU32 320(DI), Z5
	VMOVDQU32 384(DI), Z6
	VMOVDQU32 448(DI), Z7
	VMOVUPS   512(DI), Z8
	VMOVDQU32 576(DI), Z9
	VMOVDQA32 Z9, Z24           // each row's block sum starts at the correction
	VMOVDQA32 Z9, Z25
	VMOVDQA32 Z9, Z26
	VMOVDQA32 Z9, Z27
	VMOVDQA32 Z9, Z28
	VMOVDQA32 Z9, Z29
	VMOVDQA32 Z9, Z30
	VMOVDQA32 Z9, Z31
	VQ_GROUP(0, Z0)
	VQ_GROUP(1, Z1)
	VQ_GROUP(2, Z2)
	VQ_GROUP(3, Z3)
	VQ_GROUP(4, Z4)
	VQ_GROUP(5, Z5)
	VQ_GROUP(6, Z6)
	VQ_GROUP(7, Z7)
	VQ_ROWF(0, Z24, Z16, Z10)
	VQ_ROWF(1, Z25, Z17, Z11)
	VQ_ROWF(2, Z26, Z18, Z12)
	VQ_ROWF(3, Z27, Z19, Z13)
	VQ_ROWF(4, Z28, Z20, Z14)
	VQ_ROWF(5, Z29, Z21, Z15)
	VQ_ROWF(6, Z30, Z22, Z10)
	VQ_ROWF(7, Z31, Z23, Z11)
	ADDQ      $288, SI
	ADDQ      $640, DI
	DECQ      CX
	JNZ       vqblock

	MOVQ      out+24(FP), DX
	MOVQ      oidx+32(FP), BX
	VMOVDQU32 (BX), Z13
	MOVQ      mask+40(FP), AX
	MOVQ      nr+48(FP), R9
	VQ_STORE(0, Z16)
	CMPQ      R9, $2
	JLT       vqdone
	VQ_STORE(1, Z17)
	CMPQ      R9, $3
	JLT       vqdone
	VQ_STORE(2, Z18)
	CMPQ      R9, $4
	JLT       vqdone
	VQ_STORE(3, Z19)
	CMPQ      R9, $5
	JLT       vqdone
	VQ_STORE(4, Z20)
	CMPQ      R9, $6
	JLT       vqdone
	VQ_STORE(5, Z21)
	CMPQ      R9, $7
	JLT       vqdone
	VQ_STORE(6, Z22)
	CMPQ      R9, $8
	JLT       vqdone
	VQ_STORE(7, Z23)

vqdone:
	VZEROUPPER
	RET

// The 8-token variants (tiles of vnniTile8Bytes per block: 8 groups of
// 32 bytes, 8 dx, 8 corrections) do the same on 256-bit registers, for a
// last tile of at most 8 tokens: half the work of a 16-token tile. Every
// VPDPBUSD names a register above Y15, so that it is encoded with EVEX
// (AVX512_VNNI) and never as AVX-VNNI, which a CPU may lack.

// VQX8_GATHER is VQX_GATHER for 8 tokens (Y31 their offsets, Y29 the
// byte sums, Y30 unsigned ones).
#define VQX8_GATHER(G, Y) \
	KMOVW      K1, K2                    \
	VPXORD     Y, Y, Y                   \
	VPGATHERDD 2+4*G(SI)(Y31*1), K2, Y   \
	VPDPBUSD   Y, Y30, Y29               \
	VMOVDQU32  Y, 32*G(DI)

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
	KMOVW      K1, K2
	VPXORD     Y24, Y24, Y24
	VPGATHERDD (SI)(Y31*1), K2, Y24  // d and the first two quants
	VPMOVDW    Y24, X24              // d, fp16
	VCVTPH2PS  X24, Y24
	VMOVUPS    Y24, 256(DI)
	VPSLLD     X28, Y29, Y29
	VPSUBD     Y29, Y27, Y29         // -(sum << shift)
	VMOVDQU32  Y29, 288(DI)
	ADDQ       $34, SI
	ADDQ       $320, DI
	DECQ       R10
	JNZ        vqx8block

	VZEROUPPER
	RET

// VQ8_GROUP is VQ_GROUP on 256-bit registers: activation group A against
// the eight rows' broadcast quants, into Y24..Y31. Y10-Y13 scratch.
#define VQ8_GROUP(G, A) \
	VPBROADCASTD 4*G(SI), Y10      \
	VPDPBUSD     A, Y10, Y24       \
	VPBROADCASTD 36+4*G(SI), Y11   \
	VPDPBUSD     A, Y11, Y25       \
	VPBROADCASTD 72+4*G(SI), Y12   \
	VPDPBUSD     A, Y12, Y26       \
	VPBROADCASTD 108+4*G(SI), Y13  \
	VPDPBUSD     A, Y13, Y27       \
	VPBROADCASTD 144+4*G(SI), Y10  \
	VPDPBUSD     A, Y10, Y28       \
	VPBROADCASTD 180+4*G(SI), Y11  \
	VPDPBUSD     A, Y11, Y29       \
	VPBROADCASTD 216+4*G(SI), Y12  \
	VPDPBUSD     A, Y12, Y30       \
	VPBROADCASTD 252+4*G(SI), Y13  \
	VPDPBUSD     A, Y13, Y31

// VQ8_ROWF is VQ_ROWF on 256-bit registers (Y8 holds dx).
#define VQ8_ROWF(R, ACC, SUM, T) \
	VCVTDQ2PS   ACC, ACC             \
	VMULPS.BCST 36*R+32(SI), Y8, T   \
	VMULPS      T, ACC, ACC          \
	VADDPS      ACC, SUM, SUM

#define VQ8_STORE(R, SUM) \
	KMOVW       AX, K1 \
	VSCATTERDPS SUM, K1, 4*R(DX)(Y9*4)

// func vnniMatQ8(wp, xp *byte, nb int, out *float32, oidx *int32, mask, nr int)
// vnniMatQ against an 8-token tile (vnniPrepQ8_0X8). Registers: Y16-Y23
// the activation groups, Y8 dx, Y9 the correction, Y0-Y7 the rows' sums,
// Y24-Y31 their block sums.
TEXT ·vnniMatQ8(SB), NOSPLIT, $0-56
	MOVQ   wp+0(FP), SI
	MOVQ   xp+8(FP), DI
	MOVQ   nb+16(FP), CX
	VPXORD Y0, Y0, Y0
	VPXORD Y1, Y1, Y1
	VPXORD Y2, Y2, Y2
	VPXORD Y3, Y3, Y3
	VPXORD Y4, Y4, Y4
	VPXORD Y5, Y5, Y5
	VPXORD Y6, Y6, Y6
	VPXORD Y7, Y7, Y7

vq8block:
	VMOVDQU32 0(DI), Y16
	VMOVDQU32 32(DI), Y17
	VMOVDQU32 64(DI), Y18
	VMOVDQU32 96(DI), Y19
	VMOVDQU32 128(DI), Y20
	VMOVDQU32 160(DI), Y21
	VMOVDQU32 192(DI), Y22
	VMOVDQU32 224(DI), Y23
	VMOVUPS   256(DI), Y8
	VMOVDQU32 288(DI), Y9
	VMOVDQA32 Y9, Y24
	VMOVDQA32 Y9, Y25
	VMOVDQA32 Y9, Y26
	VMOVDQA32 Y9, Y27
	VMOVDQA32 Y9, Y28
	VMOVDQA32 Y9, Y29
	VMOVDQA32 Y9, Y30
	VMOVDQA32 Y9, Y31
	VQ8_GROUP(0, Y16)
	VQ8_GROUP(1, Y17)
	VQ8_GROUP(2, Y18)
	VQ8_GROUP(3, Y19)
	VQ8_GROUP(4, Y20)
	VQ8_GROUP(5, Y21)
	VQ8_GROUP(6, Y22)
	VQ8_GROUP(7, Y23)
	VQ8_ROWF(0, Y24, Y0, Y10)
	VQ8_ROWF(1, Y25, Y1, Y11)
	VQ8_ROWF(2, Y26, Y2, Y12)
	VQ8_ROWF(3, Y27, Y3, Y13)
	VQ8_ROWF(4, Y28, Y4, Y14)
	VQ8_ROWF(5, Y29, Y5, Y15)
	VQ8_ROWF(6, Y30, Y6, Y10)
	VQ8_ROWF(7, Y31, Y7, Y11)
	ADDQ      $288, SI
	ADDQ      $320, DI
	DECQ      CX
	JNZ       vq8block

	MOVQ      out+24(FP), DX
	MOVQ      oidx+32(FP), BX
	VMOVDQU32 (BX), Y9
	MOVQ      mask+40(FP), AX
	MOVQ      nr+48(FP), R9
	VQ8_STORE(0, Y0)
	CMPQ      R9, $2
	JLT       vq8done
	VQ8_STORE(1, Y1)
	CMPQ      R9, $3
	JLT       vq8done
	VQ8_STORE(2, Y2)
	CMPQ      R9, $4
	JLT       vq8done
	VQ8_STORE(3, Y3)
	CMPQ      R9, $5
	JLT       vq8done
	VQ8_STORE(4, Y4)
	CMPQ      R9, $6
	JLT       vq8done
	VQ8_STORE(5, Y5)
	CMPQ      R9, $7
	JLT       vq8done
	VQ8_STORE(6, Y6)
	CMPQ      R9, $8
	JLT       vq8done
	VQ8_STORE(7, Y7)

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

// VQT_Q5 decodes the Q5_0 block at P into Y as 32 unsigned quants (as in
// vnniPrepQ5_0W; Y12 nibble shifts, Y13 0x10 bytes, Y14 0x0f bytes).
#define VQT_Q5(P, Y) \
	PREFETCHT0     (P)(DX*1)  \
	VBROADCASTI128 6(P), Y    \
	VPSRLVW        Y12, Y, Y  \
	VPAND          Y14, Y, Y  \
	KMOVD          2(P), K1   \
	VPADDB         Y13, Y, K1, Y

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
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Y14
	MOVL         $0x10101010, AX
	VPBROADCASTD AX, Y13

vqt5block:
	VQT_Q5(R8, Y0)
	VQT_Q5(R9, Y1)
	VQT_Q5(R10, Y2)
	VQT_Q5(R11, Y3)
	VQT_Q5(R12, Y4)
	VQT_Q5(R13, Y5)
	VQT_Q5(R14, Y6)
	VQT_Q5(R15, Y7)
	VQT_D(R8, 0)
	VQT_D(R9, 1)
	VQT_D(R10, 2)
	VQT_D(R11, 3)
	VQT_D(R12, 4)
	VQT_D(R13, 5)
	VQT_D(R14, 6)
	VQT_D(R15, 7)
	VQT_T8
	ADDQ $22, R8
	ADDQ $22, R9
	ADDQ $22, R10
	ADDQ $22, R11
	ADDQ $22, R12
	ADDQ $22, R13
	ADDQ $22, R14
	ADDQ $22, R15
	ADDQ $288, DI
	DECQ CX
	JNZ  vqt5block
	VZEROUPPER
	RET

// VQT_Q8 loads the Q8_0 quants at P into Y plus 128 (Y14 0x80 bytes).
#define VQT_Q8(P, Y) \
	PREFETCHT0 (P)(DX*1) \
	VMOVDQU    2(P), Y   \
	VPXOR      Y14, Y, Y

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

vqt8block:
	VQT_Q8(R8, Y0)
	VQT_Q8(R9, Y1)
	VQT_Q8(R10, Y2)
	VQT_Q8(R11, Y3)
	VQT_Q8(R12, Y4)
	VQT_Q8(R13, Y5)
	VQT_Q8(R14, Y6)
	VQT_Q8(R15, Y7)
	VQT_D(R8, 0)
	VQT_D(R9, 1)
	VQT_D(R10, 2)
	VQT_D(R11, 3)
	VQT_D(R12, 4)
	VQT_D(R13, 5)
	VQT_D(R14, 6)
	VQT_D(R15, 7)
	VQT_T8
	ADDQ $34, R8
	ADDQ $34, R9
	ADDQ $34, R10
	ADDQ $34, R11
	ADDQ $34, R12
	ADDQ $34, R13
	ADDQ $34, R14
	ADDQ $34, R15
	ADDQ $288, DI
	DECQ CX
	JNZ  vqt8block
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
	VPXORD Y0, Y0, Y0
	VPXORD Y1, Y1, Y1
	VPXORD Y2, Y2, Y2
	VPXORD Y3, Y3, Y3
	VPXORD Y4, Y4, Y4
	VPXORD Y5, Y5, Y5
	VPXORD Y6, Y6, Y6
	VPXORD Y7, Y7, Y7

vqtblock:
	VMOVDQU32 0(SI), Y16
	VMOVDQU32 32(SI), Y17
	VMOVDQU32 64(SI), Y18
	VMOVDQU32 96(SI), Y19
	VMOVDQU32 128(SI), Y20
	VMOVDQU32 160(SI), Y21
	VMOVDQU32 192(SI), Y22
	VMOVDQU32 224(SI), Y23
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
	CMPQ  DX, $2
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y1, K1, (DI)
	CMPQ  DX, $3
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y2, K1, (DI)
	CMPQ  DX, $4
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y3, K1, (DI)
	CMPQ  DX, $5
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y4, K1, (DI)
	CMPQ  DX, $6
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y5, K1, (DI)
	CMPQ  DX, $7
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y6, K1, (DI)
	CMPQ  DX, $8
	JLT   vqtdone
	ADDQ  R9, DI
	VMOVUPS Y7, K1, (DI)

vqtdone:
	VZEROUPPER
	RET
