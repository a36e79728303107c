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

// The byte kernel's order, per 32 bytes: dword l holds bytes l, l+8,
// l+16, l+24, the four elements of ggml's lane l in a 32-element chunk
// (VPERMB; each 32-byte half of a register from its own bytes).
DATA kbPerm<>+0x00(SB)/8, $0x1911090118100800
DATA kbPerm<>+0x08(SB)/8, $0x1b130b031a120a02
DATA kbPerm<>+0x10(SB)/8, $0x1d150d051c140c04
DATA kbPerm<>+0x18(SB)/8, $0x1f170f071e160e06
DATA kbPerm<>+0x20(SB)/8, $0x3931292138302820
DATA kbPerm<>+0x28(SB)/8, $0x3b332b233a322a22
DATA kbPerm<>+0x30(SB)/8, $0x3d352d253c342c24
DATA kbPerm<>+0x38(SB)/8, $0x3f372f273e362e26
GLOBL kbPerm<>(SB), RODATA|NOPTR, $64

// kbWPerm takes the words of a register whose 16-byte lanes are in
// kvPerm's order (word k: bytes k, k+8 of its lane) so that dword l of
// each 32 bytes is word l of the first lane and word l of the second:
// bytes l, l+8, l+16, l+24, the four elements of ggml's lane l in a
// 32-element chunk (VPSHUFB then VPERMW, both AVX512BW; each 32-byte
// half of a register from its own words).
DATA kbWPerm<>+0x00(SB)/8, $0x0009000100080000
DATA kbWPerm<>+0x08(SB)/8, $0x000b0003000a0002
DATA kbWPerm<>+0x10(SB)/8, $0x000d0005000c0004
DATA kbWPerm<>+0x18(SB)/8, $0x000f0007000e0006
DATA kbWPerm<>+0x20(SB)/8, $0x0019001100180010
DATA kbWPerm<>+0x28(SB)/8, $0x001b0013001a0012
DATA kbWPerm<>+0x30(SB)/8, $0x001d0015001c0014
DATA kbWPerm<>+0x38(SB)/8, $0x001f0017001e0016
GLOBL kbWPerm<>(SB), RODATA|NOPTR, $64

// kr6Idx: for group g (64 bytes each), VPERMD indexes that put dword g
// (the scale pair of group g of half 0) in the lower eight dwords and
// dword 4+g (half 1's) in the upper eight.
DATA kr6Idx<>+0x00(SB)/8, $0x0000000000000000
DATA kr6Idx<>+0x08(SB)/8, $0x0000000000000000
DATA kr6Idx<>+0x10(SB)/8, $0x0000000000000000
DATA kr6Idx<>+0x18(SB)/8, $0x0000000000000000
DATA kr6Idx<>+0x20(SB)/8, $0x0000000400000004
DATA kr6Idx<>+0x28(SB)/8, $0x0000000400000004
DATA kr6Idx<>+0x30(SB)/8, $0x0000000400000004
DATA kr6Idx<>+0x38(SB)/8, $0x0000000400000004
DATA kr6Idx<>+0x40(SB)/8, $0x0000000100000001
DATA kr6Idx<>+0x48(SB)/8, $0x0000000100000001
DATA kr6Idx<>+0x50(SB)/8, $0x0000000100000001
DATA kr6Idx<>+0x58(SB)/8, $0x0000000100000001
DATA kr6Idx<>+0x60(SB)/8, $0x0000000500000005
DATA kr6Idx<>+0x68(SB)/8, $0x0000000500000005
DATA kr6Idx<>+0x70(SB)/8, $0x0000000500000005
DATA kr6Idx<>+0x78(SB)/8, $0x0000000500000005
DATA kr6Idx<>+0x80(SB)/8, $0x0000000200000002
DATA kr6Idx<>+0x88(SB)/8, $0x0000000200000002
DATA kr6Idx<>+0x90(SB)/8, $0x0000000200000002
DATA kr6Idx<>+0x98(SB)/8, $0x0000000200000002
DATA kr6Idx<>+0xa0(SB)/8, $0x0000000600000006
DATA kr6Idx<>+0xa8(SB)/8, $0x0000000600000006
DATA kr6Idx<>+0xb0(SB)/8, $0x0000000600000006
DATA kr6Idx<>+0xb8(SB)/8, $0x0000000600000006
DATA kr6Idx<>+0xc0(SB)/8, $0x0000000300000003
DATA kr6Idx<>+0xc8(SB)/8, $0x0000000300000003
DATA kr6Idx<>+0xd0(SB)/8, $0x0000000300000003
DATA kr6Idx<>+0xd8(SB)/8, $0x0000000300000003
DATA kr6Idx<>+0xe0(SB)/8, $0x0000000700000007
DATA kr6Idx<>+0xe8(SB)/8, $0x0000000700000007
DATA kr6Idx<>+0xf0(SB)/8, $0x0000000700000007
DATA kr6Idx<>+0xf8(SB)/8, $0x0000000700000007
GLOBL kr6Idx<>(SB), RODATA|NOPTR, $256

