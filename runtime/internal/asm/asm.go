// Package asm holds kiln's hand-written AVX2/FMA routines and their pure-Go
// twins. Every exported routine has the same semantics on every build; the
// instruction set is chosen once, at init, from golang.org/x/sys/cpu:
// AVX2+FMA when the CPU has both, the Go twin otherwise, on non-amd64
// builds, with -tags noasm, or when the environment variable KILN_NOASM=1.
//
// Routines trust their arguments beyond the length checks they document;
// callers (runtime/kernel) check shapes once.
package asm

import "os"

// noasmEnv reports whether KILN_NOASM forces the generic path.
func noasmEnv() bool {
	v := os.Getenv("KILN_NOASM")
	return v != "" && v != "0"
}

// MR and NR are the rows and columns of the SGEMM micro-tile: the
// micro-kernel keeps an MR x NR block of C in 12 YMM accumulators.
const (
	MR = 6
	NR = 16
)

// HasAVX2 reports whether the AVX2/FMA routines are in use.
func HasAVX2() bool { return useAVX2 }
