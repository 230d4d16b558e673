package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// convBenchShapes are convolutions of the bench models (resnet18,
// mobilenet_v2) at batch 1: input [c, h, w], m output channels, square
// kernel k, stride s, padding p, group g.
var convBenchShapes = []struct {
	name                   string
	c, h, m, k, s, p, g, n int
}{
	{"r18_conv1_7x7s2", 3, 224, 64, 7, 2, 3, 1, 1},
	{"r18_l1_3x3", 64, 56, 64, 3, 1, 1, 1, 1},
	{"r18_l2_3x3s2", 64, 56, 128, 3, 2, 1, 1, 1},
	{"r18_l2_3x3", 128, 28, 128, 3, 1, 1, 1, 1},
	{"r18_l3_3x3", 256, 14, 256, 3, 1, 1, 1, 1},
	{"r18_l4_3x3", 512, 7, 512, 3, 1, 1, 1, 1},
	{"r18_l4_3x3_b8", 512, 7, 512, 3, 1, 1, 1, 8},
	{"r18_l3_1x1s2", 128, 28, 256, 1, 2, 0, 1, 1},
	{"mnv2_1x1_96x56", 24, 56, 144, 1, 1, 0, 1, 1},
	{"mnv2_1x1_960x7", 160, 7, 960, 1, 1, 0, 1, 1},
	{"mnv2_dw3x3_144x56", 144, 56, 144, 3, 1, 1, 144, 1},
	{"mnv2_dw3x3s2_144x56", 144, 56, 144, 3, 2, 1, 144, 1},
}

// convSpec builds the spec of a Conv node with constant weights and bias.
func convSpec(r *rand.Rand, n, c, h, m, k, s, p, g, threads int) *Spec {
	oh := (h+2*p-k)/s + 1
	w := tensor.From(tensor.Shape{m, c / g, k, k}, randSlice(r, m*c/g*k*k))
	b := tensor.From(tensor.Shape{m}, randSlice(r, m))
	node := &graph.Node{Op: "Conv", Attrs: graph.Attrs{
		"strides": []int64{int64(s), int64(s)}, "pads": []int64{int64(p), int64(p), int64(p), int64(p)}, "group": int64(g)}}
	return &Spec{Node: node, Threads: threads,
		In: []Arg{{DType: tensor.Float32, Shape: tensor.Shape{n, c, h, h}},
			{DType: tensor.Float32, Shape: w.Shape(), Const: w},
			{DType: tensor.Float32, Shape: b.Shape(), Const: b}},
		Out: []Arg{{DType: tensor.Float32, Shape: tensor.Shape{n, m, oh, oh}}}}
}

func BenchmarkConv(b *testing.B) {
	for _, threads := range []int{1, 2} {
		pool := NewWorkerPool(threads)
		for _, s := range convBenchShapes {
			b.Run(fmt.Sprintf("%s/t%d", s.name, threads), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				spec := convSpec(r, s.n, s.c, s.h, s.m, s.k, s.s, s.p, s.g, threads)
				k, name := Select(spec)
				if k == nil {
					b.Skip("no kernel")
				}
				x := tensor.From(spec.In[0].Shape, randSlice(r, spec.In[0].Shape.Size()))
				y := tensor.New(tensor.Float32, spec.Out[0].Shape...)
				in := []*tensor.Tensor{x, spec.In[1].Const, spec.In[2].Const}
				out := []*tensor.Tensor{y}
				env := &Env{Pool: pool}
				k.Run(env, in, out)
				for b.Loop() {
					k.Run(env, in, out)
				}
				oh := spec.Out[0].Shape[2]
				flops := 2 * float64(s.n*s.m*oh*oh*s.c/s.g*s.k*s.k)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.Logf("%s", name)
			})
		}
		pool.Close()
	}
}
