//go:build amd64 && !noasm

package asm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// asmKernels lists the assembly micro-kernels this CPU can run, so that
// each is tested whichever one init chose.
func asmKernels() []tileKernel {
	var ks []tileKernel
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, tileKernel{"avx2", 6, 16, func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernelAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
		}})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		ks = append(ks, tileKernel{"avx512", 8, 32, func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernelAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
		}})
	}
	return ks
}