// kr4Idx: VPERMD indexes that put the scale pairs of sub-blocks (0, 2),
// (1, 3), (4, 6), (5, 7) in the lower and upper eight dwords, 64 bytes
// each (the one-token Q4_K kernel's registers).
DATA kr4Idx<>+0x00(SB)/8, $0x0000000000000000
DATA kr4Idx<>+0x08(SB)/8, $0x0000000000000000
DATA kr4Idx<>+0x10(SB)/8, $0x0000000000000000
DATA kr4Idx<>+0x18(SB)/8, $0x0000000000000000
DATA kr4Idx<>+0x20(SB)/8, $0x0000000200000002
DATA kr4Idx<>+0x28(SB)/8, $0x0000000200000002
DATA kr4Idx<>+0x30(SB)/8, $0x0000000200000002
DATA kr4Idx<>+0x38(SB)/8, $0x0000000200000002
DATA kr4Idx<>+0x40(SB)/8, $0x0000000100000001
DATA kr4Idx<>+0x48(SB)/8, $0x0000000100000001
DATA kr4Idx<>+0x50(SB)/8, $0x0000000100000001
DATA kr4Idx<>+0x58(SB)/8, $0x0000000100000001
DATA kr4Idx<>+0x60(SB)/8, $0x0000000300000003
DATA kr4Idx<>+0x68(SB)/8, $0x0000000300000003
DATA kr4Idx<>+0x70(SB)/8, $0x0000000300000003
DATA kr4Idx<>+0x78(SB)/8, $0x0000000300000003
DATA kr4Idx<>+0x80(SB)/8, $0x0000000400000004
DATA kr4Idx<>+0x88(SB)/8, $0x0000000400000004
DATA kr4Idx<>+0x90(SB)/8, $0x0000000400000004
DATA kr4Idx<>+0x98(SB)/8, $0x0000000400000004
DATA kr4Idx<>+0xa0(SB)/8, $0x0000000600000006
DATA kr4Idx<>+0xa8(SB)/8, $0x0000000600000006
DATA kr4Idx<>+0xb0(SB)/8, $0x0000000600000006
DATA kr4Idx<>+0xb8(SB)/8, $0x0000000600000006
DATA kr4Idx<>+0xc0(SB)/8, $0x0000000500000005
DATA kr4Idx<>+0xc8(SB)/8, $0x0000000500000005
DATA kr4Idx<>+0xd0(SB)/8, $0x0000000500000005
DATA kr4Idx<>+0xd8(SB)/8, $0x0000000500000005
DATA kr4Idx<>+0xe0(SB)/8, $0x0000000700000007
DATA kr4Idx<>+0xe8(SB)/8, $0x0000000700000007
DATA kr4Idx<>+0xf0(SB)/8, $0x0000000700000007
DATA kr4Idx<>+0xf8(SB)/8, $0x0000000700000007
GLOBL kr4Idx<>(SB), RODATA|NOPTR, $256

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

// KV4_SCALEBYTES leaves the eight 6-bit scales of the Q4_K block at P in
// the bytes of R8 and its eight mins in those of R10. For j < 4 the low
// 6 bits of bytes j and j+4 of the 12 at 4(P); for j >= 4 the low (scale)
// or high (min) nibble of byte j+4 with the top two bits of byte j-4
// (scale) or j (min) above it. Clobbers AX, DX, R9.
#define KV4_SCALEBYTES(P) \
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
	ORQ        DX, R10

// KV4_SCALES stores the eight scales of the Q4_K block at P as int16
// pairs (the scale twice) at TAB(R11) and the eight mins as int16 at
// TAB+32(R11) (dword k: mins 2k and 2k+1). Clobbers AX, DX, R8, R9, R10,
// Z20, Z21.
#define KV4_SCALES(P, TAB) \
	KV4_SCALEBYTES(P)             \
	VMOVQ      R8, X20            \
	VPMOVZXBD  X20, Y20           \
	VPSLLD     $16, Y20, Y21      \
	VPORD      Y21, Y20, Y20      \
	VMOVDQU32    Y20, TAB(R11)      \
	VMOVQ      R10, X20           \
	VPMOVZXBW  X20, X20           \
	VMOVDQU32  X20, TAB+32(R11)

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

// The matrix kernels (dotQ6_KPairAsm; dotQ4_KByteAsm below shares its
// accumulators, float steps and work area): a register holds the eight
// int32 lanes aux[l] of two tokens for one weight row, so the lanes are
// full for any even number of tokens. prepQ8KPairAsm lays out 1..16
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
// Q6_K: four weight rows are decoded per block (KV6_DECODE) and each
// 32-byte half chunk is broadcast to both halves of a register
// (VBROADCASTI64X4), so that one VPDPWSSD with a
// token pair's half chunk adds to lanes 0-7 the token 2p's aux[l] and to
// lanes 8-15 token 2p+1's: 16 VPDPWSSD per row, token pair and block, four
// rows against four token pairs in sixteen accumulators. The float steps
// are the scalar kernels', lane-wise: sums[l] += (d*yd)*float32(aux[l])
// per block (and Q4_K's sumf -= (dmin*yd)*float32(mins term), its integer
// part four VPDPWSSD of the S pairs against the min pairs for 16 tokens,
// KP4_MINS), then at the end sumf + sums[0] + ... + sums[7] token by
// token.
//
// Work area (kpWork bytes at R11):
//
//	512r        row r's block decoded (r < 4; Q6_K)
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

// KPREP is the body of the prep functions: SETUP loads the constants of
// CHUNK(C), which stores chunk C of the Q8_K block at AX from BX (token pair's
// area plus 32 for an odd token); the layout's offsets: DL the d lanes,
// PB the first token pair's area, PS a pair's stride, DV the pair's d
// vectors within it, BLK a block. ZL, TL, BL: the loops' labels.
#define KPREP(SETUP, CHUNK, DL, PB, PS, DV, BLK, ZL, TL, BL) \
	MOVQ      x+0(FP), SI           \
	MOVQ      nt+16(FP), R9         \
	MOVQ      nb+24(FP), R10        \
	MOVQ      dst+32(FP), DI        \
	SETUP                           \
	VMOVDQU32 kvVecIdx<>(SB), Z30   \
	MOVL      $0x0f, DX             \
	KMOVW     DX, K2                \
	VPTERNLOGD $0xff, Y29, Y29, Y29 \
	VPSRLW    $15, Y29, Y29         \
	VPXORD    X28, X28, X28         \
	VPXORD    Z1, Z1, Z1            \
	MOVQ      DI, BX                \
	MOVQ      R10, CX               \
