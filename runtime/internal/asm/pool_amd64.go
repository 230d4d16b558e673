//go:build amd64 && !noasm

package asm

import "unsafe"

// maxpool2x2AVX2 pools n outputs, n a positive multiple of 8.
//
//go:noescape
func maxpool2x2AVX2(dst, r0, r1 *float32, n int)

func maxpool2x2(dst, r0, r1 []float32) {
	n := len(dst)
	if !(useAVX2 || useAVX512) || n < 8 {
		maxpool2x2Go(dst, r0, r1)
		return
	}
	body := n &^ 7
	maxpool2x2AVX2(unsafe.SliceData(dst), unsafe.SliceData(r0), unsafe.SliceData(r1), body)
	if body < n {
		// The last eight outputs again, overlapping the body: each
		// output depends only on its own window.
		t := n - 8
		maxpool2x2AVX2(&dst[t], &r0[2*t], &r1[2*t], 8)
	}
}

// maxpoolgrad2x2AVX2 handles n windows, n a positive multiple of 8.
//
//go:noescape
func maxpoolgrad2x2AVX2(d0, d1, r0, r1, dy *float32, n int)

func maxpoolgrad2x2(d0, d1, r0, r1, dy []float32) {
	n := len(dy)
	if !(useAVX2 || useAVX512) || n < 8 {
		maxpoolgrad2x2Go(d0, d1, r0, r1, dy)
		return
	}
	body := n &^ 7
	maxpoolgrad2x2AVX2(&d0[0], &d1[0], &r0[0], &r1[0], &dy[0], body)
	if body < n {
		// The last eight windows again (each writes only its own places).
		t := n - 8
		maxpoolgrad2x2AVX2(&d0[2*t], &d1[2*t], &r0[2*t], &r1[2*t], &dy[t], 8)
	}
}
