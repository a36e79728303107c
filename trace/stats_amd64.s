//go:build amd64 && !purego

#include "textflag.h"

// SX_STORE writes the extremes kernels' lanes (Y0 min, Y1 max, Y2
// largest |x|, Y3..Y6 the finite, NaN, zero and negative zero counts) to
// the extremes at DI, and returns.
#define SX_STORE \
	VMOVUPS Y0, 0(DI)   \
	VMOVUPS Y1, 32(DI)  \
	VMOVUPS Y2, 64(DI)  \
	VMOVDQU Y3, 96(DI)  \
	VMOVDQU Y4, 128(DI) \
	VMOVDQU Y5, 160(DI) \
	VMOVDQU Y6, 192(DI) \
	VZEROUPPER          \
	RET

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
	SX_STORE

// func statsExtremesAVX512(v *float32, n int, out *extremes)
// statsExtremesAVX2's results (the same per-lane quantities: the sixteen
// lanes are folded to eight at the end, min with min, counts added) with
// 512-bit registers: VFPCLASSPS classifies each element (NaN, infinite,
// zero, negative zero) into mask registers, the counts add one under
// their masks and the extremes take only the finite lanes (merge
// masking); the last group's lanes past n are masked off, never read.
TEXT ·statsExtremesAVX512(SB), NOSPLIT, $0-24
	MOVQ         v+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVQ         out+16(FP), DI
	VPBROADCASTD stc<>+0x10(SB), Z0   // min: +Inf
	VPBROADCASTD stc<>+0x14(SB), Z1   // max: -Inf
	VPXORD       Z2, Z2, Z2           // largest |x|
	VPXORD       Z3, Z3, Z3           // finite
	VPXORD       Z4, Z4, Z4           // NaN
	VPXORD       Z5, Z5, Z5           // zeros
	VPXORD       Z6, Z6, Z6           // negative zeros
	VPBROADCASTD stc<>+0x08(SB), Z13  // 0x7fffffff: |x|
	VPTERNLOGD   $0xff, Z15, Z15, Z15 // -1 in every lane
	MOVL         $0xffff, AX
	KMOVW        AX, K1               // every lane valid

sx5loop:
	CMPQ CX, $16
	JLT  sx5tail
	VMOVUPS (SI), Z9

sx5group:
	VFPCLASSPSZ $0x99, Z9, K1, K2      // NaN or infinite
	KANDNW     K1, K2, K3             // finite: valid &^ that
	VFPCLASSPSZ $0x81, Z9, K1, K4      // NaN
	VFPCLASSPSZ $0x06, Z9, K1, K5      // +0 or -0
	VFPCLASSPSZ $0x04, Z9, K1, K6      // -0
	VPSUBD     Z15, Z3, K3, Z3
	VPSUBD     Z15, Z4, K4, Z4
	VPSUBD     Z15, Z5, K5, Z5
	VPSUBD     Z15, Z6, K6, Z6
	VMINPS     Z9, Z0, K3, Z0
	VMAXPS     Z9, Z1, K3, Z1
	VANDPS     Z13, Z9, Z10
	VMAXPS     Z10, Z2, K3, Z2
	ADDQ       $64, SI
	SUBQ       $16, CX
	JMP        sx5loop

sx5tail:
	CMPQ    CX, $0
	JLE     sx5done
	MOVL    $1, AX
	SHLL    CX, AX
	DECL    AX
	KMOVW   AX, K1                    // lanes below the count
	VMOVUPS (SI), K1, Z9              // the others are not read
	MOVQ    $16, CX                   // the last group
	JMP     sx5group

sx5done:
	VEXTRACTF64X4 $1, Z0, Y10
	VMINPS        Y10, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y10
	VMAXPS        Y10, Y1, Y1
	VEXTRACTF64X4 $1, Z2, Y10
	VMAXPS        Y10, Y2, Y2
	VEXTRACTI64X4 $1, Z3, Y10
	VPADDD        Y10, Y3, Y3
	VEXTRACTI64X4 $1, Z4, Y10
	VPADDD        Y10, Y4, Y4
	VEXTRACTI64X4 $1, Z5, Y10
	VPADDD        Y10, Y5, Y5
	VEXTRACTI64X4 $1, Z6, Y10
	VPADDD        Y10, Y6, Y6
	SX_STORE

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

// The eight-lane kernels (statsSums8AVX512, statsDev8AVX512) run the
// float64 chains of eight vectors side by side, vector i's chain in lane
// i of a 512-bit register: eight elements of each vector are loaded,
// transposed so that register k holds element k of every vector, and
// added to the chains in element order, k = 0..7. A lane adds only where
// its element is finite (merge masking leaves the others' sums as they
// were, as the Go loop's continue does), so each lane is exactly the
// serial chain of its vector; the lanes never meet.

