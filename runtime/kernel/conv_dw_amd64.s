//go:build amd64 && !noasm

#include "textflag.h"

// One vector of 16 outputs: Z12 = bias + sum_t w[t]*src[offs[t]] at SI.
#define DWTAPS \
	VMOVAPS      Z9, Z12; \
	VFMADD231PS  (SI)(R8*4), Z0, Z12; \
	VFMADD231PS  (SI)(R9*4), Z1, Z12; \
	VFMADD231PS  (SI)(R10*4), Z2, Z12; \
	VFMADD231PS  (SI)(R11*4), Z3, Z12; \
	VFMADD231PS  (SI)(R12*4), Z4, Z12; \
	VFMADD231PS  (SI)(R13*4), Z5, Z12; \
	VFMADD231PS  (SI)(R14*4), Z6, Z12; \
	VFMADD231PS  (SI)(R15*4), Z7, Z12; \
	VFMADD231PS  (SI)(BX*4), Z8, Z12

// func dwRowsAVX512(dst, src *float32, offs *[9]int, w *[9]float32, n, rows, dstStride, srcStride int, bias, lo, hi float32, clamp int)
// For each of rows rows (dst and src advancing by their strides, in
// floats): dst[j] = bias + sum_t w[t]*src[offs[t]+j] for j < n, clamped
// when clamp != 0; sixteen outputs per step, the tail masked.
TEXT ·dwRowsAVX512(SB), NOSPLIT, $0-88
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), AX
	MOVQ w+24(FP), DX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ 32(AX), R12
	MOVQ 40(AX), R13
	MOVQ 48(AX), R14
	MOVQ 56(AX), R15
	MOVQ 64(AX), BX
	VBROADCASTSS 0(DX), Z0
	VBROADCASTSS 4(DX), Z1
	VBROADCASTSS 8(DX), Z2
	VBROADCASTSS 12(DX), Z3
	VBROADCASTSS 16(DX), Z4
	VBROADCASTSS 20(DX), Z5
	VBROADCASTSS 24(DX), Z6
	VBROADCASTSS 28(DX), Z7
	VBROADCASTSS 32(DX), Z8
	VBROADCASTSS bias+64(FP), Z9
	VBROADCASTSS lo+68(FP), Z10
	VBROADCASTSS hi+72(FP), Z11
	// Tail mask for n%16 lanes.
	MOVQ n+32(FP), CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1

rowloop:
	MOVQ n+32(FP), CX
	MOVQ DI, AX  // row start of dst
	MOVQ SI, DX  // row start of src

loop:
	CMPQ CX, $16
	JL   tail
	DWTAPS
	CMPQ clamp+80(FP), $0
	JEQ  store
	VMAXPS Z10, Z12, Z12
	VMINPS Z11, Z12, Z12

store:
	VMOVUPS Z12, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop

tail:
	TESTQ CX, CX
	JZ    nextrow
	VMOVAPS Z9, Z12
	VMOVUPS.Z (SI)(R8*4), K1, Z13
	VFMADD231PS Z13, Z0, Z12
	VMOVUPS.Z (SI)(R9*4), K1, Z13
	VFMADD231PS Z13, Z1, Z12
	VMOVUPS.Z (SI)(R10*4), K1, Z13
	VFMADD231PS Z13, Z2, Z12
	VMOVUPS.Z (SI)(R11*4), K1, Z13
	VFMADD231PS Z13, Z3, Z12
	VMOVUPS.Z (SI)(R12*4), K1, Z13
	VFMADD231PS Z13, Z4, Z12
	VMOVUPS.Z (SI)(R13*4), K1, Z13
	VFMADD231PS Z13, Z5, Z12
	VMOVUPS.Z (SI)(R14*4), K1, Z13
	VFMADD231PS Z13, Z6, Z12
	VMOVUPS.Z (SI)(R15*4), K1, Z13
	VFMADD231PS Z13, Z7, Z12
	VMOVUPS.Z (SI)(BX*4), K1, Z13
	VFMADD231PS Z13, Z8, Z12
	CMPQ clamp+80(FP), $0
	JEQ  tstore
	VMAXPS Z10, Z12, Z12
	VMINPS Z11, Z12, Z12

