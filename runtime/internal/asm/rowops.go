package asm

import "math"

// Row operations of a softmax, vectorised: the maximum of a row, the
// shifted exponentials with their sum in one pass, and a row scale.

// MaxF32 returns the largest element of x, or -Inf when x is empty. A NaN
// element may or may not be returned (callers treat a NaN row as garbage
// in, garbage out).
func MaxF32(x []float32) float32 { return vmax(x) }

// ExpShiftSum sets dst[i] = e^(src[i]-m) for i < len(src), with Exp's
// accuracy, and returns the sum of the results (float32 partial sums in
// vector lanes, added at the end). dst may alias src. With m the row's
// maximum every result is in [0, 1] and the sum at least 1.
func ExpShiftSum(dst, src []float32, m float32) float32 {
	dst = dst[:len(src)]
	return vexpsum(dst, src, m)
}

// ScaleF32 sets x[i] *= f.
func ScaleF32(x []float32, f float32) { vscale(x, f) }

func vmaxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func vexpsumGo(dst, src []float32, m float32) float32 {
	var s float32
	for i, x := range src {
		e := exp1(x - m)
		dst[i] = e
		s += e
	}
	return s
}

func vscaleGo(x []float32, f float32) {
	for i := range x {
		x[i] *= f
	}
}
