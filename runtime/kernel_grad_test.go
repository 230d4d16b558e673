package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// gradCase is one backward-pass node: float32 inputs of the given shapes
// (fed as graph inputs), an int64 shape constant appended as the last
// input when shape is set (ConvGradInput/Weight, SumToShape), and int64
// axes when axes is set (ReduceSum/ReduceMean).
type gradCase struct {
	op, domain string
	attrs      graph.Attrs
	in         []tensor.Shape
	shape      []int64
	axes       []int64
}

func (c gradCase) graph(r *rand.Rand) (*graph.Graph, []*tensor.Tensor) {
	g := &graph.Graph{Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}}}
	n := &graph.Node{Name: "n", Op: c.op, Domain: c.domain, Attrs: c.attrs, Outputs: []string{"y"}}
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	var feeds []*tensor.Tensor
	for i, s := range c.in {
		name := fmt.Sprintf("in%d", i)
		n.Inputs = append(n.Inputs, name)
		g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(tensor.Float32, s...)})
		feeds = append(feeds, randTensor(r, s))
	}
	for _, k := range [][]int64{c.shape, c.axes} {
		if k != nil {
			name := fmt.Sprintf("k%d", len(n.Inputs))
			g.Params = append(g.Params, &graph.Param{Name: name, Tensor: tensor.FromInt64s(tensor.Shape{len(k)}, k)})
			n.Inputs = append(n.Inputs, name)
		}
	}
	g.Nodes = []*graph.Node{n}
	return g, feeds
}

func ints(v ...int64) []int64 { return v }

