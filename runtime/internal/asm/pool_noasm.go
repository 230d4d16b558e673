//go:build !amd64 || noasm

package asm

func maxpool2x2(dst, r0, r1 []float32) { maxpool2x2Go(dst, r0, r1) }

func maxpoolgrad2x2(d0, d1, r0, r1, dy []float32) { maxpoolgrad2x2Go(d0, d1, r0, r1, dy) }
