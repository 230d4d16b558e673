package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

type tileKernel struct {
	name   string
	mr, nr int
	f      func(k int, a, b, c []float32, ldc int, alpha, beta float32)
}

// TestSgemmKernel holds every assembly kernel the CPU runs, the dispatched
// SgemmKernel, and the Go twin against a float64 triple loop. They sum k
// products of values in [-1, 1] in float32 (FMA or not), so they may
// differ from the float64 sum by about k * 2^-24 * (sum of |products|);
// 1e-5*(k+1) bounds that with room and still catches any wrong element.
func TestSgemmKernel(t *testing.T) {
	mr, nr := Tile()
	ks := append(asmKernels(),
		tileKernel{"dispatch-" + ISA(), mr, nr, SgemmKernel},
		tileKernel{"go6x16", 6, 16, func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernelGo(6, 16, k, a, b, c, ldc, alpha, beta)
		}},
		tileKernel{"go8x32", 8, 32, func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernelGo(8, 32, k, a, b, c, ldc, alpha, beta)
		}})
	r := rand.New(rand.NewPCG(1, 2))
	for _, kern := range ks {
		MR, NR := kern.mr, kern.nr
		for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 255, 256, 257} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}, {0, 1}, {1.5, float32(math.Copysign(0, -1))}} {
				alpha, beta := ab[0], ab[1]
				for _, ldc := range []int{NR, NR + 1, NR + 24} {
					a := randSlice(r, k*MR)
					b := randSlice(r, k*NR)
					c0 := randSlice(r, (MR-1)*ldc+NR)
					if beta == 0 {
						for i := range c0 {
							c0[i] = float32(math.NaN()) // must not be read
						}
					}
					c1 := append([]float32(nil), c0...)
					kern.f(k, a, b, c1, ldc, alpha, beta)
					tol := 1e-5 * float64(k+1)
					for i := 0; i < MR; i++ {
						for j := 0; j < NR; j++ {
							var s float64
							for p := 0; p < k; p++ {
								s += float64(a[p*MR+i]) * float64(b[p*NR+j])
							}
							want := float64(alpha) * s
							if beta != 0 {
								want += float64(beta) * float64(c0[i*ldc+j])
							}
							if got := c1[i*ldc+j]; !(math.Abs(float64(got)-want) <= tol) {
								t.Fatalf("%s: k=%d alpha=%v beta=%v ldc=%d C[%d][%d]=%v want %v", kern.name, k, alpha, beta, ldc, i, j, got, want)
							}
						}
						// Columns past NR are untouched.
						for j := NR; j < ldc && i*ldc+j < len(c0); j++ {
							if math.Float32bits(c1[i*ldc+j]) != math.Float32bits(c0[i*ldc+j]) {
								t.Fatalf("%s: k=%d ldc=%d: wrote past the tile at [%d][%d]", kern.name, k, ldc, i, j)
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkSgemmKernel(b *testing.B) {
	const k = 256
	mr, nr := Tile()
	r := rand.New(rand.NewPCG(1, 2))
	a := randSlice(r, k*mr)
	bb := randSlice(r, k*nr)
	c := make([]float32, mr*nr)
	for b.Loop() {
		SgemmKernel(k, a, bb, c, nr, 1, 1)
	}
	b.ReportMetric(float64(2*mr*nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
