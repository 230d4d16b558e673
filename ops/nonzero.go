package ops

import (
	"slices"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// NonZero returns the coordinates of the non-zero elements of its input as
// an int64 tensor [rank, count], in row-major order (ONNX NonZero-13). Bools
// count when true, strings when non-empty. A scalar input is treated as
// shape [1].
var NonZero = &Def{Name: "NonZero", Infer: shpNeed(1, func(ic *InferContext) ([]graph.Type, error) {
	r := -1
	if t := ic.In[0]; !t.Unranked {
		r = max(len(t.Shape), 1)
	}
	return []graph.Type{graph.TensorType(tensor.Int64, r, -1)}, nil
}), Kernel: shpNonZeroKernel}

// Compress selects slices of its input along axis where the 1-D bool
// condition is true (ONNX Compress-11). Without axis the input is flattened
// first. A condition shorter than the axis counts as false past its end; a
// longer one may only hold false there.
var Compress = &Def{Name: "Compress", Infer: shpNeed(1, func(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if !ic.Node.Attrs.Has("axis") {
		return []graph.Type{graph.TensorType(t.DType, -1)}, nil
	}
	if t.Unranked {
		return []graph.Type{t}, nil
	}
	axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", 0)), len(t.Shape))
	if err != nil {
		return nil, err
	}
	out := append([]int{}, t.Shape...)
	out[axis] = -1
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}), Kernel: shpCompressKernel}

// Unique finds the unique elements of its input, or with attribute axis the
// unique slices along that axis (ONNX Unique-11). Outputs: Y, the unique
// values (sorted ascending when sorted=1, the default, else in order of first
// occurrence); indices, the position of each value's first occurrence;
// inverse_indices, for each input element (or slice) its position in Y;
// counts, how often each value occurs. Slices compare lexicographically.
var Unique = &Def{Name: "Unique", Infer: shpNeed(1, shpInferUnique), Kernel: shpUniqueKernel}

func init() {
	Register(NonZero)
	Register(Compress)
	Register(Unique)
}

// shpTruth returns whether each element of t is non-zero.
func shpTruth(t *tensor.Tensor) []bool {
	out := make([]bool, t.Len())
	switch s := t.Data().(type) {
	case []bool:
		copy(out, s)
	case []string:
		for i, v := range s {
			out[i] = v != ""
		}
	default:
		for i := range out {
			out[i] = t.At(i) != 0
		}
	}
	return out
}

func shpNonZeroKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	s := in[0].Shape()
	if len(s) == 0 {
		s = tensor.Shape{1}
	}
	st := s.Strides()
	var hits []int
	for i, v := range shpTruth(in[0]) {
		if v {
			hits = append(hits, i)
		}
	}
	out := make([]int64, len(s)*len(hits))
	for j, h := range hits {
		for d := range s {
			out[d*len(hits)+j] = int64((h / st[d]) % s[d])
		}
	}
	return []*tensor.Tensor{tensor.From(tensor.Shape{len(s), len(hits)}, out)}, nil
}

func shpCompressKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs input and condition inputs")
	}
	x := in[0]
	if in[1].Rank() != 1 {
		return nil, Errorf(n, "condition must be 1-D, got shape %v", in[1].Shape())
	}
	cond := shpTruth(in[1])
	s := x.Shape()
	axis := 0
	if n.Attrs.Has("axis") {
		var err error
		if axis, err = shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s)); err != nil {
			return nil, err
		}
	} else {
		s = tensor.Shape{x.Len()}
	}
	outer, d, inner := shpOuterInner(s, axis)
	var keep []int
	for i, c := range cond {
		if !c {
			continue
		}
		if i >= d {
			return nil, Errorf(n, "condition selects index %d beyond the axis size %d", i, d)
		}
		keep = append(keep, i)
	}
	idx := make([]int, 0, outer*len(keep)*inner)
	for o := 0; o < outer; o++ {
		for _, k := range keep {
			b := (o*d + k) * inner
			for j := 0; j < inner; j++ {
				idx = append(idx, b+j)
			}
		}
	}
	os := s.Clone()
	os[axis] = len(keep)
	r, err := shpTake(x, os, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}

func shpInferUnique(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	y := graph.TensorType(t.DType, -1)
	inv := graph.TensorType(tensor.Int64, -1)
	if ic.Node.Attrs.Has("axis") && !t.Unranked {
		axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", 0)), len(t.Shape))
		if err != nil {
			return nil, err
		}
		y = graph.TensorType(t.DType, t.Shape...)
		y.Shape[axis] = -1
		inv.Shape[0] = t.Shape[axis]
	} else if t.Static() {
		inv.Shape[0] = tensor.Shape(t.Shape).Size()
	}
	out := []graph.Type{y, graph.TensorType(tensor.Int64, -1), inv, graph.TensorType(tensor.Int64, -1)}
	return out[:min(len(ic.Node.Outputs), 4)], nil
}

func shpUniqueKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	x := in[0]
	s := x.Shape()
	axis := 0
	if n.Attrs.Has("axis") {
		var err error
		if axis, err = shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s)); err != nil {
			return nil, err
		}
	} else {
		s = tensor.Shape{x.Len()}
	}
	outer, d, inner := shpOuterInner(s, axis)
	el := shpCompare(x)
	// Compare slices a and b along axis lexicographically in row-major order.
	cmpSlice := func(a, b int) int {
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				if c := el((o*d+a)*inner+j, (o*d+b)*inner+j); c != 0 {
					return c
				}
			}
		}
		return 0
	}
	order := shpIdentity(d)
	slices.SortStableFunc(order, cmpSlice)
	// groups of equal slices, each listed by its members in index order
	var groups [][]int
	for i, v := range order {
		if i > 0 && cmpSlice(order[i-1], v) == 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], v)
		} else {
			groups = append(groups, []int{v})
		}
	}
	if n.Attrs.Int("sorted", 1) == 0 {
		slices.SortFunc(groups, func(a, b []int) int { return a[0] - b[0] })
	}
	u := len(groups)
	first := make([]int64, u)
	counts := make([]int64, u)
	inv := make([]int64, d)
	for g, m := range groups {
		first[g] = int64(m[0])
		counts[g] = int64(len(m))
		for _, v := range m {
			inv[v] = int64(g)
		}
	}
	idx := make([]int, 0, outer*u*inner)
	for o := 0; o < outer; o++ {
		for _, f := range first {
			b := (o*d + int(f)) * inner
			for j := 0; j < inner; j++ {
				idx = append(idx, b+j)
			}
		}
	}
	ys := s.Clone()
	ys[axis] = u
	y, err := shpTake(x, ys, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	outs := []*tensor.Tensor{y,
		tensor.From(tensor.Shape{u}, first),
		tensor.From(tensor.Shape{d}, inv),
		tensor.From(tensor.Shape{u}, counts)}
	return outs[:max(1, min(len(n.Outputs), 4))], nil
}
