//go:build amd64 && !purego

#include "textflag.h"

// func statsExtremesAVX2(v *float32, n int, out *extremes)
// The order-free part of ComputeStats over n >= 0 float32s at v, eight
// lanes at a time (the last group masked): per lane the min, max and
// largest |x| of the finite elements (the others, and masked lanes,
// become NaN, which VMINPS/VMAXPS pass over when the accumulator is the
// second operand; for two zeros they keep the accumulator, so the sign
// of a zero extreme is settled in Go from the counts), and counts of the
// finite elements, NaNs, zeros and negative zeros. Go combines the lanes.
TEXT ·statsExtremesAVX2(SB), NOSPLIT, $0-24
	MOVQ         v+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVQ         out+16(FP), DI
	VPBROADCASTD stc<>+0x00(SB), Y15  // 0x7f800000: the exponent
	VPBROADCASTD stc<>+0x08(SB), Y13  // 0x7fffffff: |x|
	VPXOR        Y14, Y14, Y14        // 0
	VPBROADCASTD stc<>+0x10(SB), Y0   // min: +Inf
	VPBROADCASTD stc<>+0x14(SB), Y1   // max: -Inf
	VXORPS       Y2, Y2, Y2           // largest |x|
	VPXOR        Y3, Y3, Y3           // finite
	VPXOR        Y4, Y4, Y4           // NaN
	VPXOR        Y5, Y5, Y5           // zeros
	VPXOR        Y6, Y6, Y6           // negative zeros

stxloop:
	CMPQ CX, $0
	JLE  stxdone
	CMPQ CX, $8
	JGE  stxfull
	// The last group: lanes below the count are valid.
	VMOVD        CX, X8
	VPBROADCASTD X8, Y8
	VMOVDQU      stlanes<>(SB), Y9
	VPCMPGTD     Y9, Y8, Y8           // valid: count > lane
	VMASKMOVPS   (SI), Y8, Y9         // the others read as 0
	MOVQ         $8, CX               // the last group
	JMP          stxgroup

stxfull:
	VPCMPEQD Y8, Y8, Y8               // all lanes valid
	VMOVUPS  (SI), Y9

stxgroup:
	VPAND    Y15, Y9, Y10
	VPCMPEQD Y15, Y10, Y10            // exponent all ones: not finite
	VPANDN   Y8, Y10, Y11             // finite: valid &^ not finite
	VPSUBD   Y11, Y3, Y3
	VPAND    Y13, Y9, Y12
	VPCMPGTD Y15, Y12, Y12            // |bits| > 0x7f800000: NaN
	VPAND    Y8, Y12, Y12
	VPSUBD   Y12, Y4, Y4
	// The finite values, all-ones bits (a NaN) elsewhere: VMINPS and
	// VMAXPS with the accumulator as second operand keep it for a NaN.
	VPCMPEQD Y10, Y10, Y10
	VPXOR    Y11, Y10, Y10
	VPAND    Y11, Y9, Y9
	VPOR     Y10, Y9, Y9
	VMINPS   Y0, Y9, Y0
	VMAXPS   Y1, Y9, Y1
	VANDPS   Y13, Y9, Y10
	VMAXPS   Y2, Y10, Y2
	VPCMPEQD Y14, Y10, Y10            // |bits| == 0: a zero (NaN lanes are not)
	VPSUBD   Y10, Y5, Y5
	VPCMPEQD stcneg0<>(SB), Y9, Y10   // bits == 0x80000000: -0
	VPSUBD   Y10, Y6, Y6
	ADDQ     $32, SI
	SUBQ     $8, CX
	JMP      stxloop

stxdone:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VMOVDQU Y4, 128(DI)
	VMOVDQU Y5, 160(DI)
	VMOVDQU Y6, 192(DI)
	VZEROUPPER
	RET

// func statsSumsAVX(v *float32, n int, acc *[2]float64)
// acc[0] += x and acc[1] += x*x over the finite x of the n >= 0 float32s
// at v, in element order (the non-finite are skipped), in float64:
// ComputeStats's chains with the same operations (VMULSD then VADDSD: Go
// does not fuse them on amd64). VCVTSS2SD merges the upper lanes of X15,
// a constant, so no chain runs through X1.
TEXT ·statsSumsAVX(SB), NOSPLIT, $0-24
	MOVQ   v+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   acc+16(FP), DI
	MOVSD  0(DI), X0
	MOVSD  8(DI), X3
	VXORPD X15, X15, X15
	TESTQ  CX, CX
	JZ     stsdone

stsloop:
	MOVL      (SI), AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       stsskip
	VCVTSS2SD (SI), X15, X1
	VADDSD    X1, X0, X0
	VMULSD    X1, X1, X2
	VADDSD    X2, X3, X3

stsskip:
	ADDQ $4, SI
	DECQ CX
	JNZ  stsloop

stsdone:
	MOVSD X0, 0(DI)
	MOVSD X3, 8(DI)
	RET

