package runtime

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TestTrainConvKernelsMatchReference holds the training convolution
// kernels (run-time weights, ConvGradWeight, ConvGradInput) against the
// reference kernels on random inputs (tolerance 1e-4 relative to the
// largest output plus 1e-6: sums of up to a few thousand float32 terms
// against float64 references).
func TestTrainConvKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type geo struct {
		x, w  tensor.Shape
		attrs graph.Attrs
	}
	for _, c := range []geo{
		{tensor.Shape{3, 2, 9, 8}, tensor.Shape{4, 2, 3, 3}, graph.Attrs{}},
		{tensor.Shape{2, 3, 10, 11}, tensor.Shape{5, 3, 3, 2}, graph.Attrs{"strides": []int64{2, 2}, "pads": []int64{1, 0, 1, 1}}},
		{tensor.Shape{1, 2, 7, 7}, tensor.Shape{3, 2, 3, 3}, graph.Attrs{"auto_pad": "SAME_UPPER", "dilations": []int64{2, 1}}},
	} {
		// Forward Conv with the weight as an input, and both gradients.
		yShape := func() tensor.Shape {
			g := &graph.Graph{Inputs: []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, c.x...)}, {Name: "w", Type: graph.TensorType(tensor.Float32, c.w...)}},
				Nodes:   []*graph.Node{{Name: "c", Op: "Conv", Attrs: c.attrs, Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
				Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}}}
			p, err := Compile(g, Options{NoPlan: true})
			if err != nil {
				t.Fatal(err)
			}
			out := make([]*tensor.Tensor, 1)
			if err := p.RunInto(context.Background(), []*tensor.Tensor{randTensor(r, c.x), randTensor(r, c.w)}, out); err != nil {
				t.Fatal(err)
			}
			return out[0].Shape()
		}()
		ys := yShape
		cases := []struct {
			op, dom string
			shapes  []tensor.Shape
			shape   tensor.Shape // the int64 shape input, if any
		}{
			{"Conv", "", []tensor.Shape{c.x, c.w, {c.w[0]}}, nil},
			{"ConvGradWeight", "kiln", []tensor.Shape{c.x, ys}, c.w},
			{"ConvGradInput", "kiln", []tensor.Shape{ys, c.w}, c.x},
		}
		for _, k := range cases {
			g := &graph.Graph{Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}}}
			n := &graph.Node{Name: "n", Op: k.op, Domain: k.dom, Attrs: c.attrs, Outputs: []string{"y"}}
			var feeds []*tensor.Tensor
			for i, s := range k.shapes {
				name := string(rune('a' + i))
				n.Inputs = append(n.Inputs, name)
				g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(tensor.Float32, s...)})
				feeds = append(feeds, randTensor(r, s))
			}
			if k.shape != nil {
				v := make([]int64, len(k.shape))
				for i, d := range k.shape {
					v[i] = int64(d)
				}
				g.Params = append(g.Params, &graph.Param{Name: "s", Tensor: tensor.From(tensor.Shape{len(v)}, v)})
				n.Inputs = append(n.Inputs, "s")
			}
			g.Nodes = []*graph.Node{n}
			ref, err := Compile(g, Options{NoPlan: true})
			if err != nil {
				t.Fatal(err)
			}
			fast, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			want, got := make([]*tensor.Tensor, 1), make([]*tensor.Tensor, 1)
			if err := ref.RunInto(context.Background(), feeds, want); err != nil {
				t.Fatalf("%s: %v", k.op, err)
			}
			if err := fast.RunInto(context.Background(), feeds, got); err != nil {
				t.Fatalf("%s: %v", k.op, err)
			}
			if _, nk := fast.planned(feeds); nk != 1 {
				t.Errorf("%s %v: the training kernel was not selected", k.op, k.shapes)
			}
			big := 0.0
			for _, v := range want[0].F32() {
				big = math.Max(big, math.Abs(float64(v)))
			}
			for i, v := range want[0].F32() {
				if d := math.Abs(float64(got[0].F32()[i] - v)); d > 1e-6+1e-4*big {
					t.Fatalf("%s %v: element %d is %v, want %v", k.op, k.shapes, i, got[0].F32()[i], v)
				}
			}
		}
	}
}

// TestMaxPoolGradKernelMatchesReference checks kiln:MaxPoolGrad's fast
// kernel against the reference on random inputs (exact: it only moves
// and adds values).
func TestMaxPoolGradKernelMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		x, y  tensor.Shape
		attrs graph.Attrs
	}{
		{tensor.Shape{2, 3, 8, 8}, tensor.Shape{2, 3, 4, 4}, graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}},
		{tensor.Shape{1, 2, 11, 12}, tensor.Shape{1, 2, 6, 6}, graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}},
		{tensor.Shape{2, 2, 11, 11}, tensor.Shape{2, 2, 5, 5}, graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}},
	} {
		g := &graph.Graph{Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}},
			Inputs: []*graph.Value{{Name: "a", Type: graph.TensorType(tensor.Float32, c.x...)}, {Name: "b", Type: graph.TensorType(tensor.Float32, c.y...)}},
			Nodes:  []*graph.Node{{Name: "n", Op: "MaxPoolGrad", Domain: "kiln", Attrs: c.attrs, Inputs: []string{"a", "b"}, Outputs: []string{"y"}}}}
		feeds := []*tensor.Tensor{randTensor(r, c.x), randTensor(r, c.y)}
		ref, err := Compile(g, Options{NoPlan: true})
		if err != nil {
			t.Fatal(err)
		}
		fast, err := Compile(g, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		want, got := make([]*tensor.Tensor, 1), make([]*tensor.Tensor, 1)
		if err := ref.RunInto(context.Background(), feeds, want); err != nil {
			t.Fatal(err)
		}
		if err := fast.RunInto(context.Background(), feeds, got); err != nil {
			t.Fatal(err)
		}
		if _, nk := fast.planned(feeds); nk != 1 {
			t.Errorf("%v: the fast kernel was not selected", c.x)
		}
		for i, v := range want[0].F32() {
			if math.Abs(float64(got[0].F32()[i]-v)) > 1e-6 {
				t.Fatalf("%v: element %d is %v, want %v", c.x, i, got[0].F32()[i], v)
			}
		}
	}
}