// STATS8_ROWS loads the eight floats at offset CX of the vectors at SI,
// DI, R8..R13 and leaves in Y0..Y7 their rows: Yk holds element k of
// each vector, vector i in lane i. Y8..Y23 scratch.
#define STATS8_ROWS \
	VMOVUPS    (SI)(CX*1), Y0   \
	VMOVUPS    (DI)(CX*1), Y1   \
	VMOVUPS    (R8)(CX*1), Y2   \
	VMOVUPS    (R9)(CX*1), Y3   \
	VMOVUPS    (R10)(CX*1), Y4  \
	VMOVUPS    (R11)(CX*1), Y5  \
	VMOVUPS    (R12)(CX*1), Y6  \
	VMOVUPS    (R13)(CX*1), Y7  \
	VUNPCKLPS  Y1, Y0, Y8       \
	VUNPCKHPS  Y1, Y0, Y9       \
	VUNPCKLPS  Y3, Y2, Y10      \
	VUNPCKHPS  Y3, Y2, Y11      \
	VUNPCKLPS  Y5, Y4, Y12      \
	VUNPCKHPS  Y5, Y4, Y13      \
	VUNPCKLPS  Y7, Y6, Y14      \
	VUNPCKHPS  Y7, Y6, Y15      \
	VSHUFPS    $0x44, Y10, Y8, Y16  \
	VSHUFPS    $0xee, Y10, Y8, Y17  \
	VSHUFPS    $0x44, Y11, Y9, Y18  \
	VSHUFPS    $0xee, Y11, Y9, Y19  \
	VSHUFPS    $0x44, Y14, Y12, Y20 \
	VSHUFPS    $0xee, Y14, Y12, Y21 \
	VSHUFPS    $0x44, Y15, Y13, Y22 \
	VSHUFPS    $0xee, Y15, Y13, Y23 \
	VSHUFF32X4 $0, Y20, Y16, Y0 \
	VSHUFF32X4 $0, Y21, Y17, Y1 \
	VSHUFF32X4 $0, Y22, Y18, Y2 \
	VSHUFF32X4 $0, Y23, Y19, Y3 \
	VSHUFF32X4 $3, Y20, Y16, Y4 \
	VSHUFF32X4 $3, Y21, Y17, Y5 \
	VSHUFF32X4 $3, Y22, Y18, Y6 \
	VSHUFF32X4 $3, Y23, Y19, Y7

// STATS8_FINITE sets K1 to the lanes of Y whose float32 is finite
// (VFPCLASSPS 0x99: QNaN, +Inf, -Inf, SNaN; then the complement).
#define STATS8_FINITE(Y) \
	VFPCLASSPSY $0x99, Y, K1 \
	KNOTB       K1, K1

// STATS8_SUM adds row Y (converted to float64 in Z) to the sums Z24 and
// the sums of squares Z25 where finite.
#define STATS8_SUM(Y, Z) \
	STATS8_FINITE(Y)          \
	VCVTPS2PD Y, Z            \
	VADDPD    Z, Z24, K1, Z24 \
	VMULPD    Z, Z, Z         \
	VADDPD    Z, Z25, K1, Z25

// STATS8_DEV adds (x - mean)^2 of row Y (in Z; means in Z26) to the
// sums of squared deviations Z24 where finite.
#define STATS8_DEV(Y, Z) \
	STATS8_FINITE(Y)          \
	VCVTPS2PD Y, Z            \
	VSUBPD    Z26, Z, Z       \
	VMULPD    Z, Z, Z         \
	VADDPD    Z, Z24, K1, Z24

// STATS8_PTRS loads the eight vector pointers at AX into SI, DI, R8..R13.
#define STATS8_PTRS \
	MOVQ 0(AX), SI   \
	MOVQ 8(AX), DI   \
	MOVQ 16(AX), R8  \
	MOVQ 24(AX), R9  \
	MOVQ 32(AX), R10 \
	MOVQ 40(AX), R11 \
	MOVQ 48(AX), R12 \
	MOVQ 56(AX), R13

// func statsSums8AVX512(p *[8]*float32, n int, sum, sumSq *[8]float64)
// Continues the chains sum[i] += x, sumSq[i] += x*x over the finite x
// of p[i][0:n], n a multiple of 8, every vector at least n long.
TEXT ·statsSums8AVX512(SB), NOSPLIT, $0-32
	MOVQ      p+0(FP), AX
	STATS8_PTRS
	MOVQ      n+8(FP), DX
	SHLQ      $2, DX
	MOVQ      sum+16(FP), AX
	MOVQ      sumSq+24(FP), BX
	VMOVUPD   (AX), Z24
	VMOVUPD   (BX), Z25
	XORQ      CX, CX
	CMPQ      CX, DX
	JGE       sts8done

sts8loop:
	STATS8_ROWS
	STATS8_SUM(Y0, Z0)
	STATS8_SUM(Y1, Z1)
	STATS8_SUM(Y2, Z2)
	STATS8_SUM(Y3, Z3)
	STATS8_SUM(Y4, Z4)
	STATS8_SUM(Y5, Z5)
	STATS8_SUM(Y6, Z6)
	STATS8_SUM(Y7, Z7)
	ADDQ      $32, CX
	CMPQ      CX, DX
	JLT       sts8loop

sts8done:
	VMOVUPD   Z24, (AX)
	VMOVUPD   Z25, (BX)
	VZEROUPPER
	RET

// func statsDev8AVX512(p *[8]*float32, n int, mean, dev *[8]float64)
// Continues the chains dev[i] += (x - mean[i])^2 over the finite x of
// p[i][0:n], n a multiple of 8, every vector at least n long.
TEXT ·statsDev8AVX512(SB), NOSPLIT, $0-32
	MOVQ      p+0(FP), AX
	STATS8_PTRS
	MOVQ      n+8(FP), DX
	SHLQ      $2, DX
	MOVQ      mean+16(FP), AX
	MOVQ      dev+24(FP), BX
	VMOVUPD   (AX), Z26
	VMOVUPD   (BX), Z24
	XORQ      CX, CX
	CMPQ      CX, DX
	JGE       std8done

std8loop:
	STATS8_ROWS
	STATS8_DEV(Y0, Z0)
	STATS8_DEV(Y1, Z1)
	STATS8_DEV(Y2, Z2)
	STATS8_DEV(Y3, Z3)
	STATS8_DEV(Y4, Z4)
	STATS8_DEV(Y5, Z5)
	STATS8_DEV(Y6, Z6)
	STATS8_DEV(Y7, Z7)
	ADDQ      $32, CX
	CMPQ      CX, DX
	JLT       std8loop

std8done:
	VMOVUPD   Z24, (BX)
	VZEROUPPER
	RET
