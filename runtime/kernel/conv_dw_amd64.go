//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

var dwAVX512 = asm.ISA() == "avx512"

// dwRows computes rows output rows of a 3x3 window sum: for r < rows,
// dst[r*dstStride+j] = bias + sum_{t<9} w[t]*src[r*srcStride+offs[t]+j]
// for j < n, then clamped to [lo, hi] when clamp is set (max then min, as
// Clip). The caller guarantees src and dst hold every element read or
// written (the assembly does not check).
func dwRows(dst, src []float32, offs *[9]int, w *[9]float32, n, rows, dstStride, srcStride int, bias float32, clamp bool, lo, hi float32) {
	if !dwAVX512 || n == 0 || rows == 0 {
		dwRowsGo(dst, src, offs, w, n, rows, dstStride, srcStride, bias, clamp, lo, hi)
		return
	}
	var c int
	if clamp {
		c = 1
	}
	dwRowsAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), offs, w, n, rows, dstStride, srcStride, bias, lo, hi, c)
}

// dwRowsAVX512 is dwRows, sixteen outputs per step, the tail masked.
//
//go:noescape
func dwRowsAVX512(dst, src *float32, offs *[9]int, w *[9]float32, n, rows, dstStride, srcStride int, bias, lo, hi float32, clamp int)

// gatherRows sets dst[r*dstStride+i] = src[r*srcStride+i*stride] for
// i < n, r < rows: the phase planes' rows; stride 2 runs sixteen lanes
// per step in one call for all rows.
func gatherRows(dst, src []float32, n, rows, dstStride, srcStride, stride int) {
	if n == 0 || rows == 0 {
		return
	}
	if stride == 2 && dwAVX512 {
		_ = dst[(rows-1)*dstStride+n-1]
		_ = src[(rows-1)*srcStride+2*n-2]
		gatherEvenAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), n, rows, dstStride, srcStride)
		return
	}
	gatherRowsGo(dst, src, n, rows, dstStride, srcStride, stride)
}

// gatherEvenAVX512 sets dst[r*dstStride+i] = src[r*srcStride+2i] for
// i < n, r < rows, reading src[r*srcStride : r*srcStride+2n-1] only.
//
//go:noescape
func gatherEvenAVX512(dst, src *float32, n, rows, dstStride, srcStride int)
