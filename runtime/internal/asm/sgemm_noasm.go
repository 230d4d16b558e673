//go:build !amd64 || noasm

package asm

const useAVX2 = false

// sgemmKernel is SgemmKernel without checks; see SgemmKernel.
func sgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGo(k, a, b, c, ldc, alpha, beta)
}
