package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Training-mode Dropout keeps each element with probability 1-ratio and
// scales kept elements by 1/(1-ratio); a seed makes the mask repeatable.
func TestRandomDropout(t *testing.T) {
	const n = 20000
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	node := &graph.Node{Name: "d", Op: "Dropout", Inputs: []string{"x", "r", "t"}, Outputs: []string{"y", "m"}, Attrs: graph.Attrs{"seed": int64(7)}}
	in := []*tensor.Tensor{tensor.From(tensor.Shape{n}, x), tensor.Scalar(float32(0.25)), tensor.Scalar(true)}
	run := func() ([]float32, []bool) {
		out, err := ewDropout(node, in)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].F32(), out[1].Bools()
	}
	y, m := run()
	kept := 0
	for i := range y {
		switch {
		case m[i] && math.Abs(float64(y[i])-1/0.75) < 1e-6:
			kept++
		case !m[i] && y[i] == 0:
		default:
			t.Fatalf("element %d: value %v with mask %v", i, y[i], m[i])
		}
	}
	// 20000 Bernoulli(0.75) draws: standard deviation about 61.
	if frac := float64(kept) / n; math.Abs(frac-0.75) > 0.02 {
		t.Errorf("kept %.3f of the elements, want about 0.75", frac)
	}
	_, m2 := run()
	for i := range m {
		if m[i] != m2[i] {
			t.Fatal("the same seed gave a different mask")
		}
	}
}
