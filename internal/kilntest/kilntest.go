// Package kilntest builds small models in Go for tests of the embedding
// API and the server, so they need no model files.
package kilntest

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Affine returns the graph y = x·W + b with x float32[batch,4], W [4,3]
// and b [3], so y is float32[batch,3]. W holds 1 on the diagonal and 0
// elsewhere and b is (0.5, 1, 2): row (a, b, c, d) maps to
// (a+0.5, b+1, c+2).
func Affine() *graph.Graph {
	w := tensor.From(tensor.Shape{4, 3}, []float32{
		1, 0, 0,
		0, 1, 0,
		0, 0, 1,
		0, 0, 0,
	})
	b := tensor.From(tensor.Shape{3}, []float32{0.5, 1, 2})
	x := graph.TensorType(tensor.Float32, -1, 4)
	x.DimNames = []string{"batch", ""}
	y := graph.TensorType(tensor.Float32, -1, 3)
	y.DimNames = []string{"batch", ""}
	return &graph.Graph{
		Name:    "affine",
		Inputs:  []*graph.Value{{Name: "x", Type: x}},
		Outputs: []*graph.Value{{Name: "y", Type: y}},
		Params:  []*graph.Param{{Name: "W", Tensor: w}, {Name: "b", Tensor: b}},
		Nodes: []*graph.Node{
			{Name: "matmul", Op: "MatMul", Inputs: []string{"x", "W"}, Outputs: []string{"xw"}},
			{Name: "add", Op: "Add", Inputs: []string{"xw", "b"}, Outputs: []string{"y"}},
		},
	}
}

// TwoInOut returns a graph with two inputs and two outputs, both batched:
// a float32[batch,2] and n int64[batch] give sum = a+a (float32[batch,2])
// and twice = n+n (int64[batch]).
func TwoInOut() *graph.Graph {
	a := graph.TensorType(tensor.Float32, -1, 2)
	n := graph.TensorType(tensor.Int64, -1)
	return &graph.Graph{
		Name:    "two",
		Inputs:  []*graph.Value{{Name: "a", Type: a}, {Name: "n", Type: n}},
		Outputs: []*graph.Value{{Name: "sum", Type: a}, {Name: "twice", Type: n}},
		Nodes: []*graph.Node{
			{Name: "add_a", Op: "Add", Inputs: []string{"a", "a"}, Outputs: []string{"sum"}},
			{Name: "add_n", Op: "Add", Inputs: []string{"n", "n"}, Outputs: []string{"twice"}},
		},
	}
}

// Fixed returns a graph without a batch dimension: x float32[1,3] gives
// y = x+x, float32[1,3].
func Fixed() *graph.Graph {
	x := graph.TensorType(tensor.Float32, 1, 3)
	return &graph.Graph{
		Name:    "fixed",
		Inputs:  []*graph.Value{{Name: "x", Type: x}},
		Outputs: []*graph.Value{{Name: "y", Type: x}},
		Nodes: []*graph.Node{
			{Name: "add", Op: "Add", Inputs: []string{"x", "x"}, Outputs: []string{"y"}},
		},
	}
}
