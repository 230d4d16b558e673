//go:build !amd64 || noasm

package asm

func maxpool2x2(dst, r0, r1 []float32) { maxpool2x2Go(dst, r0, r1) }
