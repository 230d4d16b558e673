//go:build amd64 && !noasm

#include "textflag.h"

// Constants of the vector math routines (float32 bit patterns), broadcast
// from this table. Offsets are named below.
DATA vmc<>+0(SB)/4, $0x42b17218   // 88.72283935546875: exp overflow bound (AVX2)
DATA vmc<>+4(SB)/4, $0xc2cff1b4   // -103.97207641601562: exp underflow bound (AVX2)
DATA vmc<>+8(SB)/4, $0x3fb8aa3b   // log2(e)
DATA vmc<>+12(SB)/4, $0x3f318000  // ln2 high part 0.693359375
DATA vmc<>+16(SB)/4, $0xb95e8083  // ln2 low part -2.12194440e-4
DATA vmc<>+20(SB)/4, $0x39506967  // exp P0 1.9875691500e-4
DATA vmc<>+24(SB)/4, $0x3ab743ce  // exp P1 1.3981999507e-3
DATA vmc<>+28(SB)/4, $0x3c088908  // exp P2 8.3334519073e-3
DATA vmc<>+32(SB)/4, $0x3d2aa9c1  // exp P3 4.1665795894e-2
DATA vmc<>+36(SB)/4, $0x3e2aaaaa  // exp P4 1.6666665459e-1
DATA vmc<>+40(SB)/4, $0x3f000000  // exp P5 5.0000001201e-1
DATA vmc<>+44(SB)/4, $0x3f800000  // 1
DATA vmc<>+48(SB)/4, $0x42b20000  // 89: exp clamp (AVX-512; overflows to +Inf)
DATA vmc<>+52(SB)/4, $0xc2d00000  // -104: exp clamp (AVX-512; underflows to 0)
DATA vmc<>+56(SB)/4, $0x3f200000  // 0.625: tanh polynomial bound
DATA vmc<>+60(SB)/4, $0xbbbaf0ea  // tanh T0 -5.70498872745e-3
DATA vmc<>+64(SB)/4, $0x3ca9134e  // tanh T1 2.06390887954e-2
DATA vmc<>+68(SB)/4, $0xbd5c1e2d  // tanh T2 -5.37397155531e-2
DATA vmc<>+72(SB)/4, $0x3e088393  // tanh T3 1.33314422036e-1
DATA vmc<>+76(SB)/4, $0xbeaaaa99  // tanh T4 -3.33332819422e-1
DATA vmc<>+80(SB)/4, $0x40000000  // 2
DATA vmc<>+84(SB)/4, $0x3f906eba // erf |x|<1: c0 1.1283791657267066
DATA vmc<>+88(SB)/4, $0xbec0939f // erf |x|<1: c1 -0.3761262582421823
DATA vmc<>+92(SB)/4, $0x3de7167c // erf |x|<1: c2 0.11283585148447275
DATA vmc<>+96(SB)/4, $0xbcdbfc87 // erf |x|<1: c3 -0.02685381192831149
DATA vmc<>+100(SB)/4, $0x3baa02d9 // erf |x|<1: c4 0.0051883276724250665
DATA vmc<>+104(SB)/4, $0xba51fb80 // erf |x|<1: c5 -0.000801019350779697
DATA vmc<>+108(SB)/4, $0x38a4b518 // erf |x|<1: c6 7.853860963814852e-05
DATA vmc<>+112(SB)/4, $0xbfa1fc4e // erfc t-series N0 -1.26551223
DATA vmc<>+116(SB)/4, $0x3f8000c7 // erfc t-series N1 1.00002368
DATA vmc<>+120(SB)/4, $0x3ebf88fb // erfc t-series N2 0.37409196
DATA vmc<>+124(SB)/4, $0x3dc636c9 // erfc t-series N3 0.09678418
DATA vmc<>+128(SB)/4, $0xbe3ec24c // erfc t-series N4 -0.18628806
DATA vmc<>+132(SB)/4, $0x3e8ec7cc // erfc t-series N5 0.27886807
DATA vmc<>+136(SB)/4, $0xbf914e5d // erfc t-series N6 -1.13520398
DATA vmc<>+140(SB)/4, $0x3fbe87b0 // erfc t-series N7 1.48851587
DATA vmc<>+144(SB)/4, $0xbf527892 // erfc t-series N8 -0.82215223
DATA vmc<>+148(SB)/4, $0x3e2ef945 // erfc t-series N9 0.17087277
DATA vmc<>+152(SB)/4, $0x80000000 // sign bit
DATA vmc<>+156(SB)/4, $0x7fffffff // abs mask
DATA vmc<>+160(SB)/4, $127        // exponent bias (int32)
DATA vmc<>+164(SB)/4, $0x7f800000 // +Inf
GLOBL vmc<>(SB), RODATA|NOPTR, $168

