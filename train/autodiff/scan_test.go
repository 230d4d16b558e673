package autodiff

import (
	"math/rand"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// rnnScan builds h_t = tanh(x_t·W + h_{t-1}·U) over x [B, T, F] with the
// time axis 1 read in direction dir, the weights W and U captured from the
// outer graph, a second state c_t = c_{t-1} + sum(h_t) and the outputs
// stacked on axis outAxis.
func rnnScan(dir, outAxis int64) (*graph.Graph, map[string]*tensor.Tensor) {
	rng := rand.New(rand.NewSource(1))
	B, T, F, U := 2, 4, 3, 5
	rnd := func(shape ...int) *tensor.Tensor {
		v := make([]float64, tensor.Shape(shape).Size())
		for i := range v {
			v[i] = rng.Float64() - 0.5
		}
		return tensor.FromFloat64s(tensor.Float64, shape, v)
	}
	f64 := func(s ...int) graph.Type { return graph.TensorType(tensor.Float64, s...) }
	body := &graph.Graph{Name: "cell",
		Inputs:  []*graph.Value{{Name: "h", Type: f64(-1, U)}, {Name: "c", Type: f64(-1, 1)}, {Name: "xt", Type: graph.UnrankedType(tensor.Float64)}},
		Params:  []*graph.Param{{Name: "one", Tensor: tensor.FromInt64s(tensor.Shape{1}, []int64{1})}},
		Outputs: []*graph.Value{{Name: "h2"}, {Name: "c2"}, {Name: "hout"}},
		Nodes: []*graph.Node{
			{Name: "a", Op: "MatMul", Inputs: []string{"xt", "W"}, Outputs: []string{"xw"}},
			{Name: "b", Op: "MatMul", Inputs: []string{"h", "U"}, Outputs: []string{"hu"}},
			{Name: "s", Op: "Add", Inputs: []string{"xw", "hu"}, Outputs: []string{"pre"}},
			{Name: "t", Op: "Tanh", Inputs: []string{"pre"}, Outputs: []string{"h2"}},
			{Name: "r", Op: "ReduceSum", Inputs: []string{"h2", "one"}, Outputs: []string{"hs"}},
			{Name: "cc", Op: "Add", Inputs: []string{"c", "hs"}, Outputs: []string{"c2"}},
			{Name: "id", Op: "Identity", Inputs: []string{"h2"}, Outputs: []string{"hout"}},
		},
	}
	g := &graph.Graph{Name: "rnn",
		Inputs: []*graph.Value{{Name: "x", Type: f64(B, T, F)}, {Name: "h0", Type: f64(B, U)}, {Name: "c0", Type: f64(B, 1)}, {Name: "W", Type: f64(F, U)}, {Name: "U", Type: f64(U, U)}},
		Nodes: []*graph.Node{{Name: "scan", Op: "Scan", Inputs: []string{"h0", "c0", "x"}, Outputs: []string{"hT", "cT", "seq"},
			Attrs: graph.Attrs{"body": body, "num_scan_inputs": int64(1), "scan_input_axes": []int64{1}, "scan_input_directions": []int64{dir}, "scan_output_axes": []int64{outAxis}}}},
	}
	feeds := map[string]*tensor.Tensor{"x": rnd(B, T, F), "h0": rnd(B, U), "c0": rnd(B, 1), "W": rnd(F, U), "U": rnd(U, U)}
	return g, feeds
}

func TestGradScan(t *testing.T) {
	for _, c := range []struct {
		name      string
		dir, axis int64
		out       string
	}{
		{"SeqForward", 0, 1, "seq"},
		{"SeqBackwardAxis0", 1, 0, "seq"},
		{"FinalState", 0, 1, "hT"},
		{"SecondState", 1, -1, "cT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, feeds := rnnScan(c.dir, c.axis)
			checkGrad(t, g, c.out, feeds, []string{"x", "h0", "c0", "W", "U"})
		})
	}
}
