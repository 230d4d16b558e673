package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestAttention(t *testing.T) {
	f32 := func(s tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(s, v) }
	// One head, D = 1: Q = [[1], [1]], K = [[0], [ln 3]], scale 1, V = [[1], [5]].
	// Scores per query: [0, ln 3] -> softmax [1/4, 3/4] -> 1/4 + 15/4 = 4.
	q := f32(tensor.Shape{1, 1, 2, 1}, 1, 1)
	k := f32(tensor.Shape{1, 1, 2, 1}, 0, float32(math.Log(3)))
	v := f32(tensor.Shape{1, 1, 2, 1}, 1, 5)
	outs, err := rdRun(t, "Attention", graph.Attrs{"scale": float32(1)}, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "Attention", outs[0], tensor.Shape{1, 1, 2, 1}, []float64{4, 4})

	// Causal: query 0 sees only key 0 (output 1); query 1 sees both (4).
	outs, err = rdRun(t, "Attention", graph.Attrs{"scale": float32(1), "is_causal": int64(1)}, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "Attention causal", outs[0], tensor.Shape{1, 1, 2, 1}, []float64{1, 4})

	// Bool mask hiding key 0 from both queries gives V[1]; a fully masked
	// row gives zeros.
	m := tensor.From(tensor.Shape{2, 2}, []bool{false, true, false, false})
	outs, err = rdRun(t, "Attention", graph.Attrs{"scale": float32(1)}, q, k, v, m)
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "Attention mask", outs[0], tensor.Shape{1, 1, 2, 1}, []float64{5, 0})

	// past_key/past_value are prepended and returned as present outputs.
	n := &graph.Node{Name: "a", Op: "Attention", Inputs: []string{"q", "k", "v", "", "pk", "pv"},
		Outputs: []string{"y", "pk2", "pv2"}, Attrs: graph.Attrs{"scale": float32(1)}}
	res, err := Attention.Kernel(n, []*tensor.Tensor{f32(tensor.Shape{1, 1, 1, 1}, 1), f32(tensor.Shape{1, 1, 1, 1}, float32(math.Log(3))),
		f32(tensor.Shape{1, 1, 1, 1}, 5), nil, f32(tensor.Shape{1, 1, 1, 1}, 0), f32(tensor.Shape{1, 1, 1, 1}, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "Attention past Y", res[0], tensor.Shape{1, 1, 1, 1}, []float64{4})
	rdClose(t, "Attention present_key", res[1], tensor.Shape{1, 1, 2, 1}, []float64{0, math.Log(3)})
	rdClose(t, "Attention present_value", res[2], tensor.Shape{1, 1, 2, 1}, []float64{1, 5})

	// 3-D inputs without head counts are an error.
	if _, err := rdRun(t, "Attention", nil, f32(tensor.Shape{1, 1, 2}, 1, 1), f32(tensor.Shape{1, 1, 2}, 1, 1), f32(tensor.Shape{1, 1, 2}, 1, 1)); err == nil {
		t.Fatal("3-D Attention without q_num_heads: want an error")
	}
}
