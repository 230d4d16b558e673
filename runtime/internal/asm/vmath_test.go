package asm

import (
	"math"
	"testing"
)

// checkUnary compares f against ref (float64) on a dense sweep of
// [lo, hi] plus special values; relative error must stay below rtol where
// |ref| >= floor, absolute error below rtol*floor elsewhere.
func checkUnary(t *testing.T, name string, f func(dst, src []float32), ref func(float64) float64, lo, hi float64, rtol, floor float64) {
	t.Helper()
	const n = 1 << 20
	src := make([]float32, 0, n+64)
	for i := 0; i < n; i++ {
		src = append(src, float32(lo+(hi-lo)*float64(i)/n))
	}
	// Every length up to 40 exercises vector tails.
	src = append(src, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-6, -1e-6, float32(hi), float32(lo))
	dst := make([]float32, len(src))
	f(dst, src)
	worst, at := 0.0, 0.0
	for i, x := range src {
		want := ref(float64(x))
		got := float64(dst[i])
		err := math.Abs(got - want)
		if math.Abs(want) >= floor {
			err /= math.Abs(want)
		} else {
			err /= floor
		}
		if err > worst || math.IsNaN(err) {
			worst, at = err, float64(x)
		}
	}
	if !(worst <= rtol) {
		t.Errorf("%s: max relative error %.3g at x=%v (limit %.3g)", name, worst, at, rtol)
	}
	t.Logf("%s: max relative error %.3g at x=%v", name, worst, at)
	for l := 0; l <= 40; l++ {
		d := make([]float32, l+1)
		d[l] = 42
		f(d[:l], src[:l])
		for i := 0; i < l; i++ {
			if d[i] != dst[i] {
				t.Fatalf("%s: len %d: lane %d = %v, want %v", name, l, i, d[i], dst[i])
			}
		}
		if d[l] != 42 {
			t.Fatalf("%s: len %d wrote past the end", name, l)
		}
	}
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// The limits: float32 carries 24 bits (ulp/2 = 6e-8 relative); the
// polynomial methods here are within a few ulp. Below the floors, values
// are compared in absolute terms (subnormal range of exp; erf/tanh near 0
// are checked relative down to 1e-30 through the special values).
func TestExp(t *testing.T) {
	checkUnary(t, "Exp", Exp, math.Exp, -87, 88.7, 2e-7, 1e-37)
	checkUnary(t, "exp go", vexpGo, math.Exp, -87, 88.7, 2e-7, 1e-37)
	for _, v := range asmVmath() {
		checkUnary(t, "exp "+v.isa, v.exp, math.Exp, -87, 88.7, 2e-7, 1e-37)
	}
}

func TestSigmoid(t *testing.T) {
	checkUnary(t, "Sigmoid", Sigmoid, sigmoid64, -87, 30, 2e-7, 1e-37)
	checkUnary(t, "sigmoid go", vsigmoidGo, sigmoid64, -87, 30, 2e-7, 1e-37)
	for _, v := range asmVmath() {
		checkUnary(t, "sigmoid "+v.isa, v.sigmoid, sigmoid64, -87, 30, 2e-7, 1e-37)
	}
}

func TestTanh(t *testing.T) {
	checkUnary(t, "Tanh", Tanh, math.Tanh, -12, 12, 2e-7, 1e-37)
	checkUnary(t, "tanh go", vtanhGo, math.Tanh, -12, 12, 2e-7, 1e-37)
	for _, v := range asmVmath() {
		checkUnary(t, "tanh "+v.isa, v.tanh, math.Tanh, -12, 12, 2e-7, 1e-37)
	}
}

func TestErf(t *testing.T) {
	checkUnary(t, "Erf", Erf, math.Erf, -6, 6, 2e-7, 1e-37)
	checkUnary(t, "erf go", verfGo, math.Erf, -6, 6, 2e-7, 1e-37)
	for _, v := range asmVmath() {
		checkUnary(t, "erf "+v.isa, v.erf, math.Erf, -6, 6, 2e-7, 1e-37)
	}
}

// vmathSet is one instruction set's vector math routines.
type vmathSet struct {
	isa                     string
	exp, sigmoid, tanh, erf func(dst, src []float32)
}

func TestSpecials(t *testing.T) {
	for _, v := range asmVmath() {
		testSpecials(t, v)
	}
	testSpecials(t, vmathSet{"dispatch", Exp, Sigmoid, Tanh, Erf})
	testSpecials(t, vmathSet{"go", vexpGo, vsigmoidGo, vtanhGo, verfGo})
}

func testSpecials(t *testing.T, v vmathSet) {
	Exp, Sigmoid, Tanh, Erf := v.exp, v.sigmoid, v.tanh, v.erf
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	src := []float32{inf, -inf, nan, 200, -200}
	d := make([]float32, len(src))
	Exp(d, src)
	if d[0] != inf || d[1] != 0 || d[2] == d[2] || d[3] != inf || d[4] != 0 {
		t.Errorf("%s: Exp specials: %v", v.isa, d)
	}
	Tanh(d, src)
	if d[0] != 1 || d[1] != -1 || d[2] == d[2] || d[3] != 1 || d[4] != -1 {
		t.Errorf("%s: Tanh specials: %v", v.isa, d)
	}
	Sigmoid(d, src)
	if d[0] != 1 || d[1] != 0 || d[2] == d[2] || d[3] != 1 || d[4] != 0 {
		t.Errorf("%s: Sigmoid specials: %v", v.isa, d)
	}
	Erf(d, src)
	if d[0] != 1 || d[1] != -1 || d[2] == d[2] || d[3] != 1 || d[4] != -1 {
		t.Errorf("%s: Erf specials: %v", v.isa, d)
	}
}
