package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestLosses(t *testing.T) {
	// log-probabilities [N=2, C=3]; targets 2 and 0; weights [1, 2, 3].
	lp := tensor.From(tensor.Shape{2, 3}, []float32{-1, -2, -3, -4, -5, -6})
	tg := tensor.From(tensor.Shape{2}, []int64{2, 0})
	w := tensor.From(tensor.Shape{3}, []float32{1, 2, 3})
	cases := []struct {
		attrs graph.Attrs
		in    []*tensor.Tensor
		shape tensor.Shape
		want  []float64
	}{
		{graph.Attrs{"reduction": "none"}, []*tensor.Tensor{lp, tg}, tensor.Shape{2}, []float64{3, 4}},
		{graph.Attrs{"reduction": "sum"}, []*tensor.Tensor{lp, tg}, tensor.Shape{}, []float64{7}},
		{nil, []*tensor.Tensor{lp, tg}, tensor.Shape{}, []float64{3.5}},
		// weighted mean: (3·3 + 4·1) / (3 + 1)
		{nil, []*tensor.Tensor{lp, tg, w}, tensor.Shape{}, []float64{13.0 / 4}},
		// ignore_index removes the second element from the sum and the count.
		{graph.Attrs{"ignore_index": int64(0)}, []*tensor.Tensor{lp, tg}, tensor.Shape{}, []float64{3}},
	}
	for i, c := range cases {
		outs, err := rdRun(t, "NegativeLogLikelihoodLoss", c.attrs, c.in...)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		rdClose(t, "NegativeLogLikelihoodLoss", outs[0], c.shape, c.want)
	}
	if _, err := rdRun(t, "NegativeLogLikelihoodLoss", nil, lp, tensor.From(tensor.Shape{2}, []int64{3, 0})); err == nil {
		t.Fatal("target out of range: want an error")
	}

	// Softmax cross-entropy of equal scores over 2 classes is log 2.
	sc := tensor.From(tensor.Shape{1, 2}, []float32{5, 5})
	n := &graph.Node{Name: "sce", Op: "SoftmaxCrossEntropyLoss", Inputs: []string{"s", "l"}, Outputs: []string{"o", "lp"}, Attrs: graph.Attrs{}}
	outs, err := SoftmaxCrossEntropyLoss.Kernel(n, []*tensor.Tensor{sc, tensor.From(tensor.Shape{1}, []int32{1})})
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "SoftmaxCrossEntropyLoss", outs[0], tensor.Shape{}, []float64{math.Ln2})
	rdClose(t, "SoftmaxCrossEntropyLoss log_prob", outs[1], tensor.Shape{1, 2}, []float64{-math.Ln2, -math.Ln2})
}