// func statsSums2AVX(a, b *float32, n int, accA, accB *[2]float64)
// statsSumsAVX over n elements of a and of b at once: four independent
// chains, so the additions of the two vectors overlap.
TEXT ·statsSums2AVX(SB), NOSPLIT, $0-40
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DX
	MOVQ   n+16(FP), CX
	MOVQ   accA+24(FP), DI
	MOVQ   accB+32(FP), R8
	MOVSD  0(DI), X0
	MOVSD  8(DI), X3
	MOVSD  0(R8), X4
	MOVSD  8(R8), X7
	VXORPD X15, X15, X15
	TESTQ  CX, CX
	JZ     sts2done

sts2loop:
	MOVL      (SI), AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       sts2skipa
	VCVTSS2SD (SI), X15, X1
	VADDSD    X1, X0, X0
	VMULSD    X1, X1, X2
	VADDSD    X2, X3, X3

sts2skipa:
	MOVL      (DX), AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       sts2skipb
	VCVTSS2SD (DX), X15, X5
	VADDSD    X5, X4, X4
	VMULSD    X5, X5, X6
	VADDSD    X6, X7, X7

sts2skipb:
	ADDQ $4, SI
	ADDQ $4, DX
	DECQ CX
	JNZ  sts2loop

sts2done:
	MOVSD X0, 0(DI)
	MOVSD X3, 8(DI)
	MOVSD X4, 0(R8)
	MOVSD X7, 8(R8)
	RET

// func statsDevAVX(v *float32, n int, mean float64, dev *float64)
// *dev += (x-mean)*(x-mean) over the finite x in element order.
TEXT ·statsDevAVX(SB), NOSPLIT, $0-32
	MOVQ   v+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVSD  mean+16(FP), X4
	MOVQ   dev+24(FP), DI
	MOVSD  0(DI), X0
	VXORPD X15, X15, X15
	TESTQ  CX, CX
	JZ     stddone

stdloop:
	MOVL      (SI), AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       stdskip
	VCVTSS2SD (SI), X15, X1
	VSUBSD    X4, X1, X1
	VMULSD    X1, X1, X1
	VADDSD    X1, X0, X0

stdskip:
	ADDQ $4, SI
	DECQ CX
	JNZ  stdloop

stddone:
	MOVSD X0, 0(DI)
	RET

// func statsDev2AVX(a, b *float32, n int, meanA, meanB float64, devA, devB *float64)
// statsDevAVX over n elements of a and of b at once.
TEXT ·statsDev2AVX(SB), NOSPLIT, $0-56
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DX
	MOVQ   n+16(FP), CX
	MOVSD  meanA+24(FP), X4
	MOVSD  meanB+32(FP), X5
	MOVQ   devA+40(FP), DI
	MOVQ   devB+48(FP), R8
	MOVSD  0(DI), X0
	MOVSD  0(R8), X3
	VXORPD X15, X15, X15
	TESTQ  CX, CX
	JZ     std2done

std2loop:
	MOVL      (SI), AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       std2skipa
	VCVTSS2SD (SI), X15, X1
	VSUBSD    X4, X1, X1
	VMULSD    X1, X1, X1
	VADDSD    X1, X0, X0

std2skipa:
	MOVL      (DX), AX
	ANDL      $0x7f800000, AX
	CMPL      AX, $0x7f800000
	JEQ       std2skipb
	VCVTSS2SD (DX), X15, X2
	VSUBSD    X5, X2, X2
	VMULSD    X2, X2, X2
	VADDSD    X2, X3, X3

std2skipb:
	ADDQ $4, SI
	ADDQ $4, DX
	DECQ CX
	JNZ  std2loop

std2done:
	MOVSD X0, 0(DI)
	MOVSD X3, 0(R8)
	RET

DATA stc<>+0x00(SB)/4, $0x7f800000
DATA stc<>+0x04(SB)/4, $0x007fffff
DATA stc<>+0x08(SB)/4, $0x7fffffff
DATA stc<>+0x0c(SB)/4, $0x80000000
DATA stc<>+0x10(SB)/4, $0x7f800000
DATA stc<>+0x14(SB)/4, $0xff800000
GLOBL stc<>(SB), RODATA|NOPTR, $24

DATA stcneg0<>+0x00(SB)/8, $0x8000000080000000
DATA stcneg0<>+0x08(SB)/8, $0x8000000080000000
DATA stcneg0<>+0x10(SB)/8, $0x8000000080000000
DATA stcneg0<>+0x18(SB)/8, $0x8000000080000000
GLOBL stcneg0<>(SB), RODATA|NOPTR, $32

DATA stlanes<>+0x00(SB)/8, $0x0000000100000000
DATA stlanes<>+0x08(SB)/8, $0x0000000300000002
DATA stlanes<>+0x10(SB)/8, $0x0000000500000004
DATA stlanes<>+0x18(SB)/8, $0x0000000700000006
GLOBL stlanes<>(SB), RODATA|NOPTR, $32
