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