ZL:                                 \
	VMOVDQU32 Z1, DL(BX)            \
	VMOVDQU32 Z1, PB+DV(BX)         \
	VMOVDQU32 Z1, PB+DV+PS(BX)      \
	VMOVDQU32 Z1, PB+DV+2*PS(BX)    \
	VMOVDQU32 Z1, PB+DV+3*PS(BX)    \
	VMOVDQU32 Z1, PB+DV+4*PS(BX)    \
	VMOVDQU32 Z1, PB+DV+5*PS(BX)    \
	VMOVDQU32 Z1, PB+DV+6*PS(BX)    \
	VMOVDQU32 Z1, PB+DV+7*PS(BX)    \
	ADDQ      $BLK, BX              \
	DECQ      CX                    \
	JNZ       ZL                    \
	XORQ      R8, R8                \
TL:                                 \
	MOVQ   SI, AX                   \
	MOVQ   R8, BX                   \
	SHRQ   $1, BX                   \
	IMUL3Q $PS, BX, BX              \
	LEAQ   PB(DI)(BX*1), BX         \
	MOVQ   R8, DX                   \
	ANDQ   $1, DX                   \
	SHLQ   $5, DX                   \
	ADDQ   DX, BX                   \
	LEAQ   (DI)(R8*4), DX           \
	MOVQ   R10, CX                  \
BL:                                 \
	CHUNK(0)                        \
	CHUNK(1)                        \
	CHUNK(2)                        \
	CHUNK(3)                        \
	CHUNK(4)                        \
	CHUNK(5)                        \
	CHUNK(6)                        \
	CHUNK(7)                        \
	VPBROADCASTD (AX), Y0           \
	VMOVDQU32    Y0, DV(BX)         \
	VMOVDQU32    260(AX), Y0        \
	VPMADDWD     Y29, Y0, Y0        \
	VPMOVSDW     Y0, X1             \
	VPMOVDW      Y0, X0             \
	VPXORD       X0, X1, X1         \
	VPORD        X1, X28, X28       \
	KMOVW        K2, K1             \
	VPSCATTERDD  Z0, K1, (DX)(Z30*1) \
	MOVL         (AX), R11          \
	MOVL         R11, DL(DX)        \
	ADDQ         $292, AX           \
	ADDQ         $BLK, BX           \
	ADDQ         $BLK, DX           \
	DECQ         CX                 \
	JNZ          BL                 \
	ADDQ xstride+8(FP), SI          \
	INCQ R8                         \
	CMPQ R8, R9                     \
	JLT  TL                         \
	VPTESTMD X28, X28, K1           \
	KORTESTW K1, K1                 \
	SETNE    wide+40(FP)            \
	VZEROUPPER                      \
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

// KP_ZACC clears the sixteen accumulators Z0..Z15.
#define KP_ZACC \
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
	VPXORD Z15, Z15, Z15

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
	KP_ZACC \
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
// token pairs 4G..4G+3, whose d vectors are at YB + YS*pair(DI).
#define KP_FLOAT(G, YB, YS) \
	KP_F(Z0, Z24, YB+4*YS*G+0*YS, 2816+256*G+0) \
	KP_F(Z1, Z24, YB+4*YS*G+1*YS, 2816+256*G+64) \
	KP_F(Z2, Z24, YB+4*YS*G+2*YS, 2816+256*G+128) \
	KP_F(Z3, Z24, YB+4*YS*G+3*YS, 2816+256*G+192) \
	KP_F(Z4, Z25, YB+4*YS*G+0*YS, 2816+256*G+512) \
	KP_F(Z5, Z25, YB+4*YS*G+1*YS, 2816+256*G+576) \
	KP_F(Z6, Z25, YB+4*YS*G+2*YS, 2816+256*G+640) \
	KP_F(Z7, Z25, YB+4*YS*G+3*YS, 2816+256*G+704) \
	KP_F(Z8, Z26, YB+4*YS*G+0*YS, 2816+256*G+1024) \
	KP_F(Z9, Z26, YB+4*YS*G+1*YS, 2816+256*G+1088) \
	KP_F(Z10, Z26, YB+4*YS*G+2*YS, 2816+256*G+1152) \
	KP_F(Z11, Z26, YB+4*YS*G+3*YS, 2816+256*G+1216) \
	KP_F(Z12, Z29, YB+4*YS*G+0*YS, 2816+256*G+1536) \
	KP_F(Z13, Z29, YB+4*YS*G+1*YS, 2816+256*G+1600) \
	KP_F(Z14, Z29, YB+4*YS*G+2*YS, 2816+256*G+1664) \
	KP_F(Z15, Z29, YB+4*YS*G+3*YS, 2816+256*G+1728)

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

// KP4_MINS is, for the four rows, sumf -= (dmin*yd)*float32(mins term),
// 16 tokens at a time: the S pairs in Z16..Z19 against the rows' min
// pairs, two chains per row (Z(r), Z(4+r)) added at the end (the term is
// exact in int32, so the order does not matter).
#define KP4_MINS(DL) \
	VMOVDQU32 0(DI), Z16 \
	VMOVDQU32 64(DI), Z17 \
	VMOVDQU32 128(DI), Z18 \
	VMOVDQU32 192(DI), Z19 \
	KP4_MIN(0, Z0, Z4) \
	KP4_MIN(1, Z1, Z5) \
	KP4_MIN(2, Z2, Z6) \
	KP4_MIN(3, Z3, Z7) \
	KP4_MINF(0, Z0, DL) \
	KP4_MINF(1, Z1, DL) \
	KP4_MINF(2, Z2, DL) \
	KP4_MINF(3, Z3, DL)

