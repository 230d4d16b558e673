package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gemvVariants lists the SgemvPanel implementations to check: the
// dispatched one, the Go twin, and (on amd64) each assembly routine the CPU
// can run, each with its panel width.
type gemvVariant struct {
	name string
	nr   int
	f    func(k int, a, b, c []float32)
}

func TestSgemvPanel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	vs := append([]gemvVariant{
		{"dispatch-" + ISA(), tileNR, SgemvPanel},
		{"go32", 32, func(k int, a, b, c []float32) { sgemvPanelGo(32, k, a, b, c) }},
	}, asmGemv()...)
	for _, v := range vs {
		for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 64, 191, 784} {
			a, b := randSlice(r, k), randSlice(r, k*v.nr)
			c := randSlice(r, v.nr)
			want := make([]float64, v.nr)
			for j := range want {
				want[j] = float64(c[j])
				for p := 0; p < k; p++ {
					want[j] += float64(a[p]) * float64(b[p*v.nr+j])
				}
			}
			v.f(k, a, b, c)
			// k roundings of partial sums of at most k (values in [-1, 1]).
			tol := 2e-6 * float64(k+1)
			for j := range want {
				if d := math.Abs(float64(c[j]) - want[j]); d > tol {
					t.Fatalf("%s k=%d: c[%d] = %v, want %v", v.name, k, j, c[j], want[j])
				}
			}
		}
	}
}
