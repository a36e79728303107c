//go:build amd64 && !purego

#include "textflag.h"

// AVX2 float32 dot kernels; dot_amd64.go and dotF32 in kernels.go say what
// they must equal. Plan 9 operand order: sources first, destination last.
// Every product is VMULPS with the weight row (a) as first source, every
// addition VADDPS with the accumulator as first source, in both kernels.

// tailMask: eight all-ones int32 then eight zeros; the 32 bytes at offset
// 4*(8-r) have ones in the first r lanes (a VMASKMOVPS mask).
DATA tailMask<>+0(SB)/8, $0xffffffffffffffff
DATA tailMask<>+8(SB)/8, $0xffffffffffffffff
DATA tailMask<>+16(SB)/8, $0xffffffffffffffff
DATA tailMask<>+24(SB)/8, $0xffffffffffffffff
DATA tailMask<>+32(SB)/8, $0
DATA tailMask<>+40(SB)/8, $0
DATA tailMask<>+48(SB)/8, $0
DATA tailMask<>+56(SB)/8, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// MASK loads into Y the tail mask for the CX < 8 elements left (CX and R8
// clobbered).
#define MASK(Y) \
	LEAQ    tailMask<>(SB), R8 \
	NEGQ    CX                 \
	LEAQ    32(R8)(CX*4), R8   \
	VMOVDQU (R8), Y

// REDUCE leaves in lane 0 of XA0 the sum of the lanes of A0..A3 (s[0..7],
// s[8..15], s[16..23], s[24..31]) in dotF32's order. A1, A2 clobbered;
// XA0, XA1 are the low halves of A0, A1.
#define REDUCE(A0, A1, A2, A3, XA0, XA1) \
	VADDPS       A2, A0, A0   \
	VADDPS       A3, A1, A1   \
	VADDPS       A1, A0, A0   \
	VEXTRACTF128 $1, A0, XA1  \
	VADDPS       XA1, XA0, XA0 \
	VMOVHLPS     XA0, XA0, XA1 \
	VADDPS       XA1, XA0, XA0 \
	VMOVSHDUP    XA0, XA1     \
	VADDSS       XA1, XA0, XA0

// STEP8 adds the eight products at OFF(SI) and OFF(DI) lane-wise to ACC.
#define STEP8(OFF, ACC) \
	VMOVUPS OFF(SI), Y4      \
	VMULPS  OFF(DI), Y4, Y4  \
	VADDPS  Y4, ACC, ACC

// PART8 adds the CX < 8 products at (SI) and (DI) to the first CX lanes
// of ACC (the other lanes get +0).
#define PART8(ACC) \
	MASK(Y5)                 \
	VMASKMOVPS (SI), Y5, Y4  \
	VMASKMOVPS (DI), Y5, Y6  \
	VMULPS     Y6, Y4, Y4    \
	VADDPS     Y4, ACC, ACC

// func dotF32AVX2(a, b *float32, n int) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

loop32:
	CMPQ CX, $32
	JB   tail
	STEP8(0, Y0)
	STEP8(32, Y1)
	STEP8(64, Y2)
	STEP8(96, Y3)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32

	// Fewer than 32 left: whole chunks of 8 into Y0, Y1, Y2 in turn, then
	// the partial chunk into the next accumulator.
tail:
	CMPQ CX, $8
	JB   part0
	STEP8(0, Y0)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JB   part1
	STEP8(0, Y1)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JB   part2
	STEP8(0, Y2)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	TESTQ CX, CX
	JZ    done
	PART8(Y3)
	JMP   done

part0:
	TESTQ CX, CX
	JZ    done
	PART8(Y0)
	JMP   done

part1:
	TESTQ CX, CX
	JZ    done
	PART8(Y1)
	JMP   done

part2:
	TESTQ CX, CX
	JZ    done
	PART8(Y2)

