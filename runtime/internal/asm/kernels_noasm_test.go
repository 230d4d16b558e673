//go:build !amd64 || noasm

package asm

func asmKernels() []tileKernel { return nil }

func asmVmath() []vmathSet { return nil }

func asmSgemvAccs() []sgemvAccImpl { return nil }
