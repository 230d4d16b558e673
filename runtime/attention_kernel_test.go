package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TestAttentionKernel holds the float32 Attention kernel to the reference
// op (which computes in float64) on random inputs, threads 1 and 2.
// Tolerance: 2e-5 absolute plus 1e-4 relative. Scores are rounded to
// float32 once more than in the reference (Q·Kᵀ over D terms, the scale,
// the vector exp at 2.5e-7 relative), which moves a probability by a few
// 1e-7 relative; an output is a convex combination of V rows of size
// about 1, so its error stays below 1e-5.
func TestAttentionKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	negInf := float32(math.Inf(-1))
	boolMask := func(s tensor.Shape, pFalse float64, allFalseRow int) *tensor.Tensor {
		v := make([]bool, s.Size())
		last := s[len(s)-1]
		for i := range v {
			v[i] = r.Float64() >= pFalse
			if i/last == allFalseRow {
				v[i] = false
			}
		}
		return tensor.From(s, v)
	}
	floatMask := func(s tensor.Shape) *tensor.Tensor {
		m := randTensor(r, s)
		for i := range m.F32() {
			if r.IntN(5) == 0 {
				m.F32()[i] = negInf
			}
		}
		return m
	}
	qkv := func(q, k, v tensor.Shape) []*tensor.Tensor {
		return []*tensor.Tensor{randTensor(r, q), randTensor(r, k), randTensor(r, v)}
	}
	type tc struct {
		name  string
		attrs graph.Attrs
		vals  []*tensor.Tensor
		mask  *tensor.Tensor
	}
	cases := []tc{
		{name: "4-D", vals: qkv(tensor.Shape{2, 3, 5, 8}, tensor.Shape{2, 3, 7, 8}, tensor.Shape{2, 3, 7, 6})},
		{name: "4-D scale", attrs: graph.Attrs{"scale": float32(0.3)}, vals: qkv(tensor.Shape{1, 2, 9, 16}, tensor.Shape{1, 2, 9, 16}, tensor.Shape{1, 2, 9, 16})},
		{name: "float mask [1,1,Sq,T]", vals: qkv(tensor.Shape{2, 2, 6, 8}, tensor.Shape{2, 2, 7, 8}, tensor.Shape{2, 2, 7, 4}), mask: floatMask(tensor.Shape{1, 1, 6, 7})},
		{name: "float mask [B,1,1,T]", vals: qkv(tensor.Shape{2, 2, 6, 8}, tensor.Shape{2, 2, 7, 8}, tensor.Shape{2, 2, 7, 4}), mask: floatMask(tensor.Shape{2, 1, 1, 7})},
		{name: "float mask rank 2 short", vals: qkv(tensor.Shape{1, 2, 6, 8}, tensor.Shape{1, 2, 9, 8}, tensor.Shape{1, 2, 9, 8}), mask: randTensor(r, tensor.Shape{6, 5})},
		{name: "float mask rank 1", vals: qkv(tensor.Shape{1, 2, 6, 8}, tensor.Shape{1, 2, 9, 8}, tensor.Shape{1, 2, 9, 8}), mask: randTensor(r, tensor.Shape{9})},
		{name: "bool mask full", vals: qkv(tensor.Shape{2, 3, 5, 8}, tensor.Shape{2, 3, 7, 8}, tensor.Shape{2, 3, 7, 8}), mask: boolMask(tensor.Shape{2, 3, 5, 7}, 0.3, 4)},
		{name: "causal", attrs: graph.Attrs{"is_causal": int64(1)}, vals: qkv(tensor.Shape{1, 2, 70, 16}, tensor.Shape{1, 2, 70, 16}, tensor.Shape{1, 2, 70, 16})},
		{name: "causal Sq>T", attrs: graph.Attrs{"is_causal": int64(1)}, vals: qkv(tensor.Shape{1, 1, 9, 8}, tensor.Shape{1, 1, 5, 8}, tensor.Shape{1, 1, 5, 8})},
		{name: "softcap and mask", attrs: graph.Attrs{"softcap": float32(2)}, vals: qkv(tensor.Shape{1, 2, 6, 8}, tensor.Shape{1, 2, 6, 8}, tensor.Shape{1, 2, 6, 8}), mask: floatMask(tensor.Shape{1, 2, 6, 6})},
		{name: "grouped query", vals: qkv(tensor.Shape{2, 4, 5, 8}, tensor.Shape{2, 2, 7, 8}, tensor.Shape{2, 2, 7, 3})},
		{name: "3-D heads", attrs: graph.Attrs{"q_num_heads": int64(4), "kv_num_heads": int64(2)}, vals: qkv(tensor.Shape{2, 5, 32}, tensor.Shape{2, 7, 16}, tensor.Shape{2, 7, 12})},
		{name: "3-D one head", attrs: graph.Attrs{"q_num_heads": int64(1), "kv_num_heads": int64(1), "scale": float32(0.125)}, vals: qkv(tensor.Shape{4, 128, 64}, tensor.Shape{4, 128, 64}, tensor.Shape{4, 128, 64})},
		{name: "transformer b1", vals: qkv(tensor.Shape{1, 4, 128, 64}, tensor.Shape{1, 4, 128, 64}, tensor.Shape{1, 4, 128, 64})},
		{name: "transformer b8 masked", vals: qkv(tensor.Shape{8, 4, 128, 64}, tensor.Shape{8, 4, 128, 64}, tensor.Shape{8, 4, 128, 64}), mask: floatMask(tensor.Shape{8, 1, 1, 128})},
		{name: "long keys", vals: qkv(tensor.Shape{1, 1, 3, 8}, tensor.Shape{1, 1, 1000, 8}, tensor.Shape{1, 1, 1000, 8})},
	}
	for _, c := range cases {
		ins := []string{"q", "k", "v"}
		vals := c.vals
		if c.mask != nil {
			ins = append(ins, "m")
			vals = append(vals, c.mask)
		}
		g, feeds := oneNode("Attention", c.attrs, ins, vals, 1)
		checkAgainstReference(t, c.name, g, feeds, 2e-5, 1e-4, 1, false)
	}
}

