//go:build amd64 && !noasm

#include "textflag.h"

// func epRowsAVX512(c *float32, ldc, rows, n int, rowBias, colBias *float32, lo, hi float32, flags int)
TEXT ·epRowsAVX512(SB), NOSPLIT, $0-64
	MOVQ c+0(FP), DI
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), R9
	MOVQ rowBias+32(FP), R10
	MOVQ colBias+40(FP), R11
	VBROADCASTSS lo+48(FP), Z10
	VBROADCASTSS hi+52(FP), Z11
	MOVQ flags+56(FP), R12

row:
	VPXORD Z2, Z2, Z2
	TESTQ $1, R12
	JZ    nobias
	VBROADCASTSS (R10), Z2
	ADDQ  $4, R10

nobias:
	MOVQ n+24(FP), CX
	MOVQ DI, SI  // column pointer in C
	MOVQ R11, DX // column pointer in colBias

col:
	CMPQ CX, $16
	JL   coltail
	VADDPS (SI), Z2, Z0
	TESTQ  $2, R12
	JZ     nocb
	VADDPS (DX), Z0, Z0

nocb:
	TESTQ  $4, R12
	JZ     nocl
	VMAXPS Z10, Z0, Z0
	VMINPS Z11, Z0, Z0

nocl:
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JMP  col

coltail:
	TESTQ CX, CX
	JZ    nextrow
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VADDPS Z2, Z0, Z0
	TESTQ  $2, R12
	JZ     nocbt
	VMOVUPS.Z (DX), K1, Z1
	VADDPS Z1, Z0, Z0

nocbt:
	TESTQ  $4, R12
	JZ     noclt
	VMAXPS Z10, Z0, Z0
	VMINPS Z11, Z0, Z0

noclt:
	VMOVUPS Z0, K1, (SI)

nextrow:
	ADDQ R8, DI
	DECQ R9
	JNZ  row
	VZEROUPPER
	RET

// func biasActRowAVX512(dst, src, z *float32, n int, b, lo, hi float32, flags int)
TEXT ·biasActRowAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ z+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS b+32(FP), Z2
	VBROADCASTSS lo+36(FP), Z10
	VBROADCASTSS hi+40(FP), Z11
	MOVQ flags+48(FP), R12

loop:
	CMPQ CX, $16
	JL   tail
	VADDPS (SI), Z2, Z0
	TESTQ  $8, R12
	JZ     noz
	VADDPS (DX), Z0, Z0

noz:
	TESTQ  $4, R12
	JZ     nocl
	VMAXPS Z10, Z0, Z0
	VMINPS Z11, Z0, Z0

nocl:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	SUBQ $16, CX
	JMP  loop

tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VADDPS Z2, Z0, Z0
	TESTQ  $8, R12
	JZ     nozt
	VMOVUPS.Z (DX), K1, Z1
	VADDPS Z1, Z0, Z0

nozt:
	TESTQ  $4, R12
	JZ     noclt
	VMAXPS Z10, Z0, Z0
	VMINPS Z11, Z0, Z0

noclt:
	VMOVUPS Z0, K1, (DI)

done:
	VZEROUPPER
	RET
