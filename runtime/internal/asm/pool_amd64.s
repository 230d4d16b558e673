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

// func maxpoolgrad2x2AVX2(d0, d1, r0, r1, dy *float32, n int)
//
// Eight windows per step, in the lane order VSHUFPS leaves them (windows
// 0,1,4,5 | 2,3,6,7), dy permuted to match. The maximum is chained with
// ordered greater-than compares and blends in window order; each place
// gets dy masked by whether it was chosen (the last strictly greater one),
// and VUNPCKL/HPS interleave the four places back into the two rows in
// column order.
TEXT ·maxpoolgrad2x2AVX2(SB), NOSPLIT, $0-48
	MOVQ d0+0(FP), DI
	MOVQ d1+8(FP), R8
	MOVQ r0+16(FP), SI
	MOVQ r1+24(FP), DX
	MOVQ dy+32(FP), BX
	MOVQ n+40(FP), CX

gloop:
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   (DX), Y2
	VMOVUPS   32(DX), Y3
	VSHUFPS   $0x88, Y1, Y0, Y4 // a: r0 even columns
	VSHUFPS   $0xDD, Y1, Y0, Y5 // b: r0 odd columns
	VSHUFPS   $0x88, Y3, Y2, Y6 // c: r1 even columns
	VSHUFPS   $0xDD, Y3, Y2, Y7 // d: r1 odd columns
	VMOVUPS   (BX), Y8
	VPERMPD   $0xD8, Y8, Y8     // dy in the windows' lane order
	VCMPPS    $0x1E, Y4, Y5, Y9 // mb = b > a
	VBLENDVPS Y9, Y5, Y4, Y10   // best
	VCMPPS    $0x1E, Y10, Y6, Y11 // mc = c > best
	VBLENDVPS Y11, Y6, Y10, Y10
	VCMPPS    $0x1E, Y10, Y7, Y12 // md = d > best
	VANDNPS   Y11, Y12, Y13     // c chosen: mc and not md
	VORPS     Y11, Y12, Y14     // mc or md
	VANDNPS   Y9, Y14, Y15      // b chosen: mb and not (mc or md)
	VORPS     Y9, Y14, Y14      // mb or mc or md
	VANDNPS   Y8, Y14, Y0       // a's gradient
	VANDPS    Y8, Y15, Y1       // b's
	VANDPS    Y8, Y13, Y2       // c's
	VANDPS    Y8, Y12, Y3       // d's
	VUNPCKLPS Y1, Y0, Y4
	VUNPCKHPS Y1, Y0, Y5
	VUNPCKLPS Y3, Y2, Y6
	VUNPCKHPS Y3, Y2, Y7
	VMOVUPS   Y4, (DI)
	VMOVUPS   Y5, 32(DI)
	VMOVUPS   Y6, (R8)
	VMOVUPS   Y7, 32(R8)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, DI
	ADDQ      $64, R8
	ADDQ      $32, BX
	SUBQ      $8, CX
	JNZ       gloop
	VZEROUPPER
	RET