// TestGradKernels holds the backward-pass kernels (runtime/kernel/grad_*.go)
// to the reference ops on random inputs.
//
// Tolerances: the convolution kernels sum products of N(0,1) values in
// float32 over up to a few thousand terms where the reference sums in
// float64; the rounding error grows like sqrt(terms) * 6e-8 * sqrt(terms)
// (the partial sums' size), about 1e-4 at 2000 terms, so 3e-4 absolute
// plus 1e-4 relative. Pooling gradients move or divide single values
// (1e-6 absolute, the float32 rounding of v/count); sums over axes
// accumulate in float64 as the reference does (1e-5 relative).
func TestGradKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	conv := func(extra graph.Attrs) graph.Attrs {
		a := graph.Attrs{"group": int64(1)}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	type geom struct {
		name  string
		x, w  []int
		attrs graph.Attrs
		y     []int
	}
	geoms := []geom{
		// The MNIST convnet's layers (batch 3).
		{"mnist-conv2", []int{3, 32, 13, 13}, []int{64, 32, 3, 3}, conv(graph.Attrs{"kernel_shape": ints(3, 3), "pads": ints(0, 0, 0, 0), "strides": ints(1, 1), "dilations": ints(1, 1)}), []int{3, 64, 11, 11}},
		{"mnist-conv1", []int{3, 1, 28, 28}, []int{32, 1, 3, 3}, conv(graph.Attrs{"kernel_shape": ints(3, 3)}), []int{3, 32, 26, 26}},
		{"stride2-pad", []int{2, 3, 9, 8}, []int{5, 3, 3, 3}, conv(graph.Attrs{"strides": ints(2, 2), "pads": ints(1, 1, 1, 0)}), []int{2, 5, 5, 4}},
		{"dilated-asym", []int{2, 2, 9, 10}, []int{4, 2, 3, 2}, conv(graph.Attrs{"dilations": ints(2, 3), "pads": ints(2, 0, 1, 2)}), []int{2, 4, 8, 9}},
		{"same-upper", []int{2, 3, 7, 7}, []int{4, 3, 3, 3}, conv(graph.Attrs{"auto_pad": "SAME_UPPER", "strides": ints(2, 2)}), []int{2, 4, 4, 4}},
		{"same-lower", []int{1, 2, 6, 6}, []int{3, 2, 2, 2}, conv(graph.Attrs{"auto_pad": "SAME_LOWER"}), []int{1, 3, 6, 6}},
		{"pointwise", []int{4, 6, 5, 5}, []int{7, 6, 1, 1}, conv(nil), []int{4, 7, 5, 5}},
		{"wide-stride3", []int{1, 2, 4, 13}, []int{3, 2, 2, 3}, conv(graph.Attrs{"strides": ints(1, 3), "pads": ints(0, 2, 0, 2)}), []int{1, 3, 3, 5}},
	}
	var cases []gradCase
	for _, g := range geoms {
		i64 := func(s []int) []int64 {
			v := make([]int64, len(s))
			for i, d := range s {
				v[i] = int64(d)
			}
			return v
		}
		cases = append(cases,
			gradCase{op: "ConvGradWeight", domain: "kiln", attrs: g.attrs, in: []tensor.Shape{g.x, g.y}, shape: i64(g.w)},
			gradCase{op: "ConvGradInput", domain: "kiln", attrs: g.attrs, in: []tensor.Shape{g.y, g.w}, shape: i64(g.x)},
			gradCase{op: "Conv", attrs: g.attrs, in: []tensor.Shape{g.x, g.w, {g.w[0]}}},
			gradCase{op: "Conv", attrs: g.attrs, in: []tensor.Shape{g.x, g.w}},
		)
	}
	pool := func(op string, attrs graph.Attrs, x, y tensor.Shape) gradCase {
		return gradCase{op: op, domain: "kiln", attrs: attrs, in: []tensor.Shape{x, y}}
	}
	cases = append(cases,
		pool("MaxPoolGrad", graph.Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2), "pads": ints(0, 0, 0, 0)}, tensor.Shape{3, 32, 26, 26}, tensor.Shape{3, 32, 13, 13}),
		pool("MaxPoolGrad", graph.Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2)}, tensor.Shape{2, 4, 11, 11}, tensor.Shape{2, 4, 5, 5}),
		pool("MaxPoolGrad", graph.Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2), "ceil_mode": int64(1)}, tensor.Shape{2, 3, 11, 11}, tensor.Shape{2, 3, 6, 6}),
		pool("MaxPoolGrad", graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}, tensor.Shape{2, 3, 11, 12}, tensor.Shape{2, 3, 6, 6}),
		pool("MaxPoolGrad", graph.Attrs{"kernel_shape": ints(3, 2), "strides": ints(1, 1), "dilations": ints(1, 2)}, tensor.Shape{1, 2, 7, 8}, tensor.Shape{1, 2, 5, 6}),
		pool("MaxPoolGrad", graph.Attrs{"kernel_shape": ints(3, 3), "auto_pad": "SAME_UPPER", "strides": ints(2, 2)}, tensor.Shape{1, 2, 8, 9}, tensor.Shape{1, 2, 4, 5}),
		pool("AveragePoolGrad", graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}, tensor.Shape{2, 3, 11, 12}, tensor.Shape{2, 3, 6, 6}),
		pool("AveragePoolGrad", graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "count_include_pad": int64(1)}, tensor.Shape{2, 3, 11, 12}, tensor.Shape{2, 3, 6, 6}),
		pool("AveragePoolGrad", graph.Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2)}, tensor.Shape{2, 3, 26, 26}, tensor.Shape{2, 3, 13, 13}),
		pool("AveragePoolGrad", graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 0, 1, 0), "ceil_mode": int64(1), "count_include_pad": int64(1)}, tensor.Shape{1, 2, 10, 10}, tensor.Shape{1, 2, 6, 5}),
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{128, 10}}, shape: ints(10)},
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{128, 10}}, shape: ints(128, 1)},
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{4, 3, 5}}, shape: ints(3, 1)},
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{2, 3, 4, 5}}, shape: ints(1, 3, 1, 1)},
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{2, 3, 700}}, shape: ints(1, 1, 700)},
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{64, 1, 300}}, shape: ints(1)},
		gradCase{op: "SumToShape", domain: "kiln", in: []tensor.Shape{{3, 4}}, shape: ints(3, 4)},
		gradCase{op: "ReduceSum", in: []tensor.Shape{{16, 64, 11, 11}}, axes: ints(0, 2, 3), attrs: graph.Attrs{"keepdims": int64(0)}},
		gradCase{op: "ReduceSum", in: []tensor.Shape{{5, 6, 7}}, axes: ints(0), attrs: graph.Attrs{"keepdims": int64(1)}},
		gradCase{op: "ReduceSum", in: []tensor.Shape{{5, 6, 7}}, axes: ints(-3, 1)},
		gradCase{op: "ReduceMean", in: []tensor.Shape{{4, 3, 5, 2}}, axes: ints(0, 2), attrs: graph.Attrs{"keepdims": int64(0)}},
	)
	for _, c := range cases {
		g, feeds := c.graph(r)
		gradNoAllocs(t, fmt.Sprintf("%s %v %v", c.op, c.in, c.attrs), g, feeds)
		name := fmt.Sprintf("%s %v %v", c.op, c.in, c.attrs)
		atol, rtol := 1e-6, 1e-5
		switch c.op {
		case "ConvGradWeight", "ConvGradInput", "Conv":
			atol, rtol = 3e-4, 1e-4
		}
		checkAgainstReference(t, name, g, feeds, atol, rtol, 1, false)
		if c.op == "MaxPoolGrad" {
			// Ties: the first maximum in window order takes the gradient.
			for i, v := range feeds[0].F32() {
				feeds[0].F32()[i] = float32(int(v))
			}
			checkAgainstReference(t, name+" ties", g, feeds, atol, rtol, 1, false)
		}
	}
}

// TestGradMaskKernels holds the elementwise kernels of gradient graphs
// (Relu's Where(Greater(x, 0), dy, 0), the clip mask of a crossentropy,
// Clip, Sum) to the reference ops; exact except Sum of three operands
// (float32 adds against a rounded float64 sum: 1 ulp).
func TestGradMaskKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	s := tensor.Shape{4, 26, 26, 32} // large enough to split over two workers
	f32 := graph.TensorType(tensor.Float32, s...)
	zero := &graph.Param{Name: "zero", Tensor: tensor.Scalar(float32(0))}
	lo := &graph.Param{Name: "lo", Tensor: tensor.Scalar(float32(-0.5))}
	hi := &graph.Param{Name: "hi", Tensor: tensor.Scalar(float32(0.7))}
	node := func(op string, out string, in ...string) *graph.Node {
		return &graph.Node{Name: out, Op: op, Inputs: in, Outputs: []string{out}, Attrs: graph.Attrs{}}
	}
	x, dy, z := randTensor(r, s), randTensor(r, s), randTensor(r, s)
	x.F32()[5] = 0 // a tie with the bound
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: f32}, {Name: "dy", Type: f32}, {Name: "z", Type: f32}},
		Params:  []*graph.Param{zero, lo, hi},
		Outputs: []*graph.Value{{Name: "relu_grad", Type: f32}, {Name: "clip_grad", Type: f32}, {Name: "clipped", Type: f32}, {Name: "sum", Type: f32}, {Name: "lt", Type: f32}},
		Nodes: []*graph.Node{
			node("Greater", "pos", "x", "zero"),
			node("Where", "relu_grad", "pos", "dy", "zero"),
			node("GreaterOrEqual", "ge", "x", "lo"),
			node("LessOrEqual", "le", "x", "hi"),
			node("And", "in", "ge", "le"),
			node("Where", "clip_grad", "in", "dy", "z"),
			node("Clip", "clipped", "x", "lo", "hi"),
			node("Sum", "sum", "x", "dy", "z"),
			node("Less", "ltm", "zero", "x"),
			node("Where", "lt", "ltm", "zero", "dy"),
		},
	}
	checkAgainstReference(t, "masks", g, []*tensor.Tensor{x, dy, z}, 1e-6, 1.2e-7, 10, false)
	gradNoAllocs(t, "masks", g, []*tensor.Tensor{x, dy, z})
}

// gradNoAllocs checks that a planned run of g (fast kernels only) does not
// allocate, on one thread and split over two.
func gradNoAllocs(t *testing.T, name string, g *graph.Graph, feeds []*tensor.Tensor) {
	t.Helper()
	if raceEnabled || !gradAllocCheck {
		return
	}
	for _, threads := range []int{1, 2} {
		p, err := Compile(g, Options{Threads: threads, Passes: &pass.Options{}})
		if err != nil {
			t.Fatal(err)
		}
		outs := make([]*tensor.Tensor, len(g.Outputs))
		ctx := context.Background()
		// Collect first, so that no GC cycle started by the tests before
		// empties the SGEMM workspace pools mid-measurement; the warm runs
		// then fill every worker's pool.
		goruntime.GC()
		for i := 0; i < 3; i++ {
			if err := p.RunInto(ctx, feeds, outs); err != nil {
				t.Fatal(err)
			}
		}
		if a := testing.AllocsPerRun(5, func() { p.RunInto(ctx, feeds, outs) }); a != 0 {
			t.Errorf("%s threads %d: %v allocations per planned run, want 0", name, threads, a)
		}
		p.Close()
	}
}