// KP4_MIN leaves row R's mins term for 16 tokens in A (B scratch).
#define KP4_MIN(R, A, B) \
	VPXORD        A, A, A                   \
	VPXORD        B, B, B                   \
	VPDPWSSD.BCST 2080+128*R(R11), Z16, A   \
	VPDPWSSD.BCST 2088+128*R(R11), Z18, B   \
	VPDPWSSD.BCST 2084+128*R(R11), Z17, A   \
	VPDPWSSD.BCST 2092+128*R(R11), Z19, B   \
	VPADDD        B, A, A

// KP4_MINF is row R's sumf -= (dmin*yd)*float32(A) for 16 tokens (their
// d lanes at DL(DI)).
#define KP4_MINF(R, A, DL) \
	VCVTDQ2PS    A, A                 \
	VBROADCASTSS 2564+8*R(R11), Z24   \
	VMULPS       DL(DI), Z24, Z24    \
	VMULPS       Z24, A, A            \
	VMOVUPS      4864+64*R(R11), Z25  \
	VSUBPS       A, Z25, Z25          \
	VMOVUPS      Z25, 4864+64*R(R11)

// The byte kernel (dotQ4_KByteAsm) keeps Q4_K's quants as bytes: a
// chunk's 32 bytes broadcast to both halves of a register and put in
// kbPerm's order (VPERMB), low nibbles the chunk's first sub-block, high
// nibbles its second; prepQ8KByteAsm puts the activations in the same
// order. VPMADDUBSW (quants unsigned, activations signed) adds the
// products of elements l, l+8 and l+16, l+24 into the int16 pair of
// dword l (|sum| <= 2*15*128: never saturates), and VPDPWSSD with the
// sub-block's (scale, scale) pair adds scale times both to lane l: the
// same lanes aux[l] as decoding the block to scale-multiplied int16 pairs
// (as the Q6_K kernel does) would give, without that decode: two
// instructions per row, token pair and sub-block either way.
//
// prepQ8KByteAsm's layout, per block b of kbPrepBlock bytes:
//
//	0+64k             the S pairs as in prepQ8KPairAsm
//	256               lane t: token t's d (float32)
//	320+576p          token pair p (tokens 2p, 2p+1), p < 8:
//	  +64c              chunk c in kbPerm's order, token 2p then 2p+1
//	  +512              d of token 2p eight times, then of token 2p+1
//
// The work area is dotQ6_KPairAsm's (the decoded blocks unused).

// KB_W loads the 32 quant bytes at ADDR (a chunk of one row) into both
// halves of L, puts them in kbPerm's order (Z31), and leaves the low
// nibbles in L, the high ones in H (Z30 0x0f bytes).
#define KB_W(ADDR, L, H) \
	VBROADCASTI64X4 ADDR, L  \
	VPERMB          L, Z31, L \
	VPSRLW          $4, L, H  \
	VPANDD          Z30, L, L \
	VPANDD          Z30, H, H

// KB_WBW is KB_W without VBMI: VPSHUFB (kvPerm in Z28) then VPERMW
// (kbWPerm in Z27).
#define KB_WBW(ADDR, L, H) \
	VBROADCASTI64X4 ADDR, L  \
	VPSHUFB         Z28, L, L \
	VPERMW          L, Z27, L \
	VPSRLW          $4, L, H  \
	VPANDD          Z30, L, L \
	VPANDD          Z30, H, H

// KB_PJ adds the token pair's sub-block at AOFF(DX) times the four rows'
// quants W0..W3 and their scale pairs at SOFF + 128r(R10) to A0..A3.
#define KB_PJ(AOFF, SOFF, W0, W1, W2, W3, A0, A1, A2, A3) \
	VMOVDQU32     AOFF(DX), Z24          \
	VPMADDUBSW    Z24, W0, Z25           \
	VPDPWSSD.BCST SOFF(R10), Z25, A0     \
	VPMADDUBSW    Z24, W1, Z26           \
	VPDPWSSD.BCST SOFF+128(R10), Z26, A1 \
	VPMADDUBSW    Z24, W2, Z25           \
	VPDPWSSD.BCST SOFF+256(R10), Z25, A2 \
	VPMADDUBSW    Z24, W3, Z26           \
	VPDPWSSD.BCST SOFF+384(R10), Z26, A3

// KB_DOT leaves in Z(4r+j) the lanes aux[l] of row r (SI + r*BX) against
// token pair 4G+j of the block at DI, chunk by chunk. Clobbers AX, DX,
// R8, R9, R10, Z16..Z26.
#define KB_DOT(G, LABEL, W) \
	KP_ZACC \
	LEAQ   16(SI), AX                 \
	LEAQ   (AX)(BX*2), R9             \
	LEAQ   320+2304*G(DI), DX         \
	LEAQ   2048(R11), R10             \
	MOVL   $4, R8                     \
LABEL:                                \
	W((AX), Z16, Z20)              \
	W((AX)(BX*1), Z17, Z21)        \
	W((R9), Z18, Z22)              \
	W((R9)(BX*1), Z19, Z23)        \
	KB_PJ(0, 0, Z16, Z17, Z18, Z19, Z0, Z4, Z8, Z12)    \
	KB_PJ(576, 0, Z16, Z17, Z18, Z19, Z1, Z5, Z9, Z13)  \
	KB_PJ(1152, 0, Z16, Z17, Z18, Z19, Z2, Z6, Z10, Z14) \
	KB_PJ(1728, 0, Z16, Z17, Z18, Z19, Z3, Z7, Z11, Z15) \
	KB_PJ(64, 4, Z20, Z21, Z22, Z23, Z0, Z4, Z8, Z12)   \
	KB_PJ(640, 4, Z20, Z21, Z22, Z23, Z1, Z5, Z9, Z13)  \
	KB_PJ(1216, 4, Z20, Z21, Z22, Z23, Z2, Z6, Z10, Z14) \
	KB_PJ(1792, 4, Z20, Z21, Z22, Z23, Z3, Z7, Z11, Z15) \
	ADDQ   $32, AX                    \
	ADDQ   $32, R9                    \
	ADDQ   $128, DX                   \
	ADDQ   $8, R10                    \
	DECL   R8                         \
	JNZ    LABEL

