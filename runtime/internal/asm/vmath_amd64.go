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

// vop names a vector routine; vcall dispatches on it with direct calls,
// so that escape analysis sees the noescape assembly and slices of stack
// arrays passed to Exp and friends stay on the stack.
type vop int

const (
	opExp vop = iota
	opSigmoid
	opTanh
	opErf
)

func vcall(op vop, wide bool, dst, src *float32, n int) {
	if wide {
		switch op {
		case opExp:
			vexpAVX512(dst, src, n)
		case opSigmoid:
			vsigmoidAVX512(dst, src, n)
		case opTanh:
			vtanhAVX512(dst, src, n)
		case opErf:
			verfAVX512(dst, src, n)
		}
		return
	}
	switch op {
	case opExp:
		vexpAVX2(dst, src, n)
	case opSigmoid:
		vsigmoidAVX2(dst, src, n)
	case opTanh:
		vtanhAVX2(dst, src, n)
	case opErf:
		verfAVX2(dst, src, n)
	}
}

func vgo(op vop, dst, src []float32) {
	switch op {
	case opExp:
		vexpGo(dst, src)
	case opSigmoid:
		vsigmoidGo(dst, src)
	case opTanh:
		vtanhGo(dst, src)
	case opErf:
		verfGo(dst, src)
	}
}

func vapply(op vop, dst, src []float32) {
	w := 16
	switch {
	case useAVX512:
	case useAVX2:
		w = 8
	default:
		vgo(op, dst, src)
		return
	}
	n := len(src)
	body := n &^ (w - 1)
	if body > 0 {
		vcall(op, w == 16, unsafe.SliceData(dst), unsafe.SliceData(src), body)
	}
	if body < n {
		var buf [16]float32
		copy(buf[:], src[body:])
		vcall(op, w == 16, &buf[0], &buf[0], w)
		copy(dst[body:n], buf[:])
	}
}

func vexp(dst, src []float32)     { vapply(opExp, dst, src) }
func vsigmoid(dst, src []float32) { vapply(opSigmoid, dst, src) }
func vtanh(dst, src []float32)    { vapply(opTanh, dst, src) }
func verf(dst, src []float32)     { vapply(opErf, dst, src) }
