//go:build !amd64 || noasm

package kernel

// dwRows computes rows output rows of a 3x3 window sum: for r < rows,
// dst[r*dstStride+j] = bias + sum_{t<9} w[t]*src[r*srcStride+offs[t]+j]
// for j < n, then clamped to [lo, hi] when clamp is set (max then min, as
// Clip).
func dwRows(dst, src []float32, offs *[9]int, w *[9]float32, n, rows, dstStride, srcStride int, bias float32, clamp bool, lo, hi float32) {
	dwRowsGo(dst, src, offs, w, n, rows, dstStride, srcStride, bias, clamp, lo, hi)
}

// gatherRows sets dst[r*dstStride+i] = src[r*srcStride+i*stride] for
// i < n, r < rows.
func gatherRows(dst, src []float32, n, rows, dstStride, srcStride, stride int) {
	gatherRowsGo(dst, src, n, rows, dstStride, srcStride, stride)
}
