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

// asmVmath lists the vector math routines of every instruction set this
// CPU runs, each applied through vapply's tail handling.
func asmVmath() []vmathSet {
	var vs []vmathSet
	wrap := func(f func(dst, src *float32, n int), w int) func(dst, src []float32) {
		return func(dst, src []float32) {
			n := len(src)
			body := n &^ (w - 1)
			if body > 0 {
				f(&dst[0], &src[0], body)
			}
			if body < n {
				var buf [16]float32
				copy(buf[:], src[body:])
				f(&buf[0], &buf[0], w)
				copy(dst[body:n], buf[:])
			}
		}
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		vs = append(vs, vmathSet{"avx2", wrap(vexpAVX2, 8), wrap(vsigmoidAVX2, 8), wrap(vtanhAVX2, 8), wrap(verfAVX2, 8)})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		vs = append(vs, vmathSet{"avx512", wrap(vexpAVX512, 16), wrap(vsigmoidAVX512, 16), wrap(vtanhAVX512, 16), wrap(verfAVX512, 16)})
	}
	return vs
}

// asmSgemvAccs lists the SgemvAcc assembly variants this CPU runs.
func asmSgemvAccs() []sgemvAccImpl {
	var gs []sgemvAccImpl
	wrap := func(f func(k, n int, x, b *float32, ldb int, c *float32), w int) func(x, b []float32, ldb int, c []float32) {
		return func(x, b []float32, ldb int, c []float32) {
			n := len(c)
			body := n &^ (w - 1)
			if body > 0 {
				f(len(x), body, &x[0], &b[0], ldb, &c[0])
			}
			if body < n {
				sgemvAccGo(x, b[body:], ldb, c[body:])
			}
		}
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		gs = append(gs, sgemvAccImpl{"avx2", wrap(sgemvAccAVX2, 8)})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		gs = append(gs, sgemvAccImpl{"avx512", wrap(sgemvAccAVX512, 16)})
	}
	return gs
}
