//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 VNNI matrix kernels for Q4_K and Q6_K weights against Q8_K
// activations; the layout and why they give the scalar kernels' bits are
// in dotvnni_k_amd64.go and below. Plan 9 operand order: sources first,
// destination last.

// Per 16 bytes: 0,8,1,9,...,7,15, so that the int16 pair k of a 16-element
// group is its elements k and k+8.
DATA kvPerm<>+0x00(SB)/8, $0x0b030a0209010800
DATA kvPerm<>+0x08(SB)/8, $0x0f070e060d050c04
DATA kvPerm<>+0x10(SB)/8, $0x0b030a0209010800
DATA kvPerm<>+0x18(SB)/8, $0x0f070e060d050c04
GLOBL kvPerm<>(SB), RODATA|NOPTR, $32

// Dwords 64*k: the offsets of the bsum pair vectors of a prepared block
// (k < 4 in use).
DATA kvVecIdx<>+0x00(SB)/8, $0x0000004000000000
DATA kvVecIdx<>+0x08(SB)/8, $0x000000c000000080
DATA kvVecIdx<>+0x10(SB)/8, $0x0000014000000100
DATA kvVecIdx<>+0x18(SB)/8, $0x000001c000000180
DATA kvVecIdx<>+0x20(SB)/8, $0x0000024000000200
DATA kvVecIdx<>+0x28(SB)/8, $0x000002c000000280
DATA kvVecIdx<>+0x30(SB)/8, $0x0000034000000300
DATA kvVecIdx<>+0x38(SB)/8, $0x000003c000000380
GLOBL kvVecIdx<>(SB), RODATA|NOPTR, $64