// KB4_ROW keeps row R's scales and mins (block at P) as int16 pairs and
// its d and dmin as float32.
#define KB4_ROW(P, R) \
	KV4_SCALES(P, 2048+128*R) \
	VCVTPH2PS (P), X20        \
	VMOVQ     X20, 2560+8*R(R11)

// KB4_KERNEL is the byte kernel with W (KB_W or KB_WBW) and its
// constants: SETUP loads them.
#define KB4_KERNEL(W, SETUP) \
	MOVQ            w+0(FP), R12 \
	MOVQ            nrows+16(FP), R13 \
	MOVQ            out+48(FP), R14 \
	MOVQ            work+64(FP), R11 \
	SETUP \
	VBROADCASTI64X4 kvBytes0F<>(SB), Z30 \
	MOVQ            nt+32(FP), AX \
	MOVQ            AX, 2600(R11) \
kb4row: \
	KP_ZERO(kb4zero) \
	MOVQ R12, SI \
	MOVQ x+24(FP), DI \
	MOVQ nb+40(FP), CX \
kb4block: \
	KP_PREFETCH(143, 143) \
	MOVQ stride+8(FP), BX \
	ADDQ SI, BX \
	KB4_ROW(SI, 0) \
	KB4_ROW(BX, 1) \
	ADDQ stride+8(FP), BX \
	KB4_ROW(BX, 2) \
	ADDQ stride+8(FP), BX \
	KB4_ROW(BX, 3) \
	KP4_MINS(256) \
	MOVQ stride+8(FP), BX \
	KB_DOT(0, kb4dot0, W) \
	KP_DS \
	KP_FLOAT(0, 832, 576) \
	CMPQ nt+32(FP), $8 \
	JLE  kb4one \
	KB_DOT(1, kb4dot1, W) \
	KP_DS \
	KP_FLOAT(1, 832, 576) \
kb4one: \
	ADDQ $144, SI \
	ADDQ $4928, DI \
	DECQ CX \
	JNZ  kb4block \
	MOVQ ostride+56(FP), R10 \
	SHLQ $2, R10 \
	KP_FINISH(0, KP_START4, kb4fin0) \
	KP_FINISH(1, KP_START4, kb4fin1) \
	KP_FINISH(2, KP_START4, kb4fin2) \
	KP_FINISH(3, KP_START4, kb4fin3) \
	MOVQ stride+8(FP), AX \
	LEAQ (R12)(AX*4), R12 \
	ADDQ $16, R14 \
	SUBQ $4, R13 \
	JNZ  kb4row \
	VZEROUPPER \
	RET

// KR_BEGIN starts a one-token kernel: R12 the weights, R13 the row count,
// R14 the output; SETUP's permutation constants, Z30 0x0f bytes, Z24..Z27
// the four VPERMD index vectors at IDX.
#define KR_BEGIN(SETUP, IDX) \
	MOVQ            w+0(FP), R12              \
	MOVQ            nrows+16(FP), R13         \
	MOVQ            out+40(FP), R14           \
	SETUP                                     \
	VBROADCASTI64X4 kvBytes0F<>(SB), Z30      \
	VMOVDQU64       IDX<>+0(SB), Z24          \
	VMOVDQU64       IDX<>+64(SB), Z25         \
	VMOVDQU64       IDX<>+128(SB), Z26        \
	VMOVDQU64       IDX<>+192(SB), Z27

// KR_FINISH writes START + sums[0] + ... + sums[7] (the lanes of Y10, in
// that order) to (R14) and moves R14 to the next float32. Clobbers X1,
// X10, START.
#define KR_FINISH(START) \
	VADDSS       X10, START, START  \
	VSHUFPS      $0x55, X10, X10, X1 \
	VADDSS       X1, START, START   \
	VSHUFPS      $0xaa, X10, X10, X1 \
	VADDSS       X1, START, START   \
	VSHUFPS      $0xff, X10, X10, X1 \
	VADDSS       X1, START, START   \
	VEXTRACTF128 $1, Y10, X10       \
	VADDSS       X10, START, START  \
	VSHUFPS      $0x55, X10, X10, X1 \
	VADDSS       X1, START, START   \
	VSHUFPS      $0xaa, X10, X10, X1 \
	VADDSS       X1, START, START   \
	VSHUFPS      $0xff, X10, X10, X1 \
	VADDSS       X1, START, START   \
	VMOVSS       START, (R14)       \
	ADDQ         $4, R14

// The Q6_K one-token kernel (dotQ6_KRowsAsm, dotQ6_KRowsBWAsm without
// VBMI) takes a block's two halves side by side, one per 32-byte half of
// a register: group g (32 elements, under scales 2g and 2g+1 of its half)
// of half 0 below, of half 1 above. Its ql, qh and activation bytes are
// put in kbPerm's order, the 6-bit quants (0..63) built with the qh bits
// on top, and VPMADDUBSW against the activations gives the int16 pair of
// dword l: elements l, l+8 (scale 2g) and l+16, l+24 (scale 2g+1); minus
// the same pairs of 32*y (prepared once per call), that is (q-32)*y,
// |pair| <= 2*32*128; VPDPWSSD with the (scale 2g, scale 2g+1) pair adds
// them to lane l (half 0) or 8+l (half 1), and the halves' lanes added
// are ggml's aux32[l]. The float steps are dotQ6_K's: sums[l] +=
// (d*yd)*aux[l] per block, then 0 + sums[0] + ... + sums[7].
//
// prepQ6KRowAsm's layout, per block of kr6Block bytes:
//
//	128g      the activations of group g, half 0 then half 1, each in
//	          kbPerm's order
//	128g+64   VPMADDUBSW of 32 against them (int16 pairs)
//	512       d (float32)