#define C_HI2 vmc<>+0(SB)
#define C_LO2 vmc<>+4(SB)
#define C_LOG2E vmc<>+8(SB)
#define C_LN2HI vmc<>+12(SB)
#define C_LN2LO vmc<>+16(SB)
#define C_P0 vmc<>+20(SB)
#define C_P1 vmc<>+24(SB)
#define C_P2 vmc<>+28(SB)
#define C_P3 vmc<>+32(SB)
#define C_P4 vmc<>+36(SB)
#define C_P5 vmc<>+40(SB)
#define C_ONE vmc<>+44(SB)
#define C_HI5 vmc<>+48(SB)
#define C_LO5 vmc<>+52(SB)
#define C_TB vmc<>+56(SB)
#define C_T0 vmc<>+60(SB)
#define C_T1 vmc<>+64(SB)
#define C_T2 vmc<>+68(SB)
#define C_T3 vmc<>+72(SB)
#define C_T4 vmc<>+76(SB)
#define C_TWO vmc<>+80(SB)
#define C_SIGN vmc<>+152(SB)
#define C_ABS vmc<>+156(SB)
#define C_BIAS vmc<>+160(SB)
#define C_INF vmc<>+164(SB)

// ---------------------------------------------------------------- AVX-512
// Registers Z16..Z27 hold the exp constants for the whole call.

#define EXPCONST512 \
	VBROADCASTSS C_HI5, Z16; \
	VBROADCASTSS C_LO5, Z17; \
	VBROADCASTSS C_LOG2E, Z18; \
	VBROADCASTSS C_LN2HI, Z19; \
	VBROADCASTSS C_LN2LO, Z20; \
	VBROADCASTSS C_P0, Z21; \
	VBROADCASTSS C_P1, Z22; \
	VBROADCASTSS C_P2, Z23; \
	VBROADCASTSS C_P3, Z24; \
	VBROADCASTSS C_P4, Z25; \
	VBROADCASTSS C_P5, Z26; \
	VBROADCASTSS C_ONE, Z27

// EXP512 sets x = e^x (clamped to [-104, 89] first, so that the result
// underflows to 0 or overflows to +Inf; NaN propagates through the
// clamps, whose first operand is x). n = round(x log2 e), r = x - n ln2,
// e^r by the degree-6 polynomial, times 2^n by VSCALEFPS (one rounding,
// exact into the subnormal range).
#define EXP512(x, n, p, z) \
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

// func vexpAVX512(dst, src *float32, n int)   (n a multiple of 16)
TEXT ·vexpAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512
exploop:
	CMPQ CX, $0
	JLE  expdone
	VMOVUPS (SI), Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  exploop
expdone:
	VZEROUPPER
	RET

// func vsigmoidAVX512(dst, src *float32, n int)
TEXT ·vsigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512
	VBROADCASTSS C_SIGN, Z28
sigloop:
	CMPQ CX, $0
	JLE  sigdone
	VMOVUPS (SI), Z0
	VXORPS Z28, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VADDPS Z27, Z0, Z0
	VDIVPS Z0, Z27, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  sigloop
sigdone:
	VZEROUPPER
	RET

// func vtanhAVX512(dst, src *float32, n int)
TEXT ·vtanhAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512
	VBROADCASTSS C_SIGN, Z28
	VBROADCASTSS C_ABS, Z29
	VBROADCASTSS C_TB, Z30
	VBROADCASTSS C_TWO, Z31
	VBROADCASTSS C_T0, Z12
	VBROADCASTSS C_T1, Z13
	VBROADCASTSS C_T2, Z14
	VBROADCASTSS C_T3, Z15
	VBROADCASTSS C_T4, Z11
tanhloop:
	CMPQ CX, $0
	JLE  tanhdone
	VMOVUPS (SI), Z0
	VANDPS Z29, Z0, Z1
	VANDPS Z28, Z0, Z9
	// |x| < 0.625: x + x^3 P(x^2)
	VMULPS Z0, Z0, Z2
	VMOVAPS Z12, Z3
	VFMADD213PS Z13, Z2, Z3
	VFMADD213PS Z14, Z2, Z3
	VFMADD213PS Z15, Z2, Z3
	VFMADD213PS Z11, Z2, Z3
	VMULPS Z2, Z0, Z4
	VFMADD213PS Z0, Z4, Z3
	// otherwise: sign(x) (1 - 2/(e^{2|x|}+1))
	VADDPS Z1, Z1, Z5
	EXP512(Z5, Z6, Z7, Z8)
	VADDPS Z27, Z5, Z5
	VDIVPS Z5, Z31, Z5
	VSUBPS Z5, Z27, Z5
	VORPS Z9, Z5, Z5
	VCMPPS $1, Z30, Z1, K1
	VMOVAPS Z3, K1, Z5
	VMOVUPS Z5, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  tanhloop
