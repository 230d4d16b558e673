//go:build !amd64 || noasm

package asm

func vmax(x []float32) float32                      { return vmaxGo(x) }
func vexpsum(dst, src []float32, m float32) float32 { return vexpsumGo(dst, src, m) }
func vscale(x []float32, f float32)                 { vscaleGo(x, f) }
