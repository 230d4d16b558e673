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

// MaxPoolGrad2x2 matches its Go twin bit for bit (NaNs, ties and signed
// zeros in every window position), and the twin matches the definition.
func TestMaxPoolGrad2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	nan := float32(math.NaN())
	for n := 0; n <= 40; n++ {
		r0, r1 := make([]float32, 2*n), make([]float32, 2*n)
		dy := make([]float32, n)
		for i := range r0 {
			r0[i], r1[i] = float32(r.IntN(5)), float32(r.IntN(5)) // many ties
			switch r.IntN(14) {
			case 0:
				r0[i] = nan
			case 1:
				r1[i] = nan
			case 2:
				r0[i] = float32(math.Copysign(0, -1))
			}
		}
		for i := range dy {
			dy[i] = float32(r.NormFloat64())
		}
		g0, g1 := make([]float32, 2*n), make([]float32, 2*n)
		w0, w1 := make([]float32, 2*n), make([]float32, 2*n)
		for i := range g0 {
			g0[i], g1[i] = 7, 7 // every place must be written
		}
		MaxPoolGrad2x2(g0, g1, r0, r1, dy)
		maxpoolgrad2x2Go(w0, w1, r0, r1, dy)
		for i := range w0 {
			if math.Float32bits(g0[i]) != math.Float32bits(w0[i]) || math.Float32bits(g1[i]) != math.Float32bits(w1[i]) {
				t.Fatalf("n %d: place %d: got %v %v, want %v %v", n, i, g0[i], g1[i], w0[i], w1[i])
			}
		}
		// The twin against the definition: dy lands where MaxPool2x2's
		// choice came from.
		m := make([]float32, n)
		maxpool2x2Go(m, r0, r1)
		for i := range dy {
			win := []float32{r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1]}
			got := []float32{w0[2*i], w0[2*i+1], w1[2*i], w1[2*i+1]}
			at := -1
			for k, v := range got {
				if v != 0 || (dy[i] == 0 && k == 0) {
					at = k
					break
				}
			}
			if dy[i] != 0 && (at < 0 || math.Float32bits(win[at]) != math.Float32bits(m[i])) {
				t.Fatalf("n %d window %d %v: gradient at place %d, max %v", n, i, win, at, m[i])
			}
		}
	}
}
