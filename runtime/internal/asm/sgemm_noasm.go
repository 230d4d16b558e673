//go:build !amd64 || noasm

package asm

const (
	useAVX2   = false
	useAVX512 = false
)

// sgemmKernel is SgemmKernel without checks; see SgemmKernel.
func sgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGo(tileMR, tileNR, k, a, b, c, ldc, alpha, beta)
}

func vexp(dst, src []float32)     { vexpGo(dst, src) }
func vsigmoid(dst, src []float32) { vsigmoidGo(dst, src) }
func vtanh(dst, src []float32)    { vtanhGo(dst, src) }
func verf(dst, src []float32)     { verfGo(dst, src) }

func sgemvPanel(k int, a, b, c []float32) { sgemvPanelGo(tileNR, k, a, b, c) }

func epRows(c []float32, ldc, rows, n int, rowBias, colBias []float32, lo, hi float32, flags int) {
	epRowsGo(c, ldc, rows, n, rowBias, colBias, lo, hi, flags)
}

func biasActRow(dst, src, z []float32, b, lo, hi float32, flags int) {
	biasActRowGo(dst, src, z, b, lo, hi, flags)
}

func sgemmKernelEp(k int, a, b, c []float32, ldc int, alpha, beta float32, rowBias, colBias []float32, lo, hi float32, flags int) {
	sgemmKernel(k, a, b, c, ldc, alpha, beta)
	epRowsGo(c, ldc, tileMR, tileNR, rowBias, colBias, lo, hi, flags)
}
