//go:build amd64 && !purego

#include "textflag.h"

// func quantQ8_0Asm(dst *byte, src *float32, nb int) int
// quantQ8_0x86 for nb >= 1 blocks of 32 floats at src into 34-byte Q8_0
// blocks at dst, up to the first block holding an infinity or a NaN,
// which it leaves to the Go code: it returns the number of blocks done.
// For finite values the steps are the Go code's: amax as the largest
// |x| (for non-negative finite floats the integer order of the bits is
// the float order, and VPMAXSD also shows a non-finite block: its bits
// are >= 0x7f800000), d = amax/127 to fp16 with VCVTPS2PH (nearest even,
// as fp32ToFP16F16C), id = 127/amax (0 for amax = 0), x*id rounded to
// nearest even (VROUNDPS $0), VCVTPS2DQ, then the signed saturations to
// int16 and int8 (VPACKSSDW, VPACKSSWB) and VPERMD to undo their
// 128-bit lane interleave, as ggml's AVX2 quantize_row_q8_0.
TEXT ·quantQ8_0Asm(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         nb+16(FP), CX
	XORQ         R8, R8
	VPBROADCASTD absMask<>(SB), Y15
	VMOVDQU      packPerm<>(SB), Y14
	MOVL         $0x42fe0000, AX     // 127.0
	VMOVD        AX, X13

q8_0qloop:
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VPAND        Y15, Y0, Y4
	VPAND        Y15, Y1, Y5
	VPAND        Y15, Y2, Y6
	VPAND        Y15, Y3, Y7
	VPMAXSD      Y5, Y4, Y4
	VPMAXSD      Y7, Y6, Y6
	VPMAXSD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPMAXSD      X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPMAXSD      X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPMAXSD      X5, X4, X4          // lane 0: the bits of amax
	VMOVD        X4, AX
	CMPL         AX, $0x7f800000
	JAE          q8_0qdone           // an infinity or a NaN: the Go code's

	VDIVSS       X13, X4, X5         // d = amax / 127
	VCVTPS2PH    $0, X5, X6
	VPEXTRW      $0, X6, BX
	MOVW         BX, (DI)
	VXORPS       X7, X7, X7
	TESTL        AX, AX
	JZ           q8_0qzero
	VDIVSS       X4, X13, X7         // id = 127 / amax

q8_0qzero:
	VBROADCASTSS X7, Y7
	VMULPS       Y7, Y0, Y0
	VMULPS       Y7, Y1, Y1
	VMULPS       Y7, Y2, Y2
	VMULPS       Y7, Y3, Y3
	VROUNDPS     $0, Y0, Y0
	VROUNDPS     $0, Y1, Y1
	VROUNDPS     $0, Y2, Y2
	VROUNDPS     $0, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y14, Y0
	VMOVDQU      Y0, 2(DI)
	ADDQ         $128, SI
	ADDQ         $34, DI
	INCQ         R8
	DECQ         CX
	JNZ          q8_0qloop

q8_0qdone:
	VZEROUPPER
	MOVQ R8, ret+24(FP)
	RET

DATA absMask<>+0x00(SB)/4, $0x7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $4

// packPerm puts the eight dwords of VPACKSSWB's result in order: the packs
// work within 128-bit lanes (ggml's _mm256_permutevar8x32_epi32 with
// 0, 4, 1, 5, 2, 6, 3, 7).
DATA packPerm<>+0x00(SB)/4, $0
DATA packPerm<>+0x04(SB)/4, $4
DATA packPerm<>+0x08(SB)/4, $1
DATA packPerm<>+0x0c(SB)/4, $5
DATA packPerm<>+0x10(SB)/4, $2
DATA packPerm<>+0x14(SB)/4, $6
DATA packPerm<>+0x18(SB)/4, $3
DATA packPerm<>+0x1c(SB)/4, $7
GLOBL packPerm<>(SB), RODATA|NOPTR, $32
