//go:build !amd64 || noasm

package asm

func asmGemv() []gemvVariant { return nil }
