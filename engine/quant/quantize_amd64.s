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

// func quantQ8_KAsm(dst *byte, src *float32, nb int) int
// quantQ8_K for nb >= 1 blocks of 256 floats at src into 292-byte Q8_K
// blocks at dst, up to the first block that is all zeros, holds an
// infinity or a NaN, or whose scale -127/max overflows (max below about
// 3.7e-37), which it leaves to the Go code: it returns the number of
// blocks done. Steps, as the Go code: amax = the largest |x| (integer
// order of the bits, as quantQ8_0Asm), max = the first x with |x| = amax,
// iscale = -127/max, q = min(127, nearest(iscale*x)) where VROUNDPS $0
// is nearestInt's rounding (ties to even) for these |iscale*x| <= 127,
// bsums of 16 quants through VPSADBW of q+128, d = 1/iscale.
TEXT ·quantQ8_KAsm(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         nb+16(FP), CX
	XORQ         R8, R8
	VPBROADCASTD absMask<>(SB), Y15
	VMOVDQU      packPerm<>(SB), Y14
	VPBROADCASTD int127<>(SB), Y13
	VPBROADCASTD qbytes80<>(SB), Y12
	VPXOR        Y11, Y11, Y11

q8_kloop:
	// amax, as bits, over the 32 groups of eight.
	VPAND   (SI), Y15, Y0
	MOVQ    $32, R9
	XORQ    R10, R10

q8_kmax:
	VPAND   (SI)(R10*1), Y15, Y1
	VPMAXSD Y1, Y0, Y0
	ADDQ    $32, R10
	DECQ    R9
	JNZ     q8_kmax
	VEXTRACTI128 $1, Y0, X1
	VPMAXSD      X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPMAXSD      X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPMAXSD      X1, X0, X0
	VMOVD        X0, AX
	TESTL        AX, AX
	JZ           q8_kdone            // all zeros: the Go code's
	CMPL         AX, $0x7f800000
	JAE          q8_kdone            // an infinity or a NaN: the Go code's

	// max: the first x whose |x| has amax's bits.
	VPBROADCASTD X0, Y0
	XORQ         R10, R10

q8_kfind:
	VPAND     (SI)(R10*4), Y15, Y1
	VPCMPEQD  Y0, Y1, Y1
	VMOVMSKPS Y1, AX
	TESTL     AX, AX
	JNZ       q8_kfound
	ADDQ      $8, R10
	JMP       q8_kfind

q8_kfound:
	BSFL      AX, AX
	ADDQ      AX, R10
	MOVSS     (SI)(R10*4), X1        // max
	MOVL      $0xc2fe0000, AX        // -127.0
	VMOVD     AX, X2
	VDIVSS    X1, X2, X2             // iscale = -127/max
	VMOVD     X2, AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       q8_kdone               // iscale overflowed: the Go code's
	MOVL      $0x3f800000, AX        // 1.0
	VMOVD     AX, X3
	VDIVSS    X2, X3, X3             // d = 1/iscale
	VMOVSS    X3, (DI)
	VBROADCASTSS X2, Y2

	// Quants, 32 at a time, and their bsums, 16 at a time.
	XORQ R10, R10                    // float offset, bytes
	XORQ R11, R11                    // quant offset

q8_kquant:
	VMULPS     (SI)(R10*1), Y2, Y4
	VMULPS     32(SI)(R10*1), Y2, Y5
	VMULPS     64(SI)(R10*1), Y2, Y6
	VMULPS     96(SI)(R10*1), Y2, Y7
	VROUNDPS   $0, Y4, Y4
	VROUNDPS   $0, Y5, Y5
	VROUNDPS   $0, Y6, Y6
	VROUNDPS   $0, Y7, Y7
	VCVTPS2DQ  Y4, Y4
	VCVTPS2DQ  Y5, Y5
	VCVTPS2DQ  Y6, Y6
	VCVTPS2DQ  Y7, Y7
	VPMINSD    Y13, Y4, Y4
	VPMINSD    Y13, Y5, Y5
	VPMINSD    Y13, Y6, Y6
	VPMINSD    Y13, Y7, Y7
	VPACKSSDW  Y5, Y4, Y4
	VPACKSSDW  Y7, Y6, Y6
	VPACKSSWB  Y6, Y4, Y4
	VPERMD     Y4, Y14, Y4
	VMOVDQU    Y4, 4(DI)(R11*1)
	// bsums: VPSADBW of q+128 against zero sums eight bytes per qword;
	// two qwords make sixteen quants, less 16*128.
	VPXOR      Y12, Y4, Y5
	VPSADBW    Y11, Y5, Y5
	VPSHUFD    $0x4e, Y5, Y6
	VPADDQ     Y6, Y5, Y5            // qwords 0 and 2: the two sums
	VMOVQ      X5, AX
	SUBL       $2048, AX
	MOVQ       R11, BX
	SHRQ       $3, BX                // bsum offset: 2 bytes per 16 quants
	MOVW       AX, 260(DI)(BX*1)
	VEXTRACTI128 $1, Y5, X6
	VMOVQ      X6, AX
	SUBL       $2048, AX
	MOVW       AX, 262(DI)(BX*1)
	ADDQ       $128, R10
	ADDQ       $32, R11
	CMPQ       R11, $256
	JLT        q8_kquant

	ADDQ $1024, SI
	ADDQ $292, DI
	INCQ R8
	DECQ CX
	JNZ  q8_kloop

q8_kdone:
	VZEROUPPER
	MOVQ R8, ret+24(FP)
	RET

DATA int127<>+0x00(SB)/4, $127
GLOBL int127<>(SB), RODATA|NOPTR, $4

DATA qbytes80<>+0x00(SB)/4, $0x80808080
GLOBL qbytes80<>(SB), RODATA|NOPTR, $4
