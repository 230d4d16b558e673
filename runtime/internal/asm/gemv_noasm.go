//go:build !amd64 || noasm

package asm

func sgemvAcc(x, b []float32, ldb int, c []float32) { sgemvAccGo(x, b, ldb, c) }
