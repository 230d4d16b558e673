//go:build amd64 && !noasm

package asm

import "unsafe"

func epRows(c []float32, ldc, rows, n int, rowBias, colBias []float32, lo, hi float32, flags int) {
	if !useAVX512 {
		epRowsGo(c, ldc, rows, n, rowBias, colBias, lo, hi, flags)
		return
	}
	epRowsAVX512(unsafe.SliceData(c), ldc, rows, n, unsafe.SliceData(rowBias), unsafe.SliceData(colBias), lo, hi, flags)
}

func biasActRow(dst, src, z []float32, b, lo, hi float32, flags int) {
	if !useAVX512 {
		biasActRowGo(dst, src, z, b, lo, hi, flags)
		return
	}
	biasActRowAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), unsafe.SliceData(z), len(dst), b, lo, hi, flags)
}

// epRowsAVX512 is EpRows, sixteen columns per step, the tail masked.
//
//go:noescape
func epRowsAVX512(c *float32, ldc, rows, n int, rowBias, colBias *float32, lo, hi float32, flags int)

// biasActRowAVX512 is BiasActRow, sixteen columns per step, the tail masked.
//
//go:noescape
func biasActRowAVX512(dst, src, z *float32, n int, b, lo, hi float32, flags int)

func sgemmKernelEp(k int, a, b, c []float32, ldc int, alpha, beta float32, rowBias, colBias []float32, lo, hi float32, flags int) {
	if !useAVX512 {
		sgemmKernel(k, a, b, c, ldc, alpha, beta)
		epRowsGo(c, ldc, tileMR, tileNR, rowBias, colBias, lo, hi, flags)
		return
	}
	sgemmKernelEpAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta,
		unsafe.SliceData(rowBias), unsafe.SliceData(colBias), lo, hi, flags)
}

// sgemmKernelEpAVX512 is the 8x32 micro-kernel with the epilogue applied
// to the accumulators (sgemm512_amd64.s).
//
//go:noescape
func sgemmKernelEpAVX512(k int, a, b, c *float32, ldc int, alpha, beta float32, rowBias, colBias *float32, lo, hi float32, flags int)
