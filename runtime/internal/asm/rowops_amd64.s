//go:build amd64 && !noasm

#include "textflag.h"

// Row operations of a softmax (rowops_amd64.go). The exponential is the
// one of vmath_amd64.s (Cephes expf, the same constants and steps), here
// fused with the shift by the row maximum and the running sum.

DATA rowc<>+0(SB)/4, $0x42b17218  // 88.72283935546875: exp overflow bound (AVX2)
DATA rowc<>+4(SB)/4, $0xc2cff1b4  // -103.97207641601562: exp underflow bound (AVX2)
DATA rowc<>+8(SB)/4, $0x3fb8aa3b  // log2(e)
DATA rowc<>+12(SB)/4, $0x3f318000 // ln2 high part 0.693359375
DATA rowc<>+16(SB)/4, $0xb95e8083 // ln2 low part -2.12194440e-4
DATA rowc<>+20(SB)/4, $0x39506967 // exp P0 1.9875691500e-4
DATA rowc<>+24(SB)/4, $0x3ab743ce // exp P1 1.3981999507e-3
DATA rowc<>+28(SB)/4, $0x3c088908 // exp P2 8.3334519073e-3
DATA rowc<>+32(SB)/4, $0x3d2aa9c1 // exp P3 4.1665795894e-2
DATA rowc<>+36(SB)/4, $0x3e2aaaaa // exp P4 1.6666665459e-1
DATA rowc<>+40(SB)/4, $0x3f000000 // exp P5 5.0000001201e-1
DATA rowc<>+44(SB)/4, $0x3f800000 // 1
DATA rowc<>+48(SB)/4, $0x42b20000 // 89: exp clamp (AVX-512; overflows to +Inf)
DATA rowc<>+52(SB)/4, $0xc2d00000 // -104: exp clamp (AVX-512; underflows to 0)
DATA rowc<>+56(SB)/4, $127        // exponent bias (int32)
DATA rowc<>+60(SB)/4, $0x7f800000 // +Inf
GLOBL rowc<>(SB), RODATA|NOPTR, $64

#define R_HI2 rowc<>+0(SB)
#define R_LO2 rowc<>+4(SB)
#define R_LOG2E rowc<>+8(SB)
#define R_LN2HI rowc<>+12(SB)
#define R_LN2LO rowc<>+16(SB)
#define R_P0 rowc<>+20(SB)
#define R_P1 rowc<>+24(SB)
#define R_P2 rowc<>+28(SB)
#define R_P3 rowc<>+32(SB)
#define R_P4 rowc<>+36(SB)
#define R_P5 rowc<>+40(SB)
#define R_ONE rowc<>+44(SB)
#define R_HI5 rowc<>+48(SB)
#define R_LO5 rowc<>+52(SB)
#define R_BIAS rowc<>+56(SB)
#define R_INF rowc<>+60(SB)

// ---------------------------------------------------------------- AVX-512

// Z16..Z27 hold the exp constants for the whole call.
#define REXPCONST512 \
	VBROADCASTSS R_HI5, Z16; \
	VBROADCASTSS R_LO5, Z17; \
	VBROADCASTSS R_LOG2E, Z18; \
	VBROADCASTSS R_LN2HI, Z19; \
	VBROADCASTSS R_LN2LO, Z20; \
	VBROADCASTSS R_P0, Z21; \
	VBROADCASTSS R_P1, Z22; \
	VBROADCASTSS R_P2, Z23; \
	VBROADCASTSS R_P3, Z24; \
	VBROADCASTSS R_P4, Z25; \
	VBROADCASTSS R_P5, Z26; \
	VBROADCASTSS R_ONE, Z27

// REXP512 sets x = e^x: clamp to [-104, 89], n = round(x log2 e),
// r = x - n ln2, the degree-6 polynomial, times 2^n by VSCALEFPS.
#define REXP512(x, n, p, z) \
	VMAXPS x, Z17, x; \
	VMINPS x, Z16, x; \
	VMULPS Z18, x, n; \
	VRNDSCALEPS $0, n, n; \
	VFNMADD231PS Z19, n, x; \
	VFNMADD231PS Z20, n, x; \
	VMULPS x, x, z; \
	VMOVAPS Z21, p; \
	VFMADD213PS Z22, x, p; \
	VFMADD213PS Z23, x, p; \
	VFMADD213PS Z24, x, p; \
	VFMADD213PS Z25, x, p; \
	VFMADD213PS Z26, x, p; \
	VFMADD213PS x, z, p; \
	VADDPS Z27, p, p; \
	VSCALEFPS n, p, x

// HSUM512 / HMAX512 reduce Z0 to its lane sum / maximum in X0 (uses Z1).
#define HSUM512 \
	VEXTRACTF32X8 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VPERMILPS $0x4e, X0, X1; \
	VADDPS X1, X0, X0; \
	VPERMILPS $0xb1, X0, X1; \
	VADDPS X1, X0, X0

#define HMAX512 \
	VEXTRACTF32X8 $1, Z0, Y1; \
	VMAXPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VMAXPS X1, X0, X0; \
	VPERMILPS $0x4e, X0, X1; \
	VMAXPS X1, X0, X0; \
	VPERMILPS $0xb1, X0, X1; \
	VMAXPS X1, X0, X0

