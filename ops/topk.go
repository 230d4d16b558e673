package ops

import (
	"slices"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TopK returns the k largest (largest=1, default) or smallest elements along
// axis (default -1) and their int64 indices (ONNX TopK-11); k is a 1-element
// int64 input. Results are always sorted (best first), which satisfies
// sorted=0 too; equal values keep the lower index first.
var TopK = &Def{Name: "TopK", Infer: shpNeed(1, shpInferTopK), Kernel: shpTopKKernel}

// ArgMax returns the int64 index of the largest element along axis (default
// 0), keeping the reduced axis as size 1 when keepdims=1 (default) (ONNX
// ArgMax-13). Ties resolve to the first index, or the last with
// select_last_index=1.
var ArgMax = &Def{Name: "ArgMax", Infer: shpNeed(1, shpInferArg), Kernel: shpArgKernel(1)}

// ArgMin is ArgMax for the smallest element (ONNX ArgMin-13).
var ArgMin = &Def{Name: "ArgMin", Infer: shpNeed(1, shpInferArg), Kernel: shpArgKernel(-1)}

func init() {
	Register(TopK)
	Register(ArgMax)
	Register(ArgMin)
}

func shpInferTopK(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{t, graph.UnrankedType(tensor.Int64)}, nil
	}
	axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", -1)), len(t.Shape))
	if err != nil {
		return nil, err
	}
	out := append([]int{}, t.Shape...)
	out[axis] = -1
	if c := ic.Const(1); c != nil && c.Len() == 1 && c.DType().IsInt() {
		out[axis] = int(c.Int64s()[0])
	}
	return []graph.Type{graph.TensorType(t.DType, out...), graph.TensorType(tensor.Int64, out...)}, nil
}

func shpTopKKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs X and K inputs")
	}
	x := in[0]
	s := x.Shape()
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", -1)), len(s))
	if err != nil {
		return nil, err
	}
	ks, err := shpInts(n, in[1], "K")
	if err != nil {
		return nil, err
	}
	if len(ks) != 1 {
		return nil, Errorf(n, "K must have one element, got shape %v", in[1].Shape())
	}
	k := ks[0]
	outer, d, inner := shpOuterInner(s, axis)
	if k < 0 || k > d {
		return nil, Errorf(n, "K=%d out of range for axis size %d", k, d)
	}
	sign := 1
	if n.Attrs.Int("largest", 1) == 0 {
		sign = -1
	}
	el := shpCompare(x)
	os := s.Clone()
	os[axis] = k
	idx := make([]int, 0, os.Size())
	ind := make([]int64, os.Size())
	ord := make([]int, d)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			base := o*d*inner + j
			for i := range ord {
				ord[i] = i
			}
			slices.SortStableFunc(ord, func(a, b int) int {
				return -sign * el(base+a*inner, base+b*inner)
			})
			for r := 0; r < k; r++ {
				ind[(o*k+r)*inner+j] = int64(ord[r])
			}
		}
	}
	for p := range ind {
		j := p % inner
		o := p / (k * inner)
		idx = append(idx, o*d*inner+int(ind[p])*inner+j)
	}
	vals, err := shpTake(x, os, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{vals, tensor.From(os, ind)}, nil
}

func shpArgShape(s []int, axis int, keep bool) []int {
	out := append([]int{}, s...)
	if keep {
		out[axis] = 1
		return out
	}
	return append(out[:axis], out[axis+1:]...)
}

func shpInferArg(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{graph.UnrankedType(tensor.Int64)}, nil
	}
	axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", 0)), len(t.Shape))
	if err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(tensor.Int64, shpArgShape(t.Shape, axis, ic.Node.Attrs.Int("keepdims", 1) != 0)...)}, nil
}

func shpArgKernel(sign int) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, Errorf(n, "needs an input")
		}
		x := in[0]
		if !x.DType().IsNumeric() {
			return nil, Errorf(n, "input must be numeric, got %v", x.DType())
		}
		s := x.Shape()
		axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s))
		if err != nil {
			return nil, err
		}
		outer, d, inner := shpOuterInner(s, axis)
		if d == 0 {
			return nil, Errorf(n, "cannot reduce an empty axis")
		}
		last := n.Attrs.Int("select_last_index", 0) != 0
		el := shpCompare(x)
		out := make([]int64, outer*inner)
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				base := o*d*inner + j
				best := 0
				for i := 1; i < d; i++ {
					c := sign * el(base+i*inner, base+best*inner)
					if c > 0 || c == 0 && last {
						best = i
					}
				}
				out[o*inner+j] = int64(best)
			}
		}
		os := shpArgShape(s, axis, n.Attrs.Int("keepdims", 1) != 0)
		return []*tensor.Tensor{tensor.From(tensor.Shape(os), out)}, nil
	}
}
