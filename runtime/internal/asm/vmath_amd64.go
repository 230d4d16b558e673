//go:build amd64 && !noasm

package asm

func vexp(dst, src []float32)     { vexpGo(dst, src) }
func vsigmoid(dst, src []float32) { vsigmoidGo(dst, src) }
func vtanh(dst, src []float32)    { vtanhGo(dst, src) }
func verf(dst, src []float32)     { verfGo(dst, src) }
