package autodiff

import (
	"errors"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

func TestGradErrorsNameTheNode(t *testing.T) {
	g := &graph.Graph{
		Inputs: []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, 3)}},
		Nodes: []*graph.Node{
			{Name: "hm", Op: "Hardmax", Inputs: []string{"x"}, Outputs: []string{"h"}},
			{Name: "s", Op: "ReduceSum", Inputs: []string{"h"}, Outputs: []string{"l"}, Attrs: graph.Attrs{"keepdims": int64(0)}},
		},
	}
	_, err := Grad(g, "l", []string{"x"})
	if !errors.Is(err, ErrNoGradient) || !strings.Contains(err.Error(), `"hm" (Hardmax)`) {
		t.Fatalf("err = %v, want ErrNoGradient naming node hm", err)
	}
	if _, err := Grad(g, "nope", []string{"x"}); err == nil {
		t.Error("unknown loss: no error")
	}
}

// A w off the loss's path gets zeros of its shape; an intermediate w gets
// the gradient at that value; a value used twice sums both uses.
func TestGradZerosIntermediateAndFanOut(t *testing.T) {
	f32 := func(s ...int) graph.Type { return graph.TensorType(tensor.Float32, s...) }
	g := &graph.Graph{
		Inputs: []*graph.Value{{Name: "x", Type: f32(2)}, {Name: "u", Type: f32(-1, 3)}},
		Nodes: []*graph.Node{
			{Name: "m", Op: "Mul", Inputs: []string{"x", "x"}, Outputs: []string{"sq"}},
			{Name: "a", Op: "Add", Inputs: []string{"sq", "x"}, Outputs: []string{"y"}},
			{Name: "s", Op: "ReduceSum", Inputs: []string{"y"}, Outputs: []string{"l"}, Attrs: graph.Attrs{"keepdims": int64(0)}},
		},
	}
	gr, err := Grad(g, "l", []string{"x", "u", "sq"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range gr {
		g.Outputs = append(g.Outputs, &graph.Value{Name: n})
	}
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{2}, []float32{1, -3}), "u": tensor.New(tensor.Float32, 4, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[gr[0]].F32(); got[0] != 3 || got[1] != -5 {
		t.Errorf("dl/dx = %v, want [3 -5] (2x + 1)", got)
	}
	if got := res[gr[1]]; !got.Shape().Equal(tensor.Shape{4, 3}) || got.F32()[0] != 0 {
		t.Errorf("dl/du = %v, want zeros [4 3]", got)
	}
	if got := res[gr[2]].F32(); got[0] != 1 || got[1] != 1 {
		t.Errorf("dl/dsq = %v, want ones", got)
	}
}
