//go:build amd64 && !noasm

package asm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

func asmGemv() []gemvVariant {
	var vs []gemvVariant
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		vs = append(vs, gemvVariant{"avx2", 16, func(k int, a, b, c []float32) {
			if k > 0 {
				sgemvPanelAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c))
			}
		}})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		vs = append(vs, gemvVariant{"avx512", 32, func(k int, a, b, c []float32) {
			if k > 0 {
				sgemvPanelAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c))
			}
		}})
	}
	return vs
}