// TestAttentionKernelFallsBack: forms the kernel leaves to the reference
// (a past cache, the extra outputs) still run and agree.
func TestAttentionKernelFallsBack(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	q, k, v := randTensor(r, tensor.Shape{1, 2, 3, 4}), randTensor(r, tensor.Shape{1, 2, 3, 4}), randTensor(r, tensor.Shape{1, 2, 3, 4})
	pk, pv := randTensor(r, tensor.Shape{1, 2, 2, 4}), randTensor(r, tensor.Shape{1, 2, 2, 4})
	g, feeds := oneNode("Attention", nil, []string{"q", "k", "v", "", "pk", "pv"}, []*tensor.Tensor{q, k, v, nil, pk, pv}, 3)
	checkAgainstReference(t, "past cache", g, feeds, 1e-6, 1e-5, 0, false)
	g, feeds = oneNode("Attention", graph.Attrs{"qk_matmul_output_mode": int64(3)}, []string{"q", "k", "v"}, []*tensor.Tensor{q, k, v}, 4)
	checkAgainstReference(t, "qk output", g, feeds, 1e-6, 1e-5, 0, false)
}

// BenchmarkAttentionKernel times the planned Attention node at the
// transformer bench model's shapes ([B, 4, 128, 64]).
func BenchmarkAttentionKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, batch := range []int{1, 8} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("b%d/t%d", batch, threads), func(b *testing.B) {
				s := tensor.Shape{batch, 4, 128, 64}
				g, feeds := oneNode("Attention", nil, []string{"q", "k", "v"}, []*tensor.Tensor{randTensor(r, s), randTensor(r, s), randTensor(r, s)}, 1)
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				out := []*tensor.Tensor{nil}
				if err := p.RunInto(b.Context(), feeds, out); err != nil {
					b.Fatal(err)
				}
				flops := float64(batch*4*128*128*(64+64)) * 2
				b.ResetTimer()
				for b.Loop() {
					p.RunInto(b.Context(), feeds, out)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestParallelKernelsDoNotAllocate: kernels that split their work across
// the pool (here at sizes where they do, on 2 threads) allocate nothing
// per planned run; a parallel body built per call as a struct value would
// be boxed on the heap.
func TestParallelKernelsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	r := rand.New(rand.NewPCG(15, 16))
	s4 := tensor.Shape{8, 4, 128, 64}
	cases := []struct {
		op    string
		attrs graph.Attrs
		ins   []string
		vals  []*tensor.Tensor
	}{
		{"Attention", nil, []string{"q", "k", "v"}, []*tensor.Tensor{randTensor(r, s4), randTensor(r, s4), randTensor(r, s4)}},
		{"Softmax", graph.Attrs{"axis": int64(-1)}, []string{"x"}, []*tensor.Tensor{randTensor(r, tensor.Shape{32, 128, 128})}},
		{"LayerNormalization", graph.Attrs{"axis": int64(-1)}, []string{"x", "ps", "pb"}, []*tensor.Tensor{randTensor(r, tensor.Shape{8, 128, 256}), randTensor(r, tensor.Shape{256}), randTensor(r, tensor.Shape{256})}},
		{"Add", nil, []string{"x", "y"}, []*tensor.Tensor{randTensor(r, tensor.Shape{8, 128, 256}), randTensor(r, tensor.Shape{8, 128, 256})}},
	}
	for _, c := range cases {
		g, feeds := oneNode(c.op, c.attrs, c.ins, c.vals, 1)
		p, err := Compile(g, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, k := p.planned(feeds); k != 1 {
			t.Fatalf("%s: no fast kernel", c.op)
		}
		ctx := t.Context()
		out := []*tensor.Tensor{nil}
		for i := 0; i < 3; i++ {
			if err := p.RunInto(ctx, feeds, out); err != nil {
				t.Fatal(err)
			}
		}
		if a := testing.AllocsPerRun(20, func() { p.RunInto(ctx, feeds, out) }); a != 0 {
			t.Errorf("%s: %v allocations per planned run on 2 threads, want 0", c.op, a)
		}
		p.Close()
	}
}