tanhdone:
	VZEROUPPER
	RET

// func verfAVX512(dst, src *float32, n int)
TEXT ·verfAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512
	VBROADCASTSS C_SIGN, Z28
	VBROADCASTSS C_ABS, Z29
	VBROADCASTSS C_TWO, Z31
erfloop:
	CMPQ CX, $0
	JLE  erfdone
	VMOVUPS (SI), Z0
	VANDPS Z29, Z0, Z1
	VANDPS Z28, Z0, Z9
	// |x| < 1: x c0 + x z Q(z), z = x^2
	VMULPS Z0, Z0, Z2
	VBROADCASTSS vmc<>+108(SB), Z3
	VBROADCASTSS vmc<>+104(SB), Z10
	VFMADD213PS Z10, Z2, Z3
	VBROADCASTSS vmc<>+100(SB), Z10
	VFMADD213PS Z10, Z2, Z3
	VBROADCASTSS vmc<>+96(SB), Z10
	VFMADD213PS Z10, Z2, Z3
	VBROADCASTSS vmc<>+92(SB), Z10
	VFMADD213PS Z10, Z2, Z3
	VBROADCASTSS vmc<>+88(SB), Z10
	VFMADD213PS Z10, Z2, Z3
	VMULPS Z2, Z0, Z4
	VMULPS Z3, Z4, Z4
	VBROADCASTSS vmc<>+84(SB), Z10
	VFMADD231PS Z10, Z0, Z4
	// otherwise: sign(x) (1 - t e^{-x^2 + N(t)}), t = 2/(2+|x|)
	VADDPS Z31, Z1, Z5
	VDIVPS Z5, Z31, Z5
	VBROADCASTSS vmc<>+148(SB), Z6
	VBROADCASTSS vmc<>+144(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+140(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+136(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+132(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+128(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+124(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+120(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+116(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VBROADCASTSS vmc<>+112(SB), Z10
	VFMADD213PS Z10, Z5, Z6
	VFNMADD231PS Z1, Z1, Z6
	EXP512(Z6, Z7, Z8, Z11)
	VMULPS Z5, Z6, Z6
	VSUBPS Z6, Z27, Z6
	VORPS Z9, Z6, Z6
	VCMPPS $1, Z27, Z1, K1
	VMOVAPS Z4, K1, Z6
	VMOVUPS Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  erfloop
erfdone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------- AVX2

// EXP256 sets x = e^in (in is kept): in clamped to the float32 range of
// exp, n = round(x log2 e), r = x - n ln2, e^r by the polynomial, times
// 2^n built in two exponent fields (so n = 128 and n down to -150 stay
// exact); in > 88.7228 gives +Inf and in < -103.972 gives 0, as the Go
// twin. NaN propagates through the clamps (first operand in).
#define EXP256(in, x, n, p, z, t) \
	VBROADCASTSS C_LO2, t; \
	VMAXPS in, t, x; \
	VBROADCASTSS C_HI2, t; \
	VMINPS x, t, x; \
	VBROADCASTSS C_LOG2E, n; \
	VMULPS n, x, n; \
	VROUNDPS $0, n, n; \
	VBROADCASTSS C_LN2HI, t; \
	VFNMADD231PS t, n, x; \
	VBROADCASTSS C_LN2LO, t; \
	VFNMADD231PS t, n, x; \
	VMULPS x, x, z; \
	VBROADCASTSS C_P0, p; \
	VBROADCASTSS C_P1, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS C_P2, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS C_P3, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS C_P4, t; \
	VFMADD213PS t, x, p; \
	VBROADCASTSS C_P5, t; \
	VFMADD213PS t, x, p; \
	VFMADD213PS x, z, p; \
	VBROADCASTSS C_ONE, t; \
	VADDPS t, p, p; \
	VCVTPS2DQ n, n; \
	VPSRAD $1, n, z; \
	VPSUBD z, n, n; \
	VPBROADCASTD C_BIAS, t; \
	VPADDD t, z, z; \
	VPSLLD $23, z, z; \
	VPADDD t, n, n; \
	VPSLLD $23, n, n; \
	VMULPS z, p, p; \
	VMULPS n, p, x; \
	VBROADCASTSS C_HI2, t; \
	VCMPPS $0x1e, t, in, z; \
	VBROADCASTSS C_INF, t; \
	VBLENDVPS z, t, x, x; \
	VBROADCASTSS C_LO2, t; \
	VCMPPS $0x11, t, in, z; \
	VANDNPS x, z, x

// func vexpAVX2(dst, src *float32, n int)   (n a multiple of 8)
TEXT ·vexpAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
exp2loop:
	CMPQ CX, $0
	JLE  exp2done
	VMOVUPS (SI), Y0
	EXP256(Y0, Y1, Y2, Y3, Y4, Y5)
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  exp2loop
exp2done:
	VZEROUPPER
	RET

// func vsigmoidAVX2(dst, src *float32, n int)
TEXT ·vsigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS C_SIGN, Y15
	VBROADCASTSS C_ONE, Y14
sig2loop:
	CMPQ CX, $0
	JLE  sig2done
	VMOVUPS (SI), Y0
	VXORPS Y15, Y0, Y0
	EXP256(Y0, Y1, Y2, Y3, Y4, Y5)
	VADDPS Y14, Y1, Y1
	VDIVPS Y1, Y14, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  sig2loop
sig2done:
	VZEROUPPER
	RET

// func vtanhAVX2(dst, src *float32, n int)
TEXT ·vtanhAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS C_SIGN, Y15
	VBROADCASTSS C_ONE, Y14
	VBROADCASTSS C_ABS, Y13
tanh2loop:
	CMPQ CX, $0
	JLE  tanh2done
	VMOVUPS (SI), Y0
	VANDPS Y13, Y0, Y1
	VANDPS Y15, Y0, Y9
	VMULPS Y0, Y0, Y2
	VBROADCASTSS C_T0, Y3
	VBROADCASTSS C_T1, Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS C_T2, Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS C_T3, Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS C_T4, Y10
	VFMADD213PS Y10, Y2, Y3
	VMULPS Y2, Y0, Y4
	VFMADD213PS Y0, Y4, Y3
	VADDPS Y1, Y1, Y5
	EXP256(Y5, Y6, Y7, Y8, Y11, Y10)
	VADDPS Y14, Y6, Y6
	VBROADCASTSS C_TWO, Y10
	VDIVPS Y6, Y10, Y6
	VSUBPS Y6, Y14, Y6
	VORPS Y9, Y6, Y6
	VBROADCASTSS C_TB, Y10
	VCMPPS $1, Y10, Y1, Y11
	VBLENDVPS Y11, Y3, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  tanh2loop
tanh2done:
	VZEROUPPER
	RET

// func verfAVX2(dst, src *float32, n int)
TEXT ·verfAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS C_SIGN, Y15
	VBROADCASTSS C_ONE, Y14
	VBROADCASTSS C_ABS, Y13
	VBROADCASTSS C_TWO, Y12
erf2loop:
	CMPQ CX, $0
	JLE  erf2done
	VMOVUPS (SI), Y0
	VANDPS Y13, Y0, Y1
	VANDPS Y15, Y0, Y9
	VMULPS Y0, Y0, Y2
	VBROADCASTSS vmc<>+108(SB), Y3
	VBROADCASTSS vmc<>+104(SB), Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS vmc<>+100(SB), Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS vmc<>+96(SB), Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS vmc<>+92(SB), Y10
	VFMADD213PS Y10, Y2, Y3
	VBROADCASTSS vmc<>+88(SB), Y10
	VFMADD213PS Y10, Y2, Y3
	VMULPS Y2, Y0, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS vmc<>+84(SB), Y10
	VFMADD231PS Y10, Y0, Y4
	VADDPS Y12, Y1, Y5
	VDIVPS Y5, Y12, Y5
	VBROADCASTSS vmc<>+148(SB), Y6
	VBROADCASTSS vmc<>+144(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+140(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+136(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+132(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+128(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+124(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+120(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+116(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VBROADCASTSS vmc<>+112(SB), Y10
	VFMADD213PS Y10, Y5, Y6
	VFNMADD231PS Y1, Y1, Y6
	EXP256(Y6, Y7, Y8, Y10, Y11, Y2)
	VMULPS Y5, Y7, Y7
	VSUBPS Y7, Y14, Y7
	VORPS Y9, Y7, Y7
	VCMPPS $1, Y14, Y1, Y11
	VBLENDVPS Y11, Y4, Y7, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  erf2loop
erf2done:
	VZEROUPPER
	RET
