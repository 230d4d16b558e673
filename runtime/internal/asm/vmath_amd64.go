//go:build amd64 && !noasm

package asm

import "unsafe"

// The vector routines below take whole vectors (n a multiple of 16 for
// AVX-512, 8 for AVX2); vapply runs the tail through the same routine on a
// padded copy, so every element gets the same instructions whatever the
// slice length.

//go:noescape
func vexpAVX512(dst, src *float32, n int)

//go:noescape
func vsigmoidAVX512(dst, src *float32, n int)

//go:noescape
func vtanhAVX512(dst, src *float32, n int)

//go:noescape
func verfAVX512(dst, src *float32, n int)

//go:noescape
func vexpAVX2(dst, src *float32, n int)

//go:noescape
func vsigmoidAVX2(dst, src *float32, n int)

//go:noescape
func vtanhAVX2(dst, src *float32, n int)

//go:noescape
func verfAVX2(dst, src *float32, n int)

type vfunc func(dst, src *float32, n int)

func vapply(f512, f2 vfunc, fgo func(dst, src []float32), dst, src []float32) {
	var f vfunc
	w := 16
	switch {
	case useAVX512:
		f = f512
	case useAVX2:
		f, w = f2, 8
	default:
		fgo(dst, src)
		return
	}
	n := len(src)
	body := n &^ (w - 1)
	if body > 0 {
		f(unsafe.SliceData(dst), unsafe.SliceData(src), body)
	}
	if body < n {
		var buf [16]float32
		copy(buf[:], src[body:])
		f(&buf[0], &buf[0], w)
		copy(dst[body:n], buf[:])
	}
}

func vexp(dst, src []float32)     { vapply(vexpAVX512, vexpAVX2, vexpGo, dst, src) }
func vsigmoid(dst, src []float32) { vapply(vsigmoidAVX512, vsigmoidAVX2, vsigmoidGo, dst, src) }
func vtanh(dst, src []float32)    { vapply(vtanhAVX512, vtanhAVX2, vtanhGo, dst, src) }
func verf(dst, src []float32)     { vapply(verfAVX512, verfAVX2, verfGo, dst, src) }
