package graph

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestCloneIsDeep(t *testing.T) {
	w := tensor.From(tensor.Shape{2}, []float32{1, 2})
	body := &Graph{
		Name:    "body",
		Inputs:  []*Value{{Name: "i", Type: TensorType(tensor.Float32, 2)}},
		Outputs: []*Value{{Name: "o", Type: TensorType(tensor.Float32, 2)}},
		Nodes:   []*Node{{Name: "r", Op: "Relu", Inputs: []string{"i"}, Outputs: []string{"o"}}},
	}
	g := &Graph{
		Name:    "g",
		Inputs:  []*Value{{Name: "x", Type: Type{Kind: KindTensor, DType: tensor.Float32, Shape: []int{-1, 2}, DimNames: []string{"batch", ""}}}},
		Outputs: []*Value{{Name: "y", Type: TensorType(tensor.Float32, -1, 2)}},
		Params:  []*Param{{Name: "w", Tensor: w, Trainable: true}},
		Nodes: []*Node{
			{Name: "add", Op: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"s"}, Attrs: Attrs{"ints": []int64{1, 2}}, Meta: Meta{Source: "onnx", ONNXName: "add"}},
			{Name: "if", Op: "If", Inputs: []string{"c"}, Outputs: []string{"y"}, Attrs: Attrs{"then_branch": body, "list": []*Graph{body}}},
		},
		Types:  map[string]Type{"s": TensorType(tensor.Float32, -1, 2)},
		Opsets: map[string]int{"": 21},
	}
	c := g.Clone()
	c.Inputs[0].Type.Shape[0] = 7
	c.Inputs[0].Type.DimNames[0] = "n"
	c.Nodes[0].Inputs[0] = "z"
	c.Nodes[0].Attrs.Ints("ints")[0] = 9
	c.Nodes[0].Attrs["new"] = int64(1)
	c.Nodes[1].Attrs.Graph("then_branch").Nodes[0].Op = "Sigmoid"
	c.Nodes[1].Attrs["list"].([]*Graph)[0].Name = "changed"
	c.Params[0].Name = "w2"
	c.Types["s"].Shape[0] = 3
	c.Opsets[""] = 1
	c.Outputs[0].Name = "q"

	if g.Inputs[0].Type.Shape[0] != -1 || g.Inputs[0].Type.DimNames[0] != "batch" {
		t.Errorf("input type shared")
	}
	if g.Nodes[0].Inputs[0] != "x" || g.Nodes[0].Attrs.Ints("ints")[0] != 1 || g.Nodes[0].Attrs.Has("new") {
		t.Errorf("node shared")
	}
	if body.Nodes[0].Op != "Relu" || body.Name != "body" {
		t.Errorf("subgraph shared")
	}
	if g.Params[0].Name != "w" || c.Params[0].Tensor != w {
		t.Errorf("params: want a new Param sharing the tensor")
	}
	if g.Types["s"].Shape[0] != -1 || g.Opsets[""] != 21 || g.Outputs[0].Name != "y" {
		t.Errorf("types, opsets or outputs shared")
	}
	if c.Nodes[0].Meta != g.Nodes[0].Meta {
		t.Errorf("meta not copied")
	}
}