DATA kvBytes0F<>+0x00(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kvBytes0F<>+0x08(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kvBytes0F<>+0x10(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kvBytes0F<>+0x18(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL kvBytes0F<>(SB), RODATA|NOPTR, $32

DATA kvBytes30<>+0x00(SB)/8, $0x3030303030303030
DATA kvBytes30<>+0x08(SB)/8, $0x3030303030303030
DATA kvBytes30<>+0x10(SB)/8, $0x3030303030303030
DATA kvBytes30<>+0x18(SB)/8, $0x3030303030303030
GLOBL kvBytes30<>(SB), RODATA|NOPTR, $32

DATA kvBytes20<>+0x00(SB)/8, $0x2020202020202020
DATA kvBytes20<>+0x08(SB)/8, $0x2020202020202020
DATA kvBytes20<>+0x10(SB)/8, $0x2020202020202020
DATA kvBytes20<>+0x18(SB)/8, $0x2020202020202020
GLOBL kvBytes20<>(SB), RODATA|NOPTR, $32

// KV_SETUP loads the constants the decoding keeps in registers for the
// whole call: K3 the upper eight dwords, Y31 kvPerm, Y30 0x0f bytes, Y28
// 0x30, Y27 0x20.
#define KV_SETUP \
	MOVL      $0xff00, AX            \
	KMOVW     AX, K3                 \
	VMOVDQU32 kvPerm<>(SB), Y31      \
	VMOVDQU32 kvBytes0F<>(SB), Y30   \
	VMOVDQU32 kvBytes30<>(SB), Y28   \
	VMOVDQU32 kvBytes20<>(SB), Y27

// KP_PREFETCH asks for the same block of the next four rows (the block at
// SI, rows of stride bytes): a quad's rows are too short a stream for the
// hardware prefetchers to have the next quad ready. LAST and LAST2 are
// offsets past 128 in the block (its last byte among them). Clobbers AX,
// DX.
#define KP_PREFETCH(LAST, LAST2) \
	MOVQ       stride+8(FP), AX  \
	LEAQ       (SI)(AX*4), DX    \
	PREFETCHT0 (DX)              \
	PREFETCHT0 64(DX)            \
	PREFETCHT0 128(DX)           \
	PREFETCHT0 LAST(DX)          \
	PREFETCHT0 LAST2(DX)         \
	ADDQ       AX, DX            \
	PREFETCHT0 (DX)              \
	PREFETCHT0 64(DX)            \
	PREFETCHT0 128(DX)           \
	PREFETCHT0 LAST(DX)          \
	PREFETCHT0 LAST2(DX)         \
	ADDQ       AX, DX            \
	PREFETCHT0 (DX)              \
	PREFETCHT0 64(DX)            \
	PREFETCHT0 128(DX)           \
	PREFETCHT0 LAST(DX)          \
	PREFETCHT0 LAST2(DX)         \
	ADDQ       AX, DX            \
	PREFETCHT0 (DX)              \
	PREFETCHT0 64(DX)            \
	PREFETCHT0 128(DX)           \
	PREFETCHT0 LAST(DX)          \
	PREFETCHT0 LAST2(DX)

// KV4_SCALES stores the eight scales of the Q4_K block at P as int16
// pairs (the scale twice) at TAB(R11) and the eight mins as int16 at
// TAB+32(R11) (dword k: mins 2k and 2k+1). For j < 4 the low
// 6 bits of bytes j and j+4 of the 12 at 4(P); for j >= 4 the low (scale)
// or high (min) nibble of byte j+4 with the top two bits of byte j-4
// (scale) or j (min) above it. Clobbers AX, DX, R8, R9, R10, Z20, Z21.
#define KV4_SCALES(P, TAB) \
	MOVL       4(P), AX           \
	MOVL       12(P), DX          \
	MOVL       AX, R8             \
	ANDL       $0x3f3f3f3f, R8    \
	SHRL       $2, AX             \
	ANDL       $0x30303030, AX    \
	MOVL       DX, R9             \
	ANDL       $0x0f0f0f0f, R9    \
	ORL        AX, R9             \
	SHLQ       $32, R9            \
	ORQ        R9, R8             \
	MOVL       8(P), AX           \
	MOVL       AX, R10            \
	ANDL       $0x3f3f3f3f, R10   \
	SHRL       $2, AX             \
	ANDL       $0x30303030, AX    \
	SHRL       $4, DX             \
	ANDL       $0x0f0f0f0f, DX    \
	ORL        AX, DX             \
	SHLQ       $32, DX            \
	ORQ        DX, R10            \
	VMOVQ      R8, X20            \
	VPMOVZXBD  X20, Y20           \
	VPSLLD     $16, Y20, Y21      \
	VPORD      Y21, Y20, Y20      \
	VMOVDQU32    Y20, TAB(R11)      \
	VMOVQ      R10, X20           \
	VPMOVZXBW  X20, X20           \
	VMOVDQU32  X20, TAB+32(R11)

// KV4_Q decodes quant bytes 16+32J.. of the Q4_K block at P (chunks 2J,
// low nibbles, and 2J+1, high nibbles) times their scales into the
// decoded pairs at W(R11). Z20..Z23 scratch.
#define KV4_Q(P, J, W, TAB) \
	VMOVDQU32    16+32*J(P), Y20      \
	VPSHUFB      Y31, Y20, Y20        \
	VPSRLW       $4, Y20, Y21         \
	VPANDD       Y30, Y20, Y20        \
	VPANDD       Y30, Y21, Y21        \
	VPMOVZXBW    Y20, Z20             \
	VPMOVZXBW    Y21, Z21             \
	VPBROADCASTD TAB+8*J(R11), Z22    \
	VPBROADCASTD TAB+8*J+4(R11), Z23  \
	VPMULLW      Z22, Z20, Z20        \
	VPMULLW      Z23, Z21, Z21        \
	VMOVDQU32    Z20, W+128*J(R11)    \
	VMOVDQU32    Z21, W+128*J+64(R11)

#define KV4_DECODE(P, W, TAB) \
	KV4_SCALES(P, TAB)    \
	KV4_Q(P, 0, W, TAB)   \
	KV4_Q(P, 1, W, TAB)   \
	KV4_Q(P, 2, W, TAB)   \
	KV4_Q(P, 3, W, TAB)

// KV6_SCALES stores the sixteen int8 scales of the Q6_K block at P as
// int16 pairs at TAB(R11). Z20, Z21 scratch.
#define KV6_SCALES(P, TAB) \
	VPMOVSXBW 192(P), Y20      \
	VPMOVZXWD Y20, Z20         \
	VPSLLD    $16, Z20, Z21    \
	VPORD     Z21, Z20, Z20    \
	VMOVDQU32 Z20, TAB(R11)

// KV6_G finishes chunk 4H+G of a Q6_K block: Q holds its quants' low
// four bits (bits 0-3), Y23 the permuted qh bytes shifted so that the
// chunk's two bits are bits 4-5; minus 32, times the scales 2C (pairs
// 0-7) and 2C+1 (pairs 8-15), C = 4H+G, stored at W+64C(R11). Z24 scratch.
#define KV6_G(Q, H, G, W, TAB) \
	VPANDD       Y28, Y23, Y23                   \
	VPORD        Q, Y23, Y23                     \
	VPSUBB       Y27, Y23, Y23                   \
	VPMOVSXBW    Y23, Z23                        \
	VPBROADCASTD TAB+32*H+8*G(R11), Z24          \
	VPBROADCASTD TAB+32*H+8*G+4(R11), K3, Z24    \
	VPMULLW      Z24, Z23, Z23                   \
	VMOVDQU32    Z23, W+256*H+64*G(R11)

// KV6_HALF decodes chunks 4H..4H+3 of the Q6_K block at P: element
// 128H + 32g + l is nibble g/2 of ql[64H + 32(g%2) + l] with bits 2g of
// qh[32H + l] above it, minus 32 (word shifts of qh: the bits that cross
// into the other byte of a word never land on bits 4-5). Z20..Z25 scratch.
#define KV6_HALF(P, H, W, TAB) \
	VMOVDQU32 64*H(P), Y20          \
	VPSHUFB  Y31, Y20, Y20         \
	VMOVDQU32 64*H+32(P), Y21       \
	VPSHUFB  Y31, Y21, Y21         \
	VMOVDQU32 128+32*H(P), Y22      \
	VPSHUFB  Y31, Y22, Y22         \
	VPANDD   Y30, Y20, Y25         \
	VPSLLW   $4, Y22, Y23          \
	KV6_G(Y25, H, 0, W, TAB)       \
	VPANDD   Y30, Y21, Y25         \
	VPSLLW   $2, Y22, Y23          \
	KV6_G(Y25, H, 1, W, TAB)       \
	VPSRLW   $4, Y20, Y25          \
	VPANDD   Y30, Y25, Y25         \
	VMOVDQU32 Y22, Y23              \
	KV6_G(Y25, H, 2, W, TAB)       \
	VPSRLW   $4, Y21, Y25          \
	VPANDD   Y30, Y25, Y25         \
	VPSRLW   $2, Y22, Y23          \
	KV6_G(Y25, H, 3, W, TAB)

#define KV6_DECODE(P, W, TAB) \
	KV6_SCALES(P, TAB)      \
	KV6_HALF(P, 0, W, TAB)  \
	KV6_HALF(P, 1, W, TAB)

// The pair kernels (dotQ4_KPairAsm, dotQ6_KPairAsm): a register holds the
// eight int32 lanes aux[l] of two tokens for one weight row, so the lanes
// are full for any even number of tokens. prepQ8KPairAsm lays out 1..16
// tokens, per block b of kpPrepBlock bytes:
//
//	0+64k             lane t: token t's S(2k) and S(2k+1) (int16), k < 4,
//	                  S(j) = bsums 2j + 2j+1 (the 32 elements under one
//	                  Q4_K min)
//	512               lane t: token t's d (float32)
//	576+1088p         token pair p (tokens 2p, 2p+1), p < 8:
//	  +64(2c+h)         chunk c half h: pairs (e, e+8), e = 32c + 16h + l,
//	                    l = 0..7 of token 2p, then of token 2p+1 (int16)
//	  +1024             d of token 2p eight times, then of token 2p+1
//
// Four weight rows are decoded per block (KV4_DECODE, KV6_DECODE) and
// each 32-byte half chunk is broadcast to both halves of a register
// (VBROADCASTI64X4), so that one VPDPWSSD with a
// token pair's half chunk adds to lanes 0-7 the token 2p's aux[l] and to
// lanes 8-15 token 2p+1's: 16 VPDPWSSD per row, token pair and block, four
// rows against four token pairs in sixteen accumulators. The float steps
// are the scalar kernels', lane-wise: sums[l] += (d*yd)*float32(aux[l])
// per block (and Q4_K's sumf -= (dmin*yd)*float32(mins term), its integer
// part four VPDPWSSD of the S pairs against the min pairs for 16 tokens),
// then at the end sumf + sums[0] + ... + sums[7] token by token.
//
// Work area (kpWork bytes at R11):
//
//	512r        row r's block decoded (r < 4)
//	2048+128r   row r's scales (and mins at +32) as int16 pairs
//	2560+8r     row r's d (and dmin at +4), float32
//	2600        nt
//	2816+512r   row r's sums: +64p for token pair p (as the accumulators)
//	4864+64r    row r's sumf, lane t for token t

// KPPREP_CHUNK stores chunk C of the Q8_K block at AX as two half chunks
// of 16 int16 at BX + 128C and BX + 128C + 64. Y31 holds kvPerm.
#define KPPREP_CHUNK(C) \
	VMOVDQU32     4+32*C(AX), Y0    \
	VPSHUFB       Y31, Y0, Y0       \
	VPMOVSXBW     Y0, Z0            \
	VMOVDQU32     Y0, 128*C(BX)     \
	VEXTRACTI64X4 $1, Z0, 128*C+64(BX)

// func prepQ8KPairAsm(x *byte, xstride, nt, nb int, dst *byte) (wide bool)
TEXT ·prepQ8KPairAsm(SB), NOSPLIT, $0-41
	MOVQ      x+0(FP), SI
	MOVQ      nt+16(FP), R9
	MOVQ      nb+24(FP), R10
	MOVQ      dst+32(FP), DI
	VMOVDQU32 kvPerm<>(SB), Y31
	VMOVDQU32 kvVecIdx<>(SB), Z30
	MOVL      $0x0f, DX
	KMOVW     DX, K2
	VPTERNLOGD $0xff, Y29, Y29, Y29 // int16 ones (all bits, then 1)
	VPSRLW    $15, Y29, Y29
	VPXORD    X28, X28, X28         // the S(j) that are not int16s

	// Every d past the nt tokens is zero (see prepQ8KPairAsm's doc).
	VPXORD Z1, Z1, Z1
	MOVQ   DI, BX
	MOVQ   R10, CX

kpprepZero:
	VMOVDQU32 Z1, 512(BX)
	VMOVDQU32 Z1, 1600(BX)
	VMOVDQU32 Z1, 2688(BX)
	VMOVDQU32 Z1, 3776(BX)
	VMOVDQU32 Z1, 4864(BX)
	VMOVDQU32 Z1, 5952(BX)
	VMOVDQU32 Z1, 7040(BX)
	VMOVDQU32 Z1, 8128(BX)
	VMOVDQU32 Z1, 9216(BX)
	ADDQ      $9280, BX
	DECQ      CX
	JNZ       kpprepZero
	XORQ      R8, R8

kpprepTok:
	MOVQ   SI, AX
	MOVQ   R8, BX                   // BX: token pair R8/2, half R8%2
	SHRQ   $1, BX
	IMUL3Q $1088, BX, BX
	LEAQ   576(DI)(BX*1), BX
	MOVQ   R8, DX
	ANDQ   $1, DX
	SHLQ   $5, DX
	ADDQ   DX, BX
	LEAQ   (DI)(R8*4), DX           // DX: lane R8 of the 16-token vectors
	MOVQ   R10, CX

kpprepBlock:
	KPPREP_CHUNK(0)
	KPPREP_CHUNK(1)
	KPPREP_CHUNK(2)
	KPPREP_CHUNK(3)
	KPPREP_CHUNK(4)
	KPPREP_CHUNK(5)
	KPPREP_CHUNK(6)
	KPPREP_CHUNK(7)
	VPBROADCASTD (AX), Y0           // d, eight times
	VMOVDQU32    Y0, 1024(BX)
	VMOVDQU32    260(AX), Y0        // the sixteen bsums
	VPMADDWD     Y29, Y0, Y0        // S(j) = bsums 2j + 2j+1, int32
	VPMOVSDW     Y0, X1             // as int16, saturated
	VPMOVDW      Y0, X0             // as int16, truncated
	VPXORD       X0, X1, X1         // non-zero where S(j) is not an int16
	VPORD        X1, X28, X28
	KMOVW        K2, K1
	VPSCATTERDD  Z0, K1, (DX)(Z30*1)
	MOVL         (AX), R11
	MOVL         R11, 512(DX)
	ADDQ         $292, AX
	ADDQ         $9280, BX
	ADDQ         $9280, DX
	DECQ         CX
	JNZ          kpprepBlock

	ADDQ xstride+8(FP), SI
	INCQ R8
	CMPQ R8, R9
	JLT  kpprepTok
	VPTESTMD X28, X28, K1
	KORTESTW K1, K1
	SETNE    wide+40(FP)
	VZEROUPPER
	RET

// KP_ZERO clears the sums and sumf of the four rows (work 2816..5119).
#define KP_ZERO(LABEL) \
	VPXORD    Z20, Z20, Z20  \
	LEAQ      2816(R11), AX  \
	MOVL      $36, DX        \
LABEL:                       \
	VMOVDQU32 Z20, (AX)      \
	ADDQ      $64, AX        \
	DECL      DX             \
	JNZ       LABEL

// KP_XJ adds the half chunk at OFF(DX) (one token pair) times the four
// rows' broadcast half chunks Z16..Z19 to A0..A3.
#define KP_XJ(OFF, A0, A1, A2, A3) \
	VMOVDQU32 OFF(DX), Z20    \
	VPDPWSSD  Z20, Z16, A0    \
	VPDPWSSD  Z20, Z17, A1    \
	VPDPWSSD  Z20, Z18, A2    \
	VPDPWSSD  Z20, Z19, A3

// KP_HALF does half H of a chunk: rows' half chunks at AX + 512r + 32H,
// token pairs' at DX + 1088j + 64H. Row r, pair j accumulate in Z(4r+j).
#define KP_HALF(H) \
	VBROADCASTI64X4 32*H(AX), Z16        \
	VBROADCASTI64X4 512+32*H(AX), Z17    \
	VBROADCASTI64X4 1024+32*H(AX), Z18   \
	VBROADCASTI64X4 1536+32*H(AX), Z19   \
	KP_XJ(64*H, Z0, Z4, Z8, Z12)         \
	KP_XJ(1088+64*H, Z1, Z5, Z9, Z13)    \
	KP_XJ(2176+64*H, Z2, Z6, Z10, Z14)   \
	KP_XJ(3264+64*H, Z3, Z7, Z11, Z15)

// KP_DOT leaves in Z(4r+j) the lanes aux[l] of row r against token pair
// 4G+j of the block at DI. Clobbers AX, DX, R8, Z16..Z20.
#define KP_DOT(G, LABEL) \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	MOVQ   R11, AX                 \
	LEAQ   576+4352*G(DI), DX      \
	MOVL   $8, R8                  \
LABEL:                             \
	KP_HALF(0)                     \
	KP_HALF(1)                     \
	ADDQ   $64, AX                 \
	ADDQ   $128, DX                \
	DECL   R8                      \
	JNZ    LABEL

// KP_F is sums += (d*yd)*float32(aux) for one row and token pair: A the
// lanes aux (clobbered), D the row's d broadcast, the pair's d vector at
// YOFF(DI), the sums at SOFF(R11). Z21 scratch.
#define KP_F(A, D, YOFF, SOFF) \
	VMULPS    YOFF(DI), D, Z21   \
	VCVTDQ2PS A, A               \
	VMULPS    Z21, A, A          \
	VADDPS    SOFF(R11), A, A    \
	VMOVUPS   A, SOFF(R11)

// KP_FLOAT does KP_F for the four rows (d in Z24, Z25, Z26, Z29) and the
// token pairs 4G..4G+3.
#define KP_FLOAT(G) \
	KP_F(Z0, Z24, 1600+4352*G+0, 2816+256*G+0) \
	KP_F(Z1, Z24, 1600+4352*G+1088, 2816+256*G+64) \
	KP_F(Z2, Z24, 1600+4352*G+2176, 2816+256*G+128) \
	KP_F(Z3, Z24, 1600+4352*G+3264, 2816+256*G+192) \
	KP_F(Z4, Z25, 1600+4352*G+0, 2816+256*G+512) \
	KP_F(Z5, Z25, 1600+4352*G+1088, 2816+256*G+576) \
	KP_F(Z6, Z25, 1600+4352*G+2176, 2816+256*G+640) \
	KP_F(Z7, Z25, 1600+4352*G+3264, 2816+256*G+704) \
	KP_F(Z8, Z26, 1600+4352*G+0, 2816+256*G+1024) \
	KP_F(Z9, Z26, 1600+4352*G+1088, 2816+256*G+1088) \
	KP_F(Z10, Z26, 1600+4352*G+2176, 2816+256*G+1152) \
	KP_F(Z11, Z26, 1600+4352*G+3264, 2816+256*G+1216) \
	KP_F(Z12, Z29, 1600+4352*G+0, 2816+256*G+1536) \
	KP_F(Z13, Z29, 1600+4352*G+1088, 2816+256*G+1600) \
	KP_F(Z14, Z29, 1600+4352*G+2176, 2816+256*G+1664) \
	KP_F(Z15, Z29, 1600+4352*G+3264, 2816+256*G+1728)

// KP_DS loads the four rows' d, broadcast, into Z24, Z25, Z26, Z29.
#define KP_DS \
	VBROADCASTSS 2560(R11), Z24  \
	VBROADCASTSS 2568(R11), Z25  \
	VBROADCASTSS 2576(R11), Z26  \
	VBROADCASTSS 2584(R11), Z29

// KP_FINISH writes, for row R and the nt tokens, sumf + sums[0] + ... +
// sums[7] in that order (Q4_K: START loads sumf into X20; Q6_K: zero) to
// 4R(R14) + t*ostride*4 (R10 = ostride*4).
#define KP_FINISH(R, START, LABEL) \
	LEAQ    2816+512*R(R11), AX  \
	LEAQ    4864+64*R(R11), DX   \
	LEAQ    4*R(R14), R8         \
	MOVQ    2600(R11), R9        \
LABEL:                           \
	START                        \
	VADDSS  0(AX), X20, X20    \
	VADDSS  4(AX), X20, X20    \
	VADDSS  8(AX), X20, X20    \
	VADDSS  12(AX), X20, X20    \
	VADDSS  16(AX), X20, X20    \
	VADDSS  20(AX), X20, X20    \
	VADDSS  24(AX), X20, X20    \
	VADDSS  28(AX), X20, X20    \
	VMOVSS  X20, (R8)            \
	ADDQ    $32, AX              \
	ADDQ    $4, DX               \
	ADDQ    R10, R8              \
	DECQ    R9                   \
	JNZ     LABEL

#define KP_START4 VMOVSS (DX), X20
#define KP_START6 VXORPS X20, X20, X20

// KP4_ROW decodes Q4_K row R of the quad (block at P) and keeps its d and
// dmin as float32.
#define KP4_ROW(P, R) \
	KV4_DECODE(P, 512*R, 2048+128*R) \
	VCVTPH2PS (P), X20               \
	VMOVQ     X20, 2560+8*R(R11)

// KP4_MINS is, for the four rows, sumf -= (dmin*yd)*float32(mins term),
// 16 tokens at a time: the S pairs in Z16..Z19 against the rows' min
// pairs, two chains per row (Z(r), Z(4+r)) added at the end (the term is
// exact in int32, so the order does not matter).
#define KP4_MINS \
	VMOVDQU32 0(DI), Z16 \
	VMOVDQU32 64(DI), Z17 \
	VMOVDQU32 128(DI), Z18 \
	VMOVDQU32 192(DI), Z19 \
	KP4_MIN(0, Z0, Z4) \
	KP4_MIN(1, Z1, Z5) \
	KP4_MIN(2, Z2, Z6) \
	KP4_MIN(3, Z3, Z7) \
	KP4_MINF(0, Z0) \
	KP4_MINF(1, Z1) \
	KP4_MINF(2, Z2) \
	KP4_MINF(3, Z3)

// KP4_MIN leaves row R's mins term for 16 tokens in A (B scratch).
#define KP4_MIN(R, A, B) \
	VPXORD        A, A, A                   \
	VPXORD        B, B, B                   \
	VPDPWSSD.BCST 2080+128*R(R11), Z16, A   \
	VPDPWSSD.BCST 2088+128*R(R11), Z18, B   \
	VPDPWSSD.BCST 2084+128*R(R11), Z17, A   \
	VPDPWSSD.BCST 2092+128*R(R11), Z19, B   \
	VPADDD        B, A, A

// KP4_MINF is row R's sumf -= (dmin*yd)*float32(A) for 16 tokens.
#define KP4_MINF(R, A) \
	VCVTDQ2PS    A, A                 \
	VBROADCASTSS 2564+8*R(R11), Z24   \
	VMULPS       512(DI), Z24, Z24    \
	VMULPS       Z24, A, A            \
	VMOVUPS      4864+64*R(R11), Z25  \
	VSUBPS       A, Z25, Z25          \
	VMOVUPS      Z25, 4864+64*R(R11)

// func dotQ4_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
TEXT ·dotQ4_KPairAsm(SB), NOSPLIT, $0-72
	MOVQ w+0(FP), R12
	MOVQ nrows+16(FP), R13
	MOVQ out+48(FP), R14
	MOVQ work+64(FP), R11
	KV_SETUP
	MOVQ nt+32(FP), AX
	MOVQ AX, 2600(R11)

kp4row:
	KP_ZERO(kp4zero)
	MOVQ R12, SI
	MOVQ x+24(FP), DI
	MOVQ nb+40(FP), CX

kp4block:
	KP_PREFETCH(143, 143)
	MOVQ stride+8(FP), BX
	ADDQ SI, BX
	KP4_ROW(SI, 0)
	KP4_ROW(BX, 1)
	ADDQ stride+8(FP), BX
	KP4_ROW(BX, 2)
	ADDQ stride+8(FP), BX
	KP4_ROW(BX, 3)
	KP4_MINS
	KP_DS
	KP_DOT(0, kp4dot0)
	KP_FLOAT(0)
	CMPQ nt+32(FP), $8
	JLE  kp4one
	KP_DOT(1, kp4dot1)
	KP_FLOAT(1)

kp4one:
	ADDQ $144, SI
	ADDQ $9280, DI
	DECQ CX
	JNZ  kp4block

	MOVQ ostride+56(FP), R10
	SHLQ $2, R10
	KP_FINISH(0, KP_START4, kp4fin0)
	KP_FINISH(1, KP_START4, kp4fin1)
	KP_FINISH(2, KP_START4, kp4fin2)
	KP_FINISH(3, KP_START4, kp4fin3)
	MOVQ stride+8(FP), AX
	LEAQ (R12)(AX*4), R12
	ADDQ $16, R14
	SUBQ $4, R13
	JNZ  kp4row
	VZEROUPPER
	RET

// KP6_ROW decodes Q6_K row R of the quad (block at P) and keeps its d as
// float32.
#define KP6_ROW(P, R) \
	KV6_DECODE(P, 512*R, 2048+128*R) \
	MOVWLZX      208(P), AX           \
	VMOVD        AX, X20              \
	VCVTPH2PS    X20, X20             \
	VMOVSS       X20, 2560+8*R(R11)

// func dotQ6_KPairAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
TEXT ·dotQ6_KPairAsm(SB), NOSPLIT, $0-72
	MOVQ w+0(FP), R12
	MOVQ nrows+16(FP), R13
	MOVQ out+48(FP), R14
	MOVQ work+64(FP), R11
	KV_SETUP
	MOVQ nt+32(FP), AX
	MOVQ AX, 2600(R11)

kp6row:
	KP_ZERO(kp6zero)
	MOVQ R12, SI
	MOVQ x+24(FP), DI
	MOVQ nb+40(FP), CX

kp6block:
	KP_PREFETCH(192, 209)
	MOVQ stride+8(FP), BX
	ADDQ SI, BX
	KP6_ROW(SI, 0)
	KP6_ROW(BX, 1)
	ADDQ stride+8(FP), BX
	KP6_ROW(BX, 2)
	ADDQ stride+8(FP), BX
	KP6_ROW(BX, 3)
	KP_DS
	KP_DOT(0, kp6dot0)
	KP_FLOAT(0)
	CMPQ nt+32(FP), $8
	JLE  kp6one
	KP_DOT(1, kp6dot1)
	KP_FLOAT(1)

kp6one:
	ADDQ $210, SI
	ADDQ $9280, DI
	DECQ CX
	JNZ  kp6block

	MOVQ ostride+56(FP), R10
	SHLQ $2, R10
	KP_FINISH(0, KP_START6, kp6fin0)
	KP_FINISH(1, KP_START6, kp6fin1)
	KP_FINISH(2, KP_START6, kp6fin2)
	KP_FINISH(3, KP_START6, kp6fin3)
	MOVQ stride+8(FP), AX
	LEAQ (R12)(AX*4), R12
	ADDQ $16, R14
	SUBQ $4, R13
	JNZ  kp6row
	VZEROUPPER
	RET
