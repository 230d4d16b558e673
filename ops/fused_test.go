package ops

import (
	"errors"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func fusedNode(op string, attrs graph.Attrs, nin int) *graph.Node {
	in := []string{"a", "b", "c", "d"}[:nin]
	return &graph.Node{Name: "f", Op: op, Domain: "kiln", Inputs: in, Outputs: []string{"y"}, Attrs: attrs}
}

func TestFusedConvEpilogue(t *testing.T) {
	x := tensor.From(tensor.Shape{1, 1, 2, 2}, []float32{1, -2, 3, -4})
	w := tensor.From(tensor.Shape{2, 1, 1, 1}, []float32{1, -1})
	b := tensor.From(tensor.Shape{2}, []float32{0.5, 0})
	z := tensor.From(tensor.Shape{1, 2, 2, 2}, []float32{0, 0, 0, 0, 1, 1, 1, 1})
	// Conv: ch0 = x + 0.5 = [1.5 -1.5 3.5 -3.5], ch1 = -x = [-1 2 -3 4]; + z; relu6 clip.
	n := fusedNode("FusedConv", graph.Attrs{"activation": "Clip", "activation_alpha": float32(0), "activation_beta": float32(4)}, 4)
	out, err := FusedConv.Kernel(n, []*tensor.Tensor{x, w, b, z})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1.5, 0, 3.5, 0, 0, 3, 0, 4}
	for i, v := range out[0].F32() {
		if v != want[i] {
			t.Fatalf("got %v, want %v", out[0].F32(), want)
		}
	}
}

func TestFusedMatMulAndGemm(t *testing.T) {
	a := tensor.From(tensor.Shape{1, 2}, []float32{1, 2})
	w := tensor.From(tensor.Shape{2, 2}, []float32{1, -1, 1, -1})
	bias := tensor.From(tensor.Shape{2}, []float32{0, 1})
	out, err := FusedMatMul.Kernel(fusedNode("FusedMatMul", graph.Attrs{"activation": "LeakyRelu", "activation_alpha": float32(0.5)}, 3), []*tensor.Tensor{a, w, bias})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].F32(); got[0] != 3 || got[1] != -1 {
		t.Fatalf("FusedMatMul: got %v, want [3 -1]", got)
	}
	out, err = FusedGemm.Kernel(fusedNode("FusedGemm", graph.Attrs{"activation": "Relu", "alpha": float32(2)}, 3), []*tensor.Tensor{a, w, bias})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].F32(); got[0] != 6 || got[1] != 0 {
		t.Fatalf("FusedGemm: got %v, want [6 0]", got)
	}
	_, err = FusedGemm.Kernel(fusedNode("FusedGemm", graph.Attrs{"activation": "Softmax"}, 2), []*tensor.Tensor{a, w})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown activation: got %v, want ErrUnsupported", err)
	}
}
