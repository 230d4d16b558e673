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
