//go:build amd64 && !noasm

package asm

import "unsafe"

// sgemvAccAVX512 is SgemvAcc for n a multiple of 16 (gemv_amd64.s):
// 128-column blocks in eight ZMM accumulators, then 16-column blocks.
//
//go:noescape
func sgemvAccAVX512(k, n int, x, b *float32, ldb int, c *float32)

// sgemvAccAVX2 is SgemvAcc for n a multiple of 8: 64-column blocks in
// eight YMM accumulators, then 8-column blocks.
//
//go:noescape
func sgemvAccAVX2(k, n int, x, b *float32, ldb int, c *float32)

func sgemvAcc(x, b []float32, ldb int, c []float32) {
	w := 0
	switch {
	case useAVX512:
		w = 16
	case useAVX2:
		w = 8
	default:
		sgemvAccGo(x, b, ldb, c)
		return
	}
	n := len(c)
	body := n &^ (w - 1)
	if body > 0 {
		if w == 16 {
			sgemvAccAVX512(len(x), body, unsafe.SliceData(x), unsafe.SliceData(b), ldb, unsafe.SliceData(c))
		} else {
			sgemvAccAVX2(len(x), body, unsafe.SliceData(x), unsafe.SliceData(b), ldb, unsafe.SliceData(c))
		}
	}
	if body < n {
		sgemvAccGo(x, b[body:], ldb, c[body:])
	}
}
