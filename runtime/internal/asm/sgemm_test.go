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

// TestSgemmKernel holds the dispatched kernel (AVX2 where available)
// against its Go twin and a float64 triple loop. Both sum k products of
// values in [-1, 1] in float32, so they may differ from the float64 sum
// by about k * 2^-24 * (sum of |products|); 1e-5*k bounds that with room.
func TestSgemmKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 255, 256, 257} {
		for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}, {0, 1}, {1.5, float32(math.Copysign(0, -1))}} {
			alpha, beta := ab[0], ab[1]
			for _, ldc := range []int{NR, 17, 40} {
				a := randSlice(r, k*MR)
				b := randSlice(r, k*NR)
				c0 := randSlice(r, (MR-1)*ldc+NR)
				if beta == 0 {
					for i := range c0 {
						c0[i] = float32(math.NaN()) // must not be read
					}
				}
				c1 := append([]float32(nil), c0...)
				c2 := append([]float32(nil), c0...)
				SgemmKernel(k, a, b, c1, ldc, alpha, beta)
				sgemmKernelGo(k, a, b, c2, ldc, alpha, beta)
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
						for _, got := range []float32{c1[i*ldc+j], c2[i*ldc+j]} {
							if math.Abs(float64(got)-want) > tol {
								t.Fatalf("k=%d alpha=%v beta=%v ldc=%d C[%d][%d]=%v want %v", k, alpha, beta, ldc, i, j, got, want)
							}
						}
					}
					// Columns past NR are untouched.
					for j := NR; j < ldc && i*ldc+j < len(c0); j++ {
						if c1[i*ldc+j] != c0[i*ldc+j] && !(math.IsNaN(float64(c0[i*ldc+j]))) {
							t.Fatalf("k=%d ldc=%d: wrote past the tile at [%d][%d]", k, ldc, i, j)
						}
					}
				}
			}
		}
	}
}

func BenchmarkSgemmKernel(b *testing.B) {
	const k = 256
	r := rand.New(rand.NewPCG(1, 2))
	a := randSlice(r, k*MR)
	bb := randSlice(r, k*NR)
	c := make([]float32, MR*NR)
	for b.Loop() {
		SgemmKernel(k, a, bb, c, NR, 1, 1)
	}
	b.ReportMetric(float64(2*MR*NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
