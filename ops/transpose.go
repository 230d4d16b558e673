package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Transpose permutes the dimensions of its input (ONNX Transpose-21): output
// dimension i is input dimension perm[i]. perm defaults to the reversed
// dimension order; it must be a permutation of 0..rank-1.
var Transpose = &Def{Name: "Transpose", Infer: shpNeed(1, shpInferTranspose), Kernel: shpTransposeKernel}

func init() { Register(Transpose) }

func shpPerm(n *graph.Node, rank int) ([]int, error) {
	perm := shpIntList(n.Attrs, "perm")
	if perm == nil {
		perm = make([]int, rank)
		for i := range perm {
			perm[i] = rank - 1 - i
		}
		return perm, nil
	}
	if len(perm) != rank {
		return nil, Errorf(n, "perm %v has %d entries for rank %d", perm, len(perm), rank)
	}
	seen := make([]bool, rank)
	for _, p := range perm {
		if p < 0 || p >= rank || seen[p] {
			return nil, Errorf(n, "perm %v is not a permutation of 0..%d", perm, rank-1)
		}
		seen[p] = true
	}
	return perm, nil
}

func shpInferTranspose(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{t}, nil
	}
	perm, err := shpPerm(ic.Node, len(t.Shape))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = t.Shape[p]
	}
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}

// shpTranspose permutes x's dimensions by perm.
func shpTranspose(x *tensor.Tensor, perm []int) (*tensor.Tensor, error) {
	s := x.Shape()
	st := s.Strides()
	out := make(tensor.Shape, len(perm))
	ost := make([]int, len(perm))
	for i, p := range perm {
		out[i] = s[p]
		ost[i] = st[p]
	}
	return shpTake(x, out, shpMap(out, 0, ost), nil)
}

func shpTransposeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	perm, err := shpPerm(n, in[0].Rank())
	if err != nil {
		return nil, err
	}
	out, err := shpTranspose(in[0], perm)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}
