//go:build amd64 && !purego

#include "textflag.h"

// Go's math.Exp (src/math/exp_amd64.s, archExp) four lanes at a time:
// the same constants and the same operations in the same order, on the
// path it takes where the CPU has FMA (useFMA): round x*log2(e) to the
// nearest integer k, r = x - k*ln2 with ln2 in two parts (fused
// negative multiply-adds), r/16, a Taylor polynomial in Horner form
// (fused multiply-adds), four squarings of e^(r/16)-1 as y*(y+2), +1
// (fused), times 2^k. Lanes are independent, so every lane has
// math.Exp's bits. Only arguments with |x| <= 700 take this path (k
// stays within the normal exponents, where math.Exp has no special
// case); the callers hand the others to math.Exp.

DATA expc<>+0x00(SB)/8, $1.4426950408889634073599246810018920        // LOG2E
DATA expc<>+0x08(SB)/8, $0.69314718055966295651160180568695068359375 // LN2U
DATA expc<>+0x10(SB)/8, $0.28235290563031577122588448175013436025525412068e-12 // LN2L
DATA expc<>+0x18(SB)/8, $0.0625
DATA expc<>+0x20(SB)/8, $2.4801587301587301587e-5
DATA expc<>+0x28(SB)/8, $1.9841269841269841270e-4
DATA expc<>+0x30(SB)/8, $1.3888888888888888889e-3
DATA expc<>+0x38(SB)/8, $8.3333333333333333333e-3
DATA expc<>+0x40(SB)/8, $4.1666666666666666667e-2
DATA expc<>+0x48(SB)/8, $1.6666666666666666667e-1
DATA expc<>+0x50(SB)/8, $0.5
DATA expc<>+0x58(SB)/8, $1.0
DATA expc<>+0x60(SB)/8, $2.0
DATA expc<>+0x68(SB)/8, $700.0
DATA expc<>+0x70(SB)/8, $0x7fffffffffffffff
DATA expc<>+0x78(SB)/8, $1023
GLOBL expc<>(SB), RODATA|NOPTR, $128

// EXPCONST loads the broadcast constants into Y4..Y15.
#define EXPCONST \
	VBROADCASTSD expc<>+0x00(SB), Y15 \
	VBROADCASTSD expc<>+0x08(SB), Y14 \
	VBROADCASTSD expc<>+0x10(SB), Y13 \
	VBROADCASTSD expc<>+0x18(SB), Y12 \
	VBROADCASTSD expc<>+0x20(SB), Y11 \
	VBROADCASTSD expc<>+0x28(SB), Y10 \
	VBROADCASTSD expc<>+0x30(SB), Y9  \
	VBROADCASTSD expc<>+0x38(SB), Y8  \
	VBROADCASTSD expc<>+0x40(SB), Y7  \
	VBROADCASTSD expc<>+0x48(SB), Y6  \
	VBROADCASTSD expc<>+0x50(SB), Y5  \
	VBROADCASTSD expc<>+0x58(SB), Y4

// INRANGE sets AX to 0xf when every lane of Y0 has |x| <= 700 (not NaN).
#define INRANGE \
	VBROADCASTSD expc<>+0x70(SB), Y1 \
	VANDPD       Y1, Y0, Y1          \
	VBROADCASTSD expc<>+0x68(SB), Y2 \
	VCMPPD       $2, Y2, Y1, Y1      \
	VMOVMSKPD    Y1, AX

// EXP4 replaces the four doubles of Y0 with math.Exp of each (Y1, Y2, Y3
// scratch).
#define EXP4 \
	VMULPD       Y15, Y0, Y1         \
	VCVTPD2DQY   Y1, X3              \
	VCVTDQ2PD    X3, Y1              \
	VFNMADD231PD Y14, Y1, Y0         \
	VFNMADD231PD Y13, Y1, Y0         \
	VMULPD       Y12, Y0, Y0         \
	VMOVAPD      Y11, Y1             \
	VFMADD213PD  Y10, Y0, Y1         \
	VFMADD213PD  Y9, Y0, Y1          \
	VFMADD213PD  Y8, Y0, Y1          \
	VFMADD213PD  Y7, Y0, Y1          \
	VFMADD213PD  Y6, Y0, Y1          \
	VFMADD213PD  Y5, Y0, Y1          \
	VFMADD213PD  Y4, Y0, Y1          \
	VMULPD       Y1, Y0, Y0          \
	VBROADCASTSD expc<>+0x60(SB), Y2 \
	VADDPD       Y2, Y0, Y1          \
	VMULPD       Y1, Y0, Y0          \
	VADDPD       Y2, Y0, Y1          \
	VMULPD       Y1, Y0, Y0          \
	VADDPD       Y2, Y0, Y1          \
	VMULPD       Y1, Y0, Y0          \
	VADDPD       Y2, Y0, Y1          \
	VFMADD213PD  Y4, Y1, Y0          \
	VPMOVSXDQ    X3, Y3              \
	VPBROADCASTQ expc<>+0x78(SB), Y2 \
	VPADDQ       Y2, Y3, Y3          \
	VPSLLQ       $52, Y3, Y3         \
	VMULPD       Y3, Y0, Y0

// func expfAVX2(x *float32, n int) int
// x[i] = float32(math.Exp(float64(x[i]))) in place, four at a time, up
// to the first four with an argument outside [-700, 700] or a NaN;
// returns how many it did (a multiple of 4).
TEXT ·expfAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	XORQ R8, R8
	EXPCONST

expfloop:
	CMPQ       CX, $4
	JLT        expfdone
	VCVTPS2PD  (DI), Y0
	INRANGE
	CMPL       AX, $0xf
	JNE        expfdone
	EXP4
	VCVTPD2PSY Y0, X0
	VMOVUPS    X0, (DI)
	ADDQ       $16, DI
	ADDQ       $4, R8
	SUBQ       $4, CX
	JMP        expfloop

expfdone:
	VZEROUPPER
	MOVQ R8, ret+16(FP)
	RET

// func siluAVX2(out, x *float32, n int) int
// out[i] = x[i] / (1 + float32(math.Exp(float64(-x[i])))) (silu's
// operations, in float32), four at a time, up to the first four with an
// argument outside [-700, 700] or a NaN; returns how many it did.
TEXT ·siluAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ R8, R8
	EXPCONST

siluloop:
	CMPQ       CX, $4
	JLT        siludone
	VMOVUPS    (SI), X0
	MOVL       $0x80000000, AX
	VMOVD      AX, X1
	VBROADCASTSS X1, X1
	VXORPS     X1, X0, X0             // -x (the sign flipped, as Go's -x)
	VCVTPS2PD  X0, Y0
	INRANGE
	CMPL       AX, $0xf
	JNE        siludone
	EXP4
	VCVTPD2PSY Y0, X0                 // e = expf(-x)
	MOVL       $0x3f800000, AX
	VMOVD      AX, X1
	VBROADCASTSS X1, X1
	VADDPS     X0, X1, X0             // 1 + e
	VMOVUPS    (SI), X1
	VDIVPS     X0, X1, X0             // x / (1 + e)
	VMOVUPS    X0, (DI)
	ADDQ       $16, SI
	ADDQ       $16, DI
	ADDQ       $4, R8
	SUBQ       $4, CX
	JMP        siluloop

siludone:
	VZEROUPPER
	MOVQ R8, ret+24(FP)
	RET
