package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// rowImpl is one implementation of the row operations.
type rowImpl struct {
	name   string
	max    func(x []float32) float32
	expsum func(dst, src []float32, m float32) float32
	scale  func(x []float32, f float32)
}

// checkRowOps holds an implementation to float64 references on every
// length up to 100 (vector bodies and tails), rows with -Inf entries
// included. Exponentials: 3e-7 relative to e^(x-m) with x - m rounded to
// float32 as the routines compute it (Exp's 2.5e-7 bound). Sums: float32 partial sums of at most 100
// terms in [0, 1], 1e-6 relative.
func checkRowOps(t *testing.T, im rowImpl) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 100; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 4)
			if r.IntN(7) == 0 {
				x[i] = float32(math.Inf(-1))
			}
		}
		want := float32(math.Inf(-1))
		for _, v := range x {
			want = max(want, v)
		}
		if got := im.max(x); got != want {
			t.Fatalf("%s: max of %d elements is %v, want %v", im.name, n, got, want)
		}
		if n == 0 || math.IsInf(float64(want), -1) {
			continue
		}
		dst := make([]float32, n+1)
		dst[n] = 42 // past the end: must stay
		s := im.expsum(dst[:n], x, want)
		var ws float64
		for i, v := range x {
			e := math.Exp(float64(v - want)) // the shift is rounded to float32
			ws += e
			if d := math.Abs(float64(dst[i]) - e); d > 3e-7*e {
				t.Fatalf("%s: n %d: e^(%v - %v) = %v, want %v", im.name, n, v, want, dst[i], e)
			}
		}
		if dst[n] != 42 {
			t.Fatalf("%s: n %d: wrote past the end", im.name, n)
		}
		if d := math.Abs(float64(s) - ws); d > 1e-6*ws {
			t.Fatalf("%s: n %d: sum %v, want %v", im.name, n, s, ws)
		}
		// In place.
		y := append([]float32(nil), x...)
		if s2 := im.expsum(y, y, want); s2 != s {
			t.Fatalf("%s: n %d: in place sum %v, want %v", im.name, n, s2, s)
		}
		for i := range y {
			if y[i] != dst[i] {
				t.Fatalf("%s: n %d: in place element %d differs", im.name, n, i)
			}
		}
		im.scale(y, 0.5)
		for i := range y {
			if y[i] != dst[i]*0.5 {
				t.Fatalf("%s: n %d: scale element %d is %v, want %v", im.name, n, i, y[i], dst[i]*0.5)
			}
		}
	}
}

func TestRowOps(t *testing.T) {
	checkRowOps(t, rowImpl{"dispatch (" + ISA() + ")", MaxF32, ExpShiftSum, ScaleF32})
	checkRowOps(t, rowImpl{"go", vmaxGo, vexpsumGo, vscaleGo})
}