// func vmaxAVX512(x *float32, n int) float32   (n a positive multiple of 16)
TEXT ·vmaxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Z0
	VMOVAPS Z0, Z2
	ADDQ $64, SI
	SUBQ $16, CX
max5pair:
	CMPQ CX, $32
	JLT  max5one
	VMAXPS (SI), Z0, Z0
	VMAXPS 64(SI), Z2, Z2
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  max5pair
max5one:
	CMPQ CX, $0
	JLE  max5done
	VMAXPS (SI), Z0, Z0
max5done:
	VMAXPS Z2, Z0, Z0
	HMAX512
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func vexpsumAVX512(dst, src *float32, n int, m float32) float32   (n a multiple of 16)
TEXT ·vexpsumAVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Z28
	REXPCONST512
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
es5pair:
	CMPQ CX, $32
	JLT  es5one
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	VSUBPS Z28, Z0, Z0
	VSUBPS Z28, Z4, Z4
	REXP512(Z0, Z1, Z2, Z3)
	REXP512(Z4, Z5, Z6, Z7)
	VMOVUPS Z0, (DI)
	VMOVUPS Z4, 64(DI)
	VADDPS Z0, Z29, Z29
	VADDPS Z4, Z30, Z30
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  es5pair
es5one:
	CMPQ CX, $0
	JLE  es5done
	VMOVUPS (SI), Z0
	VSUBPS Z28, Z0, Z0
	REXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	VADDPS Z0, Z29, Z29
es5done:
	VADDPS Z30, Z29, Z0
	HSUM512
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func vscaleAVX512(x *float32, n int, f float32)   (n a multiple of 16)
TEXT ·vscaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS f+16(FP), Z1
sc5loop:
	CMPQ CX, $0
	JLE  sc5done
	VMULPS (SI), Z1, Z0
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  sc5loop
sc5done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------- AVX2

// REXP256 sets x = e^in (in is kept), as EXP256 in vmath_amd64.s: clamp,
// polynomial, 2^n built in two exponent fields; in > 88.7228 gives +Inf
// and in < -103.972 gives 0.
#define REXP256(in, x, n, p, z, t) \
	VBROADCASTSS R_LO2, t; \
	VMAXPS in, t, x; \
	VBROADCASTSS R_HI2, t; \
	VMINPS x, t, x; \
	VBROADCASTSS R_LOG2E, n; \
	VMULPS n, x, n; \
	VROUNDPS $0, n, n; \
	VBROADCASTSS R_LN2HI, t; \
	VFNMADD231PS t, n, x; \
	VBROADCASTSS R_LN2LO, t; \
	VFNMADD231PS t, n, x; \
	VMULPS x, x, z; \
	VBROADCASTSS R_P0, p; \
	VBROADCASTSS R_P1, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS R_P2, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS R_P3, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS R_P4, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS R_P5, t; \
	VFMADD213PS t, x, p; \
	VFMADD213PS x, z, p; \
	VBROADCASTSS R_ONE, t; \
	VADDPS t, p, p; \
	VCVTPS2DQ n, n; \
	VPSRAD $1, n, z; \
	VPSUBD z, n, n; \
	VPBROADCASTD R_BIAS, t; \
	VPADDD t, z, z; \
	VPSLLD $23, z, z; \
	VPADDD t, n, n; \
	VPSLLD $23, n, n; \
	VMULPS z, p, p; \
	VMULPS n, p, x; \
	VBROADCASTSS R_HI2, t; \
	VCMPPS $0x1e, t, in, z; \
	VBROADCASTSS R_INF, t; \
	VBLENDVPS z, t, x, x; \
	VBROADCASTSS R_LO2, t; \
	VCMPPS $0x11, t, in, z; \
	VANDNPS x, z, x

// func vmaxAVX2(x *float32, n int) float32   (n a positive multiple of 8)
TEXT ·vmaxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	ADDQ $32, SI
	SUBQ $8, CX
max2loop:
	CMPQ CX, $0
	JLE  max2done
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  max2loop
max2done:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func vexpsumAVX2(dst, src *float32, n int, m float32) float32   (n a multiple of 8)
TEXT ·vexpsumAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y8
	VXORPS Y9, Y9, Y9
es2loop:
	CMPQ CX, $0
	JLE  es2done
	VMOVUPS (SI), Y0
	VSUBPS Y8, Y0, Y0
	REXP256(Y0, Y1, Y2, Y3, Y4, Y5)
	VMOVUPS Y1, (DI)
	VADDPS Y1, Y9, Y9
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  es2loop
es2done:
	VEXTRACTF128 $1, Y9, X1
	VADDPS X1, X9, X0
	VPERMILPS $0x4e, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VADDPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func vscaleAVX2(x *float32, n int, f float32)   (n a multiple of 8)
TEXT ·vscaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS f+16(FP), Y1
sc2loop:
	CMPQ CX, $0
	JLE  sc2done
	VMULPS (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  sc2loop
sc2done:
	VZEROUPPER
	RET
