package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the GEMMs of the bench models (../shared/bench): the
// square anchor OpenBLAS is measured on, the mlp's Dense layers (batch x
// in x out, weights pre-packed as the runtime will do), and resnet18's
// convolutions as C[Cout x HW] = W[Cout x Cin*kh*kw] * im2col[Cin*kh*kw x HW]
// (weights are the A side; batch 8 multiplies N by 8).
var benchShapes = []struct {
	name    string
	m, n, k int
	packedB bool // B is a constant weight: PackB once, SgemmPacked per call
}{
	{"square512", 512, 512, 512, false},
	{"mlp_b1_784x512", 1, 512, 784, true},
	{"mlp_b1_512x512", 1, 512, 512, true},
	{"mlp_b8_784x512", 8, 512, 784, true},
	{"mlp_b8_512x512", 8, 512, 512, true},
	{"mlp_b8_512x10", 8, 10, 512, true},
	{"r18_b1_conv1_64x12544x147", 64, 12544, 147, false},
	{"r18_b1_l1_64x3136x576", 64, 3136, 576, false},
	{"r18_b1_l2_128x784x1152", 128, 784, 1152, false},
	{"r18_b1_l3_256x196x2304", 256, 196, 2304, false},
	{"r18_b1_l4_512x49x4608", 512, 49, 4608, false},
	{"r18_b8_l1_64x25088x576", 64, 25088, 576, false},
	{"r18_b8_l4_512x392x4608", 512, 392, 4608, false},
}

func BenchmarkSgemm(b *testing.B) {
	for _, threads := range []int{1, 2} {
		pool := NewWorkerPool(threads)
		for _, s := range benchShapes {
			b.Run(fmt.Sprintf("%s/t%d", s.name, threads), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a := randSlice(r, s.m*s.k)
				bm := randSlice(r, s.k*s.n)
				c := make([]float32, s.m*s.n)
				var pb *PackedB
				if s.packedB {
					pb = PackB(false, s.k, s.n, bm, s.n)
				}
				run := func() {
					if pb != nil {
						SgemmPacked(pool, false, s.m, 1, a, s.k, pb, 0, c, s.n, nil)
					} else {
						SgemmParallel(pool, false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n, nil)
					}
				}
				run()
				b.ResetTimer()
				for b.Loop() {
					run()
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		pool.Close()
	}
}
