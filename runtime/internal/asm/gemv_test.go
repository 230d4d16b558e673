package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

type sgemvAccImpl struct {
	name string
	f    func(x, b []float32, ldb int, c []float32)
}

// TestSgemvAcc holds the dispatched routine, every assembly variant the CPU
// runs and the Go twin against a float64 sum: k products of values in
// [-1, 1] summed in float32 differ from it by at most about k*2^-24 per
// unit of magnitude; 1e-6*(k+1) bounds that.
func TestSgemvAcc(t *testing.T) {
	impls := append([]sgemvAccImpl{{"dispatch-" + ISA(), SgemvAcc}, {"go", sgemvAccGo}}, asmSgemvAccs()...)
	r := rand.New(rand.NewPCG(3, 4))
	for _, im := range impls {
		for _, k := range []int{1, 2, 3, 7, 128, 129} {
			for _, n := range []int{1, 8, 15, 16, 17, 64, 128, 144, 200, 384, 512} {
				for _, extra := range []int{0, 5} {
					ldb := n + extra
					x := randSlice(r, k)
					b := randSlice(r, (k-1)*ldb+n)
					c0 := randSlice(r, n+3)
					c := append([]float32(nil), c0...)
					im.f(x, b, ldb, c[:n])
					for j := 0; j < n; j++ {
						want := float64(c0[j])
						for p := 0; p < k; p++ {
							want += float64(x[p]) * float64(b[p*ldb+j])
						}
						if math.Abs(float64(c[j])-want) > 1e-6*float64(k+1) {
							t.Fatalf("%s k=%d n=%d ldb=%d: c[%d]=%v want %v", im.name, k, n, ldb, j, c[j], want)
						}
					}
					for j := n; j < n+3; j++ {
						if c[j] != c0[j] {
							t.Fatalf("%s k=%d n=%d: wrote past c", im.name, k, n)
						}
					}
				}
			}
		}
	}
}

func BenchmarkSgemvAcc(b *testing.B) {
	const k, n = 128, 512
	r := rand.New(rand.NewPCG(1, 2))
	x, m, c := randSlice(r, k), randSlice(r, k*n), make([]float32, n)
	for b.Loop() {
		SgemvAcc(x, m, n, c)
	}
	b.ReportMetric(float64(2*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
