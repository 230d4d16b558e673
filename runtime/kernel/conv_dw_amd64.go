//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

var dwAVX512 = asm.ISA() == "avx512"

// dwRow sets dst[j] = bias + sum_{t<9} w[t]*src[offs[t]+j] for j <
// len(dst), then clamps it to [lo, hi] when clamp is set (max then min,
// as Clip). src must hold offs[t]+len(dst) floats for every t: the
// caller checks that once per channel (the assembly does not).
func dwRow(dst, src []float32, offs *[9]int, w *[9]float32, bias float32, clamp bool, lo, hi float32) {
	if !dwAVX512 || len(dst) == 0 {
		dwRowGo(dst, src, offs, w, bias, clamp, lo, hi)
		return
	}
	var c int
	if clamp {
		c = 1
	}
	dwRowAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), offs, w, len(dst), bias, lo, hi, c)
}

// dwRowAVX512 is dwRow, sixteen outputs per step, the tail masked.
//
//go:noescape
func dwRowAVX512(dst, src *float32, offs *[9]int, w *[9]float32, n int, bias, lo, hi float32, clamp int)

// gatherStrided sets dst[i] = src[i*stride]; stride 2 (the phase planes of
// stride-2 convolutions) runs sixteen lanes per step.
func gatherStrided(dst, src []float32, stride int) {
	n := len(dst)
	if n == 0 {
		return
	}
	if stride == 2 && dwAVX512 {
		_ = src[2*n-2]
		gatherEvenAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), n)
		return
	}
	gatherStridedGo(dst, src, stride)
}

// gatherEvenAVX512 sets dst[i] = src[2*i] for i < n, reading src[:2n-1].
//
//go:noescape
func gatherEvenAVX512(dst, src *float32, n int)
