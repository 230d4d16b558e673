//go:build amd64 && !noasm

#include "textflag.h"

// func maxpool2x2AVX2(dst, r0, r1 *float32, n int)
//
// Eight outputs per step: the even and odd columns of 16 elements of each
// row are separated with VSHUFPS (lane-interleaved, the same way for all
// four vectors), combined with VMAXPS in window order (VMAXPS keeps its
// second source unless the first is strictly greater, as the reference
// does), and the result put back in column order with one VPERMPD.
TEXT ·maxpool2x2AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ n+24(FP), CX

loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4 // r0 even columns
	VSHUFPS $0xDD, Y1, Y0, Y5 // r0 odd columns
	VSHUFPS $0x88, Y3, Y2, Y6 // r1 even columns
	VSHUFPS $0xDD, Y3, Y2, Y7 // r1 odd columns
	VMAXPS  Y4, Y5, Y4        // m = r0 odd > m ? r0 odd : m
	VMAXPS  Y4, Y6, Y4        // m = r1 even > m ? r1 even : m
	VMAXPS  Y4, Y7, Y4        // m = r1 odd > m ? r1 odd : m
	VPERMPD $0xD8, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     loop
	VZEROUPPER
	RET
