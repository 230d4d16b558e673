//go:build amd64 && !noasm

package asm

import (
	"math"
	"unsafe"
)

// The vector bodies take whole vectors (n a multiple of 16 for AVX-512, 8
// for AVX2, n > 0 for the max); the wrappers run the tail through the
// same routine on a copy padded with -Inf (neutral for the maximum, and
// e^-Inf = 0 adds nothing to the sum).

//go:noescape
func vmaxAVX512(x *float32, n int) float32

//go:noescape
func vexpsumAVX512(dst, src *float32, n int, m float32) float32

//go:noescape
func vscaleAVX512(x *float32, n int, f float32)

//go:noescape
func vmaxAVX2(x *float32, n int) float32

//go:noescape
func vexpsumAVX2(dst, src *float32, n int, m float32) float32

//go:noescape
func vscaleAVX2(x *float32, n int, f float32)

func vwidth() int {
	switch {
	case useAVX512:
		return 16
	case useAVX2:
		return 8
	}
	return 0
}

func vmax(x []float32) float32 {
	w := vwidth()
	if w == 0 {
		return vmaxGo(x)
	}
	n := len(x)
	body := n &^ (w - 1)
	m := float32(math.Inf(-1))
	if body > 0 {
		if w == 16 {
			m = vmaxAVX512(unsafe.SliceData(x), body)
		} else {
			m = vmaxAVX2(unsafe.SliceData(x), body)
		}
	}
	for _, v := range x[body:] {
		if v > m {
			m = v
		}
	}
	return m
}

func vexpsum(dst, src []float32, m float32) float32 {
	w := vwidth()
	if w == 0 {
		return vexpsumGo(dst, src, m)
	}
	n := len(src)
	body := n &^ (w - 1)
	var s float32
	if body > 0 {
		if w == 16 {
			s = vexpsumAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), body, m)
		} else {
			s = vexpsumAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), body, m)
		}
	}
	if body < n {
		var buf [16]float32
		for i := range buf {
			buf[i] = float32(math.Inf(-1))
		}
		copy(buf[:], src[body:])
		if w == 16 {
			s += vexpsumAVX512(&buf[0], &buf[0], w, m)
		} else {
			s += vexpsumAVX2(&buf[0], &buf[0], w, m)
		}
		copy(dst[body:n], buf[:])
	}
	return s
}

func vscale(x []float32, f float32) {
	w := vwidth()
	if w == 0 {
		vscaleGo(x, f)
		return
	}
	n := len(x)
	body := n &^ (w - 1)
	if body > 0 {
		if w == 16 {
			vscaleAVX512(unsafe.SliceData(x), body, f)
		} else {
			vscaleAVX2(unsafe.SliceData(x), body, f)
		}
	}
	for i := body; i < n; i++ {
		x[i] *= f
	}
}
