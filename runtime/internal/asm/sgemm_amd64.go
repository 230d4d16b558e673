//go:build amd64 && !noasm

package asm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX2 is decided once: AVX2 and FMA present and KILN_NOASM unset.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && !noasmEnv()

// sgemmKernel is SgemmKernel without checks; see SgemmKernel.
func sgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if useAVX2 {
		sgemmKernelAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
		return
	}
	sgemmKernelGo(k, a, b, c, ldc, alpha, beta)
}

// sgemmKernelAVX2 is the 6x16 FMA micro-kernel (sgemm_amd64.s).
//
//go:noescape
func sgemmKernelAVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)
