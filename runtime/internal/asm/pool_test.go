package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// MaxPool2x2 matches its Go twin bit for bit, NaNs in every window
// position included, for every length around the vector width.
func TestMaxPool2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	nan := float32(math.NaN())
	for n := 0; n <= 40; n++ {
		r0, r1 := make([]float32, 2*n+3), make([]float32, 2*n+3)
		for i := range r0 {
			r0[i], r1[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			switch r.IntN(12) {
			case 0:
				r0[i] = nan
			case 1:
				r1[i] = nan
			case 2:
				r1[i] = r0[i]
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		MaxPool2x2(got, r0, r1)
		maxpool2x2Go(want, r0, r1)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n %d: dst[%d] = %v, want %v (window %v %v %v %v)", n, i, got[i], want[i], r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1])
			}
		}
	}
}
