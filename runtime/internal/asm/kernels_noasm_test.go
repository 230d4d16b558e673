//go:build !amd64 || noasm

package asm

func asmKernels() []tileKernel { return nil }