// KR6PREP_G lays out group G of the Q8_K block at SI at DI + 128G (Z31
// kvPerm, Z30 kbWPerm, Z29 0x20 bytes).
#define KR6PREP_G(G) \
	VMOVDQU32    4+32*G(SI), Y0            \
	VINSERTI64X4 $1, 132+32*G(SI), Z0, Z0  \
	VPSHUFB      Z31, Z0, Z0               \
	VPERMW       Z0, Z30, Z0               \
	VMOVDQU64    Z0, 128*G(DI)             \
	VPMADDUBSW   Z0, Z29, Z1               \
	VMOVDQU64    Z1, 128*G+64(DI)

// KR6_Q builds group G's quants in Q from the permuted ql register L
// (nibble G/2) and qh in Z2 (bits 2G): T scratch; Z30 0x0f bytes, Z29
// 0x30 bytes. Word shifts move bits across a word's bytes only where
// the masks drop them.
#define KR6_Q0(Q) \
	VPSLLW     $4, Z2, Q        \
	VPANDD     Z29, Q, Q        \
	VPTERNLOGD $0xf8, Z30, Z3, Q

#define KR6_Q1(Q) \
	VPSLLW     $2, Z2, Q        \
	VPANDD     Z29, Q, Q        \
	VPTERNLOGD $0xf8, Z30, Z4, Q

#define KR6_Q2(Q, T) \
	VPANDD     Z29, Z2, Q       \
	VPSRLW     $4, Z3, T        \
	VPTERNLOGD $0xf8, Z30, T, Q

#define KR6_Q3(Q, T) \
	VPSRLW     $2, Z2, Q        \
	VPANDD     Z29, Q, Q        \
	VPSRLW     $4, Z4, T        \
	VPTERNLOGD $0xf8, Z30, T, Q

// KR6_DOT adds group G's (q-32)*y pairs (quants in Q) times its scale
// pairs (VPERMD of the scales in Z6 by IDX) to ACC. P, S scratch.
#define KR6_DOT(G, Q, IDX, ACC, P, S) \
	VPERMD     Z6, IDX, S           \
	VPMADDUBSW 128*G(DI), Q, P      \
	VPSUBW     128*G+64(DI), P, P   \
	VPDPWSSD   S, P, ACC

#define KR_PERM(R) \
	VPERMB R, Z31, R

#define KR_PERMBW(R) \
	VPSHUFB Z31, R, R \
	VPERMW  R, Z28, R

// KR6_KERNEL is the kernel with PERM (KR_PERM or KR_PERMBW), whose
// constants SETUP loads.
#define KR6_KERNEL(PERM, SETUP) \
	KR_BEGIN(SETUP, kr6Idx)                   \
	VBROADCASTI64X4 kvBytes30<>(SB), Z29      \
kr6row:                                       \
	MOVQ            R12, SI                   \
	MOVQ            x+24(FP), DI              \
	MOVQ            nb+32(FP), CX             \
	VXORPS          Y10, Y10, Y10             \
kr6block:                                     \
	PREFETCHT0      2048(SI)                  \
	PREFETCHT0      2112(SI)                  \
	PREFETCHT0      2176(SI)                  \
	PREFETCHT0      2240(SI)                  \
	VMOVDQU64       0(SI), Z0                 \
	VMOVDQU64       64(SI), Z1                \
	VMOVDQU64       128(SI), Z2               \
	VSHUFI64X2      $0x44, Z1, Z0, Z3         \
	VSHUFI64X2      $0xee, Z1, Z0, Z4         \
	PERM(Z3)                                  \
	PERM(Z4)                                  \
	PERM(Z2)                                  \
	VPMOVSXBW       192(SI), Y6               \
	KR6_Q0(Z5)                                \
	KR6_Q1(Z7)                                \
	KR6_Q2(Z8, Z0)                            \
	KR6_Q3(Z9, Z1)                            \
	VPXORD          Z11, Z11, Z11             \
	VPXORD          Z12, Z12, Z12             \
	KR6_DOT(0, Z5, Z24, Z11, Z13, Z14)        \
	KR6_DOT(1, Z7, Z25, Z12, Z15, Z16)        \
	KR6_DOT(2, Z8, Z26, Z11, Z13, Z14)        \
	KR6_DOT(3, Z9, Z27, Z12, Z15, Z16)        \
	VPADDD          Z12, Z11, Z11             \
	VEXTRACTI64X4   $1, Z11, Y12              \
	VPADDD          Y12, Y11, Y11             \
	MOVWLZX         208(SI), AX               \
	VMOVD           AX, X13                   \
	VCVTPH2PS       X13, X13                  \
	VMULSS          512(DI), X13, X13         \
	VBROADCASTSS    X13, Y13                  \
	VCVTDQ2PS       Y11, Y11                  \
	VMULPS          Y11, Y13, Y11             \
	VADDPS          Y11, Y10, Y10             \
	ADDQ            $210, SI                  \
	ADDQ            $576, DI                  \
	DECQ            CX                        \
	JNZ             kr6block                  \
	VXORPS          X0, X0, X0                \
	KR_FINISH(X0)                             \
	ADDQ            stride+8(FP), R12         \
	DECQ            R13                       \
	JNZ             kr6row                    \
	VZEROUPPER                                \
	RET

#define KR_SETUP \
	VMOVDQU64 kbPerm<>(SB), Z31

#define KR_SETUPBW \
	VBROADCASTI64X4 kvPerm<>(SB), Z31 \
	VMOVDQU64       kbWPerm<>(SB), Z28

