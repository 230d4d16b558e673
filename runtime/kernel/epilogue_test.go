package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

func actRef(ep *Epilogue, x float64) float64 {
	switch ep.Act {
	case ActRelu:
		return math.Max(x, 0)
	case ActClip:
		return math.Min(math.Max(x, float64(ep.Lo)), float64(ep.Hi))
	case ActLeakyRelu:
		if x < 0 {
			return float64(ep.Alpha) * x
		}
		return x
	case ActSigmoid:
		return 1 / (1 + math.Exp(-x))
	case ActTanh:
		return math.Tanh(x)
	case ActSiLU:
		return x / (1 + math.Exp(-x))
	case ActGELUTanh:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	case ActGELU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case ActHardSwish:
		return x * math.Max(0, math.Min(1, x/6+0.5))
	}
	return x
}

// TestEpilogue runs every activation, with per-column and per-row bias,
// through SgemmParallel and SgemmPacked and checks against the float64
// reference. The GEMM error (tolerance(k)) passes through activations
// whose slope is at most about 1.13 (GELU), plus a few ulp of the
// activation itself: 1.2*tolerance(k) + 1e-6 covers both.
func TestEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	acts := []Epilogue{
		{Act: ActNone}, {Act: ActRelu}, {Act: ActClip, Lo: 0, Hi: 6}, {Act: ActClip, Lo: -0.5, Hi: 0.25},
		{Act: ActLeakyRelu, Alpha: 0.1}, {Act: ActSigmoid}, {Act: ActTanh}, {Act: ActSiLU},
		{Act: ActGELUTanh}, {Act: ActGELU}, {Act: ActHardSwish},
	}
	for _, s := range []shape{{1, 1, 1}, {7, 37, 19}, {70, 100, 300}, {9, 1000, 40}} {
		m, n, k := s.m, s.n, s.k
		a := randSlice(r, m*k)
		b := randSlice(r, k*n)
		for _, e := range acts {
			for _, perRow := range []bool{false, true} {
				ep := e
				ep.BiasPerRow = perRow
				if perRow {
					ep.Bias = randSlice(r, m)
				} else {
					ep.Bias = randSlice(r, n)
				}
				want := naive(false, false, m, n, k, 1, a, k, b, n, 0, make([]float32, m*n), n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var bias float32
						if perRow {
							bias = ep.Bias[i]
						} else {
							bias = ep.Bias[j]
						}
						want[i*n+j] = actRef(&ep, want[i*n+j]+float64(bias))
					}
				}
				tol := 1.2*tolerance(k) + 1e-6
				c := make([]float32, m*n)
				SgemmParallel(testPool, false, false, m, n, k, 1, a, k, b, n, 0, c, n, &ep)
				compare(t, "SgemmParallel epilogue", c, want, m, n, n, tol, c)
				clear(c)
				SgemmPacked(nil, false, m, 1, a, k, PackB(false, k, n, b, n), 0, c, n, &ep)
				compare(t, "SgemmPacked epilogue", c, want, m, n, n, tol, c)
			}
		}
	}
}

// TestSteadyStateAllocs: after warm-up, calls do not allocate, with and
// without the pool and epilogue.
func TestSteadyStateAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	m, n, k := 64, 300, 200
	a := randSlice(r, m*k)
	b := randSlice(r, k*n)
	c := make([]float32, m*n)
	pb := PackB(false, k, n, b, n)
	ep := &Epilogue{Bias: randSlice(r, n), Act: ActGELU}
	pool := NewWorkerPool(2)
	defer pool.Close()
	for name, f := range map[string]func(){
		"Sgemm":          func() { Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n) },
		"SgemmParallel":  func() { SgemmParallel(pool, false, false, m, n, k, 1, a, k, b, n, 1, c, n, ep) },
		"SgemmPacked":    func() { SgemmPacked(pool, false, m, 1, a, k, pb, 0, c, n, ep) },
		"SgemmPacked/t1": func() { SgemmPacked(nil, false, m, 1, a, k, pb, 0, c, n, nil) },
	} {
		f()
		if got := testing.AllocsPerRun(50, f); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, got)
		}
	}
}

func TestWorkerPool(t *testing.T) {
	p := NewWorkerPool(3)
	defer p.Close()
	for _, n := range []int{0, 1, 2, 3, 10} {
		hits := make([]int32, n)
		p.Parallel(n, func(i int) { hits[i]++ })
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: f(%d) ran %d times", n, i, h)
			}
		}
	}
}
