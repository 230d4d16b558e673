// Package asm holds kiln's hand-written AVX2/FMA routines and their pure-Go
// twins. Every exported routine has the same semantics on every build; the
// instruction set is chosen once, at init, from golang.org/x/sys/cpu:
// AVX-512 (F, DQ) when present, else AVX2+FMA when the CPU has both, the Go twin otherwise, on non-amd64
// builds, with -tags noasm, or when the environment variable KILN_NOASM=1.
//
// Routines trust their arguments beyond the length checks they document;
// callers (runtime/kernel) check shapes once.
package asm

import "os"

// envSet reports whether the environment variable name is set to
// something other than "" or "0". KILN_NOASM=1 forces the Go twins;
// KILN_NOAVX512=1 keeps AVX2 on a CPU with AVX-512.
func envSet(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0"
}

// MaxMR and MaxNR bound the SGEMM micro-tile of every kernel.
const (
	MaxMR = 8
	MaxNR = 32
)

// tile is the active micro-kernel's tile, chosen at init.
var tileMR, tileNR = 6, 16

// Tile returns the rows and columns of the active SGEMM micro-tile: 8x32
// (16 ZMM accumulators) with AVX-512, 6x16 (12 YMM accumulators) with
// AVX2/FMA, 6x16 in the Go twin. Packed panels use this geometry.
func Tile() (mr, nr int) { return tileMR, tileNR }

// ISA names the instruction set of the active routines: "avx512",
// "avx2", or "go".
func ISA() string {
	switch {
	case useAVX512:
		return "avx512"
	case useAVX2:
		return "avx2"
	}
	return "go"
}
