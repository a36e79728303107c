//go:build amd64 && !purego

#include "textflag.h"

// AVX2 float32 dot kernels; dot_amd64.go and dotF32 in kernels.go say what
// they must equal. Plan 9 operand order: sources first, destination last.

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

// STEP8 adds the eight products at OFF(SI) and OFF(DI) lane-wise to ACC.
#define STEP8(OFF, ACC) \
	VMOVUPS OFF(SI), Y4      \
	VMULPS  OFF(DI), Y4, Y4  \
	VADDPS  Y4, ACC, ACC

// PART8 adds the CX < 8 products at (SI) and (DI) to the first CX lanes
// of ACC (the other lanes get +0). R8 is scratch.
#define PART8(ACC) \
	LEAQ       tailMask<>(SB), R8 \
	NEGQ       CX                 \
	LEAQ       32(R8)(CX*4), R8   \
	VMOVDQU    (R8), Y5           \
	VMASKMOVPS (SI), Y5, Y4       \
	VMASKMOVPS (DI), Y5, Y6       \
	VMULPS     Y6, Y4, Y4         \
	VADDPS     Y4, ACC, ACC

// REDUCE leaves in X0 the sum of the lanes of Y0..Y3 in dotF32's order.
// Y1, Y2 clobbered.
#define REDUCE \
	VADDPS       Y1, Y0, Y0 \
	VADDPS       Y3, Y2, Y2 \
	VADDPS       Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVHLPS     X0, X0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVSHDUP    X0, X1     \
	VADDSS       X1, X0, X0

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
	REDUCE
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET
