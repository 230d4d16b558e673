package runtime

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	_ "github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

type kcase struct {
	op     string
	attrs  graph.Attrs
	shapes []tensor.Shape
	params map[int]bool // inputs fed as params (weights)
}

func randTensor(r *rand.Rand, s tensor.Shape) *tensor.Tensor {
	v := make([]float32, s.Size())
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensor.From(s, v)
}

// singleNode builds a graph of one node whose inputs are graph inputs
// (or params where asked).
func singleNode(r *rand.Rand, c kcase) (*graph.Graph, []*tensor.Tensor) {
	g := &graph.Graph{Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}}}
	n := &graph.Node{Name: "n", Op: c.op, Attrs: c.attrs, Outputs: []string{"y"}}
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	var feeds []*tensor.Tensor
	for i, s := range c.shapes {
		name := string(rune('a' + i))
		n.Inputs = append(n.Inputs, name)
		t := randTensor(r, s)
		if c.params[i] {
			g.Params = append(g.Params, &graph.Param{Name: name, Tensor: t})
			continue
		}
		g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(tensor.Float32, s...)})
		feeds = append(feeds, t)
	}
	g.Nodes = []*graph.Node{n}
	return g, feeds
}

// TestKernelsMatchReference runs each fast kernel against the reference
// implementation of its op on random inputs (tolerance: 1e-5 relative
// plus 1e-6 absolute, float32 rounding of float64 references).
func TestKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []kcase{
		{op: "Relu", shapes: []tensor.Shape{{3, 70000}}},
		{op: "Sigmoid", shapes: []tensor.Shape{{5, 7}}},
		{op: "Tanh", shapes: []tensor.Shape{{5, 7}}},
		{op: "Gelu", shapes: []tensor.Shape{{5, 7}}},
		{op: "Gelu", attrs: graph.Attrs{"approximate": "tanh"}, shapes: []tensor.Shape{{5, 7}}},
		{op: "LeakyRelu", attrs: graph.Attrs{"alpha": float32(0.3)}, shapes: []tensor.Shape{{9}}},
		{op: "HardSwish", shapes: []tensor.Shape{{9}}},
		{op: "Add", shapes: []tensor.Shape{{4, 5}, {4, 5}}},
		{op: "Add", shapes: []tensor.Shape{{2, 3, 4, 5}, {5}}},
		{op: "Mul", shapes: []tensor.Shape{{2, 3, 4, 5}, {3, 1, 1}}},
		{op: "Sub", shapes: []tensor.Shape{{1}, {4, 5}}},
		{op: "Div", shapes: []tensor.Shape{{4, 5}, {}}},
		{op: "Max", shapes: []tensor.Shape{{4, 1}, {1, 5}}},
		{op: "Exp", shapes: []tensor.Shape{{3, 37}}},
		{op: "Erf", shapes: []tensor.Shape{{3, 37}}},
		{op: "Softmax", shapes: []tensor.Shape{{2, 3, 40}}},
		{op: "Softmax", attrs: graph.Attrs{"axis": int64(1)}, shapes: []tensor.Shape{{2, 3, 5}}},
		{op: "Softmax", attrs: graph.Attrs{"axis": int64(0)}, shapes: []tensor.Shape{{300, 2}}},
		{op: "Softmax", attrs: graph.Attrs{"axis": int64(1), "kiln_coerce_2d": int64(1)}, shapes: []tensor.Shape{{2, 3, 5}}},
		{op: "Softmax", shapes: []tensor.Shape{{4, 128, 128}}},
		{op: "LogSoftmax", shapes: []tensor.Shape{{2, 3, 70}}},
		{op: "LogSoftmax", attrs: graph.Attrs{"axis": int64(1)}, shapes: []tensor.Shape{{2, 3, 5}}},
		{op: "LayerNormalization", shapes: []tensor.Shape{{2, 7, 32}, {32}, {32}}, params: map[int]bool{1: true, 2: true}},
		{op: "LayerNormalization", attrs: graph.Attrs{"axis": int64(1), "epsilon": float32(1e-3)}, shapes: []tensor.Shape{{3, 4, 5}, {4, 5}}},
		{op: "LayerNormalization", shapes: []tensor.Shape{{64, 256}, {256}, {256}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}, shapes: []tensor.Shape{{2, 3, 11, 12}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, shapes: []tensor.Shape{{2, 6, 24, 24}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 2}, "strides": []int64{2, 2}, "ceil_mode": int64(1), "dilations": []int64{1, 2}}, shapes: []tensor.Shape{{1, 2, 10, 11}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "auto_pad": "SAME_UPPER", "strides": []int64{2, 2}}, shapes: []tensor.Shape{{1, 2, 8, 9}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}, "ceil_mode": int64(1)}, shapes: []tensor.Shape{{2, 3, 13, 15}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{1, 1}, "pads": []int64{1, 1, 1, 1}}, shapes: []tensor.Shape{{1, 3, 9, 10}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{0, 2, 1, 0}}, shapes: []tensor.Shape{{1, 2, 12, 17}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}, shapes: []tensor.Shape{{1, 2, 2, 2}}},
		{op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{1, 1}}, shapes: []tensor.Shape{{1, 2, 7, 5}}},
		{op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}, shapes: []tensor.Shape{{2, 3, 11, 12}}},
		{op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}, "count_include_pad": int64(1)}, shapes: []tensor.Shape{{2, 3, 11, 12}}},
		{op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 0, 1, 0}, "ceil_mode": int64(1), "count_include_pad": int64(1)}, shapes: []tensor.Shape{{1, 2, 10, 10}}},
		{op: "GlobalAveragePool", shapes: []tensor.Shape{{2, 5, 7, 7}}},
		{op: "GlobalMaxPool", shapes: []tensor.Shape{{2, 5, 3, 4}}},
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{0, 2, 1, 3}}, shapes: []tensor.Shape{{2, 5, 4, 8}}},
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{0, 2, 3, 1}}, shapes: []tensor.Shape{{2, 5, 6, 7}}},
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{0, 3, 1, 2}}, shapes: []tensor.Shape{{2, 5, 6, 70}}},
		{op: "Transpose", shapes: []tensor.Shape{{33, 65}}},
		// Large enough to be split over two threads: tiled (NCHW -> NHWC),
		// rows (a permutation keeping the last dim), and 2-D.
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{0, 2, 3, 1}}, shapes: []tensor.Shape{{7, 32, 26, 27}}},
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{0, 3, 1, 2}}, shapes: []tensor.Shape{{5, 26, 26, 33}}},
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{1, 0, 2}}, shapes: []tensor.Shape{{37, 29, 130}}},
		{op: "Transpose", shapes: []tensor.Shape{{517, 300}}},
		{op: "Transpose", attrs: graph.Attrs{"perm": []int64{1, 0, 2}}, shapes: []tensor.Shape{{3, 1, 4}}},
		{op: "Concat", attrs: graph.Attrs{"axis": int64(1)}, shapes: []tensor.Shape{{2, 3, 4}, {2, 5, 4}, {2, 1, 4}}},
		{op: "Concat", attrs: graph.Attrs{"axis": int64(-1)}, shapes: []tensor.Shape{{2, 3}, {2, 2}}},
		{op: "Identity", shapes: []tensor.Shape{{3, 4}}},
		{op: "ReduceMean", shapes: []tensor.Shape{{3, 4}}},
		{op: "BatchNormalization", attrs: graph.Attrs{"epsilon": float32(1e-3)}, shapes: []tensor.Shape{{2, 3, 4, 5}, {3}, {3}, {3}, {3}}, params: map[int]bool{1: true, 2: true, 3: true, 4: true}},
		{op: "Flatten", attrs: graph.Attrs{"axis": int64(1)}, shapes: []tensor.Shape{{3, 4, 2}}},
	}
	for _, c := range cases {
		g, feeds := singleNode(r, c)
		ref, err := Compile(g, Options{NoPlan: true})
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		fast, err := Compile(g, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]*tensor.Tensor, 1)
		if err := ref.RunInto(context.Background(), feeds, want); err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		for run := 0; run < 2; run++ {
			got := make([]*tensor.Tensor, 1)
			if err := fast.RunInto(context.Background(), feeds, got); err != nil {
				t.Fatalf("%s: %v", c.op, err)
			}
			if !got[0].Shape().Equal(want[0].Shape()) {
				t.Fatalf("%s: shape %v, want %v", c.op, got[0].Shape(), want[0].Shape())
			}
			gw, ww := got[0].F32(), want[0].F32()
			for i := range ww {
				if d := math.Abs(float64(gw[i] - ww[i])); d > 1e-6+1e-5*math.Abs(float64(ww[i])) {
					t.Fatalf("%s %v run %d: element %d is %v, want %v", c.op, c.shapes, run, i, gw[i], ww[i])
				}
			}
		}
		if _, k := fast.planned(feeds); k != 1 {
			t.Errorf("%s %v: no fast kernel was selected", c.op, c.shapes)
		}
	}
}

// TestPlannedRunDoesNotAllocate checks the steady state of a plan whose
// nodes all have fast kernels.
func TestPlannedRunDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	x := graph.TensorType(tensor.Float32, 2, 8)
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: x}},
		Outputs: []*graph.Value{{Name: "z", Type: x}},
		Params:  []*graph.Param{{Name: "b", Tensor: tensor.From(tensor.Shape{8}, make([]float32, 8))}},
		Nodes: []*graph.Node{
			{Name: "add", Op: "Add", Inputs: []string{"x", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{}},
			{Name: "relu", Op: "Relu", Inputs: []string{"y"}, Outputs: []string{"r"}, Attrs: graph.Attrs{}},
			{Name: "flat", Op: "Flatten", Inputs: []string{"r"}, Outputs: []string{"f"}, Attrs: graph.Attrs{"axis": int64(1)}},
			{Name: "sig", Op: "Sigmoid", Inputs: []string{"f"}, Outputs: []string{"z"}, Attrs: graph.Attrs{}},
		},
	}
	for _, threads := range []int{1, 2} {
		p, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		in := []*tensor.Tensor{tensor.From(tensor.Shape{2, 8}, make([]float32, 16))}
		out := []*tensor.Tensor{tensor.New(tensor.Float32, 2, 8)}
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if err := p.RunInto(ctx, in, out); err != nil {
				t.Fatal(err)
			}
		}
		if a := testing.AllocsPerRun(100, func() { p.RunInto(ctx, in, out) }); a != 0 {
			t.Errorf("threads %d: %v allocations per planned run, want 0", threads, a)
		}
		p.Close()
	}
}