// The Q4_K one-token kernel (dotQ4_KRowsAsm, dotQ4_KRowsBWAsm without
// VBMI) takes two chunks of a block per register: the quant bytes of
// chunks 0, 1 (and 2, 3) in kbPerm's order, their low nibbles sub-blocks
// 0 and 2 (4 and 6), the high ones 1 and 3 (5 and 7), each against the
// activations prepQ4KRowAsm laid out the same way: VPMADDUBSW gives the
// int16 pairs (elements l, l+8 and l+16, l+24 of a sub-block), VPDPWSSD
// with the (scale, scale) pair adds them to lane l of its half, and the
// halves added are ggml's aux32[l]. The mins term is VPMADDWD of the
// sixteen bsums against the (min, min) pairs, summed: exact in int32 for
// any bytes. The float steps are dotQ4_K's: sums[l] += (d*yd)*aux[l] and
// sumf -= (dmin*yd)*sumi per block, then sumf + sums[0] + ... + sums[7].
//
// prepQ4KRowAsm's layout, per block of kr4Block bytes:
//
//	64k       the activations of sub-blocks (0, 2), (1, 3), (4, 6),
//	          (5, 7) for k = 0..3, each 32 in kbPerm's order
//	256       d (float32)
//	288       the sixteen bsums (int16)

// KR4PREP_K lays out sub-blocks A and B of the Q8_K block at SI at
// DI + 64K (Z31 kvPerm, Z30 kbWPerm).
#define KR4PREP_K(K, A, B) \
	VMOVDQU32    4+32*A(SI), Y0            \
	VINSERTI64X4 $1, 4+32*B(SI), Z0, Z0    \
	VPSHUFB      Z31, Z0, Z0               \
	VPERMW       Z0, Z30, Z0               \
	VMOVDQU64    Z0, 64*K(DI)

// KR4_PAIRS makes int16 pairs (the byte twice) of the eight bytes of R in
// the dwords of Y. T scratch.
#define KR4_PAIRS(R, Y, X, T) \
	VMOVQ     R, X       \
	VPMOVZXBD X, Y       \
	VPSLLD    $16, Y, T  \
	VPORD     T, Y, Y

// KR4_DOT adds sub-blocks' quants Q times the activations at 64K(DI),
// times their scale pairs (VPERMD of Z6 by IDX), to ACC. P, S scratch.
#define KR4_DOT(K, Q, IDX, ACC, P, S) \
	VPERMD     Z6, IDX, S      \
	VPMADDUBSW 64*K(DI), Q, P  \
	VPDPWSSD   S, P, ACC

// KR4_KERNEL is the kernel with PERM (KR_PERM or KR_PERMBW), whose
// constants SETUP loads. X15 holds sumf.
#define KR4_KERNEL(PERM, SETUP) \
	KR_BEGIN(SETUP, kr4Idx)                   \
kr4row:                                       \
	MOVQ            R12, SI                   \
	MOVQ            x+24(FP), DI              \
	MOVQ            nb+32(FP), CX             \
	VXORPS          Y10, Y10, Y10             \
	VXORPS          X15, X15, X15             \
kr4block:                                     \
	PREFETCHT0      2048(SI)                  \
	PREFETCHT0      2112(SI)                  \
	PREFETCHT0      2176(SI)                  \
	VMOVDQU64       16(SI), Z0                \
	VMOVDQU64       80(SI), Z1                \
	PERM(Z0)                                  \
	PERM(Z1)                                  \
	VPSRLW          $4, Z0, Z2                \
	VPANDD          Z30, Z0, Z0               \
	VPANDD          Z30, Z2, Z2               \
	VPSRLW          $4, Z1, Z3                \
	VPANDD          Z30, Z1, Z1               \
	VPANDD          Z30, Z3, Z3               \
	KV4_SCALEBYTES(SI)                        \
	KR4_PAIRS(R8, Y6, X6, Y7)                 \
	KR4_PAIRS(R10, Y8, X8, Y9)                \
	VPXORD          Z11, Z11, Z11             \
	VPXORD          Z12, Z12, Z12             \
	KR4_DOT(0, Z0, Z24, Z11, Z13, Z14)        \
	KR4_DOT(1, Z2, Z25, Z12, Z16, Z17)        \
	KR4_DOT(2, Z1, Z26, Z11, Z13, Z14)        \
	KR4_DOT(3, Z3, Z27, Z12, Z16, Z17)        \
	VPMADDWD        288(DI), Y8, Y8           \
	VEXTRACTI128    $1, Y8, X9                \
	VPADDD          X9, X8, X8                \
	VPSHUFD         $0x4e, X8, X9             \
	VPADDD          X9, X8, X8                \
	VPSHUFD         $0xb1, X8, X9             \
	VPADDD          X9, X8, X8                \
	VCVTDQ2PS       X8, X8                    \
	VPADDD          Z12, Z11, Z11             \
	VEXTRACTI64X4   $1, Z11, Y12              \
	VPADDD          Y12, Y11, Y11             \
	VCVTPH2PS       (SI), X13                 \
	VBROADCASTSS    256(DI), X14              \
	VMULPS          X14, X13, X13             \
	VBROADCASTSS    X13, Y14                  \
	VCVTDQ2PS       Y11, Y11                  \
	VMULPS          Y11, Y14, Y11             \
	VADDPS          Y11, Y10, Y10             \
	VMOVSHDUP       X13, X13                  \
	VMULSS          X8, X13, X13              \
	VSUBSS          X13, X15, X15             \
	ADDQ            $144, SI                  \
	ADDQ            $320, DI                  \
	DECQ            CX                        \
	JNZ             kr4block                  \
	KR_FINISH(X15)                            \
	ADDQ            stride+8(FP), R12         \
	DECQ            R13                       \
	JNZ             kr4row                    \
	VZEROUPPER                                \
	RET