tstore:
	VMOVUPS Z12, K1, (DI)

nextrow:
	MOVQ dstStride+48(FP), CX
	LEAQ (AX)(CX*4), DI
	MOVQ srcStride+56(FP), CX
	LEAQ (DX)(CX*4), SI
	DECQ rows+40(FP)
	JNZ  rowloop
	VZEROUPPER
	RET

// Lane indices of the even elements of two concatenated vectors.
DATA evenIdx<>+0(SB)/4, $0
DATA evenIdx<>+4(SB)/4, $2
DATA evenIdx<>+8(SB)/4, $4
DATA evenIdx<>+12(SB)/4, $6
DATA evenIdx<>+16(SB)/4, $8
DATA evenIdx<>+20(SB)/4, $10
DATA evenIdx<>+24(SB)/4, $12
DATA evenIdx<>+28(SB)/4, $14
DATA evenIdx<>+32(SB)/4, $16
DATA evenIdx<>+36(SB)/4, $18
DATA evenIdx<>+40(SB)/4, $20
DATA evenIdx<>+44(SB)/4, $22
DATA evenIdx<>+48(SB)/4, $24
DATA evenIdx<>+52(SB)/4, $26
DATA evenIdx<>+56(SB)/4, $28
DATA evenIdx<>+60(SB)/4, $30
GLOBL evenIdx<>(SB), RODATA|NOPTR, $64

// func gatherEvenAVX512(dst, src *float32, n, rows, dstStride, srcStride int)
// dst[r*dstStride+i] = src[r*srcStride+2i] for i < n, r < rows; reads
// src[r*srcStride : r*srcStride+2n-1] only (the tail is masked).
TEXT ·gatherEvenAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+24(FP), R9
	MOVQ dstStride+32(FP), R10
	SHLQ $2, R10
	MOVQ srcStride+40(FP), R11
	SHLQ $2, R11
	VMOVUPS evenIdx<>(SB), Z2
	// Tail masks for rem = n%16: source lanes [0, 2rem-1) over two
	// vectors (K1, K2), rem destination lanes (K3).
	MOVQ n+16(FP), CX
	ANDQ $15, CX
	LEAQ -1(CX)(CX*1), BX
	XORL AX, AX
	TESTQ CX, CX
	JZ   gm1
	MOVL $0xffff, AX
	CMPQ BX, $16
	JGE  gm1
	MOVL $1, AX
	MOVQ CX, R8
	MOVQ BX, CX
	SHLL CX, AX
	MOVQ R8, CX
	DECL AX

gm1:
	KMOVW AX, K1
	XORL AX, AX
	SUBQ $16, BX
	JLE  gm2
	MOVL $1, AX
	MOVQ CX, R8
	MOVQ BX, CX
	SHLL CX, AX
	MOVQ R8, CX
	DECL AX

gm2:
	KMOVW AX, K2
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3

grow:
	MOVQ n+16(FP), CX
	MOVQ DI, R12
	MOVQ SI, R13

gloop:
	CMPQ CX, $16
	JL   gtail
	VMOVUPS   (SI), Z0
	VPERMT2PS 64(SI), Z2, Z0
	VMOVUPS   Z0, (DI)
	ADDQ $128, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gloop

gtail:
	TESTQ CX, CX
	JZ    gnext
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VPERMT2PS Z1, Z2, Z0
	VMOVUPS Z0, K3, (DI)

gnext:
	LEAQ (R12)(R10*1), DI
	LEAQ (R13)(R11*1), SI
	DECQ R9
	JNZ  grow
	VZEROUPPER
	RET
