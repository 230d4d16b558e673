//go:build amd64 && !noasm

package asm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The ISA is decided once. KILN_NOASM=1 forces the Go twins;
// KILN_NOAVX512=1 stops at AVX2.
var (
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA && !envSet("KILN_NOASM")
	useAVX512 = useAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && !envSet("KILN_NOAVX512")
)

func init() {
	if useAVX512 {
		tileMR, tileNR = 8, 32
	}
}

// sgemmKernel is SgemmKernel without checks; see SgemmKernel.
func sgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	pa, pb, pc := unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c)
	switch {
	case useAVX512:
		sgemmKernelAVX512(k, pa, pb, pc, ldc, alpha, beta)
	case useAVX2:
		sgemmKernelAVX2(k, pa, pb, pc, ldc, alpha, beta)
	default:
		sgemmKernelGo(tileMR, tileNR, k, a, b, c, ldc, alpha, beta)
	}
}

// sgemmKernelAVX2 is the 6x16 FMA micro-kernel (sgemm_amd64.s).
//
//go:noescape
func sgemmKernelAVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512 is the 8x32 AVX-512 micro-kernel (sgemm512_amd64.s).
//
//go:noescape
func sgemmKernelAVX512(k int, a, b, c *float32, ldc int, alpha, beta float32)