// KB_SETUP: kbPerm in Z31 for VPERMB.
#define KB_SETUP \
	VMOVDQU64       kbPerm<>(SB), Z31

// KB_SETUPBW: kvPerm in Z28 and kbWPerm in Z27 for VPSHUFB, VPERMW.
#define KB_SETUPBW \
	VBROADCASTI64X4 kvPerm<>(SB), Z28 \
	VMOVDQU64       kbWPerm<>(SB), Z27

// func dotQ4_KByteAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
TEXT ·dotQ4_KByteAsm(SB), NOSPLIT, $0-72
	KB4_KERNEL(KB_W, KB_SETUP)

// func dotQ4_KByteBWAsm(w *byte, stride, nrows int, x *byte, nt, nb int, out *float32, ostride int, work *byte)
TEXT ·dotQ4_KByteBWAsm(SB), NOSPLIT, $0-72
	KB4_KERNEL(KB_WBW, KB_SETUPBW)

// func dotQ4_KRowsAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)
TEXT ·dotQ4_KRowsAsm(SB), NOSPLIT, $0-48
	KR4_KERNEL(KR_PERM, KR_SETUP)

// func dotQ4_KRowsBWAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)
TEXT ·dotQ4_KRowsBWAsm(SB), NOSPLIT, $0-48
	KR4_KERNEL(KR_PERMBW, KR_SETUPBW)

// func dotQ6_KRowsAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)
TEXT ·dotQ6_KRowsAsm(SB), NOSPLIT, $0-48
	KR6_KERNEL(KR_PERM, KR_SETUP)

// func dotQ6_KRowsBWAsm(w *byte, stride, nrows int, x *byte, nb int, out *float32)
TEXT ·dotQ6_KRowsBWAsm(SB), NOSPLIT, $0-48
	KR6_KERNEL(KR_PERMBW, KR_SETUPBW)

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
	KP_FLOAT(0, 1600, 1088)
	CMPQ nt+32(FP), $8
	JLE  kp6one
	KP_DOT(1, kp6dot1)
	KP_FLOAT(1, 1600, 1088)

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

// Both prep functions: Y29 int16 ones (all bits, then 1) for S(j) =
// bsums 2j + 2j+1 (VPMADDWD), saturated and truncated to int16; X28
// collects the S(j) that are not int16s (they differ). Every d past the
// nt tokens is zero (see prepQ8KPairAsm's doc).

#define KPPREP_SETUP \
	VMOVDQU32 kvPerm<>(SB), Y31

// func prepQ8KPairAsm(x *byte, xstride, nt, nb int, dst *byte) (wide bool)
TEXT ·prepQ8KPairAsm(SB), NOSPLIT, $0-41
	KPREP(KPPREP_SETUP, KPPREP_CHUNK, 512, 576, 1088, 1024, 9280, kpprepZero, kpprepTok, kpprepBlock)

// KBPREP_CHUNK stores chunk C of the Q8_K block at AX, its bytes in
// kbPerm's order (VPSHUFB with kvPerm in Y31, VPERMW with kbWPerm in
// Y27: no VBMI needed), at BX + 64C.
#define KBPREP_CHUNK(C) \
	VMOVDQU32 4+32*C(AX), Y0   \
	VPSHUFB   Y31, Y0, Y0      \
	VPERMW    Y0, Y27, Y0      \
	VMOVDQU32 Y0, 64*C(BX)

#define KBPREP_SETUP \
	VMOVDQU32 kvPerm<>(SB), Y31 \
	VMOVDQU32 kbWPerm<>(SB), Y27

// func prepQ8KByteAsm(x *byte, xstride, nt, nb int, dst *byte) (wide bool)
TEXT ·prepQ8KByteAsm(SB), NOSPLIT, $0-41
	KPREP(KBPREP_SETUP, KBPREP_CHUNK, 256, 320, 576, 512, 4928, kbprepZero, kbprepTok, kbprepBlock)

// func prepQ6KRowAsm(x *byte, nb int, dst *byte)
TEXT ·prepQ6KRowAsm(SB), NOSPLIT, $0-24
	MOVQ            x+0(FP), SI
	MOVQ            nb+8(FP), CX
	MOVQ            dst+16(FP), DI
	VBROADCASTI64X4 kvPerm<>(SB), Z31
	VMOVDQU64       kbWPerm<>(SB), Z30
	VBROADCASTI64X4 kvBytes20<>(SB), Z29

kr6prep:
	KR6PREP_G(0)
	KR6PREP_G(1)
	KR6PREP_G(2)
	KR6PREP_G(3)
	MOVL (SI), AX
	MOVL AX, 512(DI)
	ADDQ $292, SI
	ADDQ $576, DI
	DECQ CX
	JNZ  kr6prep
	VZEROUPPER
	RET

// func prepQ4KRowAsm(x *byte, nb int, dst *byte)
TEXT ·prepQ4KRowAsm(SB), NOSPLIT, $0-24
	MOVQ            x+0(FP), SI
	MOVQ            nb+8(FP), CX
	MOVQ            dst+16(FP), DI
	VBROADCASTI64X4 kvPerm<>(SB), Z31
	VMOVDQU64       kbWPerm<>(SB), Z30

kr4prep:
	KR4PREP_K(0, 0, 2)
	KR4PREP_K(1, 1, 3)
	KR4PREP_K(2, 4, 6)
	KR4PREP_K(3, 5, 7)
	MOVL      (SI), AX
	MOVL      AX, 256(DI)
	VMOVDQU32 260(SI), Y0
	VMOVDQU32 Y0, 288(DI)
	ADDQ      $292, SI
	ADDQ      $320, DI
	DECQ      CX
	JNZ       kr4prep
	VZEROUPPER
	RET