done:
	REDUCE(Y0, Y1, Y2, Y3, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// The three-row kernel: one weight row at SI against three activation
// rows at DI, DI+BX, DI+2*BX, each with its own four accumulators (Y0-Y3,
// Y4-Y7, Y8-Y11), so every weight chunk is loaded once for three
// products. Y12 weight chunk, Y13 product, Y14 tail mask.

// STEP8X3 adds the products of the eight weights at OFF(SI) with the
// eight activations at OFF of each row to A0, A1, A2.
#define STEP8X3(OFF, A0, A1, A2) \
	VMOVUPS OFF(SI), Y12             \
	VMULPS  OFF(DI), Y12, Y13        \
	VADDPS  Y13, A0, A0              \
	VMULPS  OFF(DI)(BX*1), Y12, Y13  \
	VADDPS  Y13, A1, A1              \
	VMULPS  OFF(DI)(BX*2), Y12, Y13  \
	VADDPS  Y13, A2, A2

// PART8X3 is STEP8X3 for the CX < 8 elements left, at offset 0.
#define PART8X3(A0, A1, A2) \
	MASK(Y14)                          \
	VMASKMOVPS (SI), Y14, Y12          \
	VMASKMOVPS (DI), Y14, Y13          \
	VMULPS     Y13, Y12, Y13           \
	VADDPS     Y13, A0, A0             \
	VMASKMOVPS (DI)(BX*1), Y14, Y13    \
	VMULPS     Y13, Y12, Y13           \
	VADDPS     Y13, A1, A1             \
	VMASKMOVPS (DI)(BX*2), Y14, Y13    \
	VMULPS     Y13, Y12, Y13           \
	VADDPS     Y13, A2, A2

// func dotF32x3AVX2(w, x *float32, stride, n int, out *[3]float32)
TEXT ·dotF32x3AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   stride+16(FP), BX
	SHLQ   $2, BX
	MOVQ   n+24(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

x3loop32:
	CMPQ CX, $32
	JB   x3tail
	STEP8X3(0, Y0, Y4, Y8)
	STEP8X3(32, Y1, Y5, Y9)
	STEP8X3(64, Y2, Y6, Y10)
	STEP8X3(96, Y3, Y7, Y11)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  x3loop32

x3tail:
	CMPQ CX, $8
	JB   x3part0
	STEP8X3(0, Y0, Y4, Y8)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JB   x3part1
	STEP8X3(0, Y1, Y5, Y9)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JB   x3part2
	STEP8X3(0, Y2, Y6, Y10)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	TESTQ CX, CX
	JZ    x3done
	PART8X3(Y3, Y7, Y11)
	JMP   x3done

x3part0:
	TESTQ CX, CX
	JZ    x3done
	PART8X3(Y0, Y4, Y8)
	JMP   x3done

x3part1:
	TESTQ CX, CX
	JZ    x3done
	PART8X3(Y1, Y5, Y9)
	JMP   x3done

x3part2:
	TESTQ CX, CX
	JZ    x3done
	PART8X3(Y2, Y6, Y10)

x3done:
	MOVQ   out+32(FP), DX
	REDUCE(Y0, Y1, Y2, Y3, X0, X1)
	VMOVSS X0, 0(DX)
	REDUCE(Y4, Y5, Y6, Y7, X4, X5)
	VMOVSS X4, 4(DX)
	REDUCE(Y8, Y9, Y10, Y11, X8, X9)
	VMOVSS X8, 8(DX)
	VZEROUPPER
	RET

// func weightedSumAVX2(out, p, v *float32, vstride, rows, n int)
// out[i] = 0, then out[i] += float32(p[j] * v[j*vstride + i]) for j = 0,
// 1, ..., rows-1, for i < n (n a multiple of 8, rows >= 1): attention's
// sum of value rows weighted by the softmax. Each lane is one out[i] and
// takes the products in the same order with VMULPS then VADDPS, so every
// element has the bits of the scalar loop. 32 elements (four
// accumulators) at a time, so four addition chains overlap, then 8.
TEXT ·weightedSumAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ vstride+24(FP), R8
	SHLQ $2, R8                  // bytes
	MOVQ rows+32(FP), R9
	MOVQ n+40(FP), R10

ws32:
	CMPQ   R10, $32
	JLT    ws8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   SI, AX                // p[j]
	MOVQ   DX, BX                // v[j*vstride + i]
	MOVQ   R9, CX

ws32loop:
	VBROADCASTSS (AX), Y4
	VMULPS       (BX), Y4, Y5
	VADDPS       Y5, Y0, Y0
	VMULPS       32(BX), Y4, Y6
	VADDPS       Y6, Y1, Y1
	VMULPS       64(BX), Y4, Y7
	VADDPS       Y7, Y2, Y2
	VMULPS       96(BX), Y4, Y8
	VADDPS       Y8, Y3, Y3
	ADDQ         $4, AX
	ADDQ         R8, BX
	DECQ         CX
	JNZ          ws32loop
	VMOVUPS      Y0, (DI)
	VMOVUPS      Y1, 32(DI)
	VMOVUPS      Y2, 64(DI)
	VMOVUPS      Y3, 96(DI)
	ADDQ         $128, DI
	ADDQ         $128, DX
	SUBQ         $32, R10
	JMP          ws32

ws8:
	CMPQ   R10, $8
	JLT    wsdone
	VXORPS Y0, Y0, Y0
	MOVQ   SI, AX
	MOVQ   DX, BX
	MOVQ   R9, CX

ws8loop:
	VBROADCASTSS (AX), Y4
	VMULPS       (BX), Y4, Y5
	VADDPS       Y5, Y0, Y0
	ADDQ         $4, AX
	ADDQ         R8, BX
	DECQ         CX
	JNZ          ws8loop
	VMOVUPS      Y0, (DI)
	ADDQ         $32, DI
	ADDQ         $32, DX
	SUBQ         $8, R10
	JMP          ws8

wsdone:
	VZEROUPPER
	RET

// The three-row kernel on 512-bit registers: Z0 holds dotF32's s[0..15]
// and Z1 s[16..31] for the first row (lane-wise the AVX2 kernel's Y0|Y1
// and Y2|Y3), Z2, Z3 the second, Z4, Z5 the third; the same products
// added to the same partial sums in the same order, so the same bits.
// A tail below 32 goes to the lanes it would reach in the AVX2 kernel
// (element t of the tail to s[t]) through merge-masked loads and adds,
// which leave the other lanes as they are. Z12, Z13 weights, Z14 product.

// STEP16X3 adds the products of the 16 weights at OFF(SI) with the 16
// activations at OFF of each row to A0, A1, A2.
#define STEP16X3(OFF, A0, A1, A2) \
	VMOVUPS OFF(SI), Z12             \
	VMULPS  OFF(DI), Z12, Z14        \
	VADDPS  Z14, A0, A0              \
	VMULPS  OFF(DI)(BX*1), Z12, Z14  \
	VADDPS  Z14, A1, A1              \
	VMULPS  OFF(DI)(BX*2), Z12, Z14  \
	VADDPS  Z14, A2, A2

// PART16X3 adds the products of the first lanes K1 selects, at offset 0.
#define PART16X3(A0, A1, A2) \
	VMOVUPS.Z (SI), K1, Z12          \
	VMOVUPS.Z (DI), K1, Z13          \
	VMULPS    Z13, Z12, Z14          \
	VADDPS    Z14, A0, K1, A0        \
	VMOVUPS.Z (DI)(BX*1), K1, Z13    \
	VMULPS    Z13, Z12, Z14          \
	VADDPS    Z14, A1, K1, A1        \
	VMOVUPS.Z (DI)(BX*2), K1, Z13    \
	VMULPS    Z13, Z12, Z14          \
	VADDPS    Z14, A2, K1, A2

// REDUCE512 leaves in lane 0 of XA the sum of the 32 lanes of A (s[0..15])
// and B (s[16..31]) in REDUCE's order. YA, YB are their low halves.
#define REDUCE512(A, B, YA, YB, XA, XB) \
	VADDPS       B, A, A      \
	VEXTRACTF32X8 $1, A, YB   \
	VADDPS       YB, YA, YA   \
	VEXTRACTF128 $1, YA, XB   \
	VADDPS       XB, XA, XA   \
	VMOVHLPS     XA, XA, XB   \
	VADDPS       XB, XA, XA   \
	VMOVSHDUP    XA, XB       \
	VADDSS       XB, XA, XA

// func dotF32x3AVX512(w, x *float32, stride, n int, out *[3]float32)
TEXT ·dotF32x3AVX512(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   stride+16(FP), BX
	SHLQ   $2, BX
	MOVQ   n+24(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5

z3loop32:
	CMPQ CX, $32
	JB   z3tail
	STEP16X3(0, Z0, Z2, Z4)
	STEP16X3(64, Z1, Z3, Z5)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  z3loop32

z3tail:
	CMPQ CX, $16
	JB   z3part0
	STEP16X3(0, Z0, Z2, Z4)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JZ   z3done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	PART16X3(Z1, Z3, Z5)
	JMP  z3done

z3part0:
	TESTQ CX, CX
	JZ    z3done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	PART16X3(Z0, Z2, Z4)

z3done:
	MOVQ   out+32(FP), DX
	REDUCE512(Z0, Z1, Y0, Y1, X0, X1)
	VMOVSS X0, 0(DX)
	REDUCE512(Z2, Z3, Y2, Y3, X2, X3)
	VMOVSS X2, 4(DX)
	REDUCE512(Z4, Z5, Y4, Y5, X4, X5)
	VMOVSS X4, 8(DX)
	VZEROUPPER
	RET
