//go:build amd64 && !noasm

package asm

import "unsafe"

func sgemvPanel(k int, a, b, c []float32) {
	pa, pb, pc := unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c)
	switch {
	case useAVX512:
		sgemvPanelAVX512(k, pa, pb, pc)
	case useAVX2:
		sgemvPanelAVX2(k, pa, pb, pc)
	default:
		sgemvPanelGo(tileNR, k, a, b, c)
	}
}

// sgemvPanelAVX512 is SgemvPanel for a 32-wide panel (sgemm_gemv_amd64.s).
//
//go:noescape
func sgemvPanelAVX512(k int, a, b, c *float32)

// sgemvPanelAVX2 is SgemvPanel for a 16-wide panel (sgemm_gemv_amd64.s).
//
//go:noescape
func sgemvPanelAVX2(k int, a, b, c *float32)
