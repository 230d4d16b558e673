package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Concat joins its inputs along axis (ONNX Concat-13). All inputs share a
// dtype and rank and agree on every other dimension; negative axis counts
// from the end.
var Concat = &Def{Name: "Concat", Infer: shpInferConcat, Kernel: shpConcatKernel}

// Split cuts its input along axis (default 0) into the node's outputs (ONNX
// Split-18). The optional int64 input split gives the sizes (summing to the
// axis size); otherwise attribute num_outputs (or else the number of
// outputs) parts of size ceil(d/num) are made, the last one smaller when d
// does not divide evenly.
var Split = &Def{Name: "Split", Infer: shpNeed(1, shpInferSplit), Kernel: shpSplitKernel}

func init() {
	Register(Concat)
	Register(Split)
}

func shpInferConcat(ic *InferContext) ([]graph.Type, error) {
	var out []int
	var dt tensor.DType
	axis := int(ic.Node.Attrs.Int("axis", 0))
	for i, t := range ic.In {
		if !ic.Has(i) {
			continue
		}
		dt = t.DType
		if t.Unranked {
			return []graph.Type{graph.UnrankedType(dt)}, nil
		}
		if out == nil {
			var err error
			if axis, err = shpAxis(ic.Node, axis, len(t.Shape)); err != nil {
				return nil, err
			}
			out = append([]int{}, t.Shape...)
			continue
		}
		if len(t.Shape) != len(out) {
			return nil, ic.Errorf("input %d has rank %d, want %d", i, len(t.Shape), len(out))
		}
		for j, d := range t.Shape {
			switch {
			case j == axis:
				if d < 0 || out[j] < 0 {
					out[j] = -1
				} else {
					out[j] += d
				}
			case out[j] < 0:
				out[j] = d
			case d >= 0 && d != out[j]:
				return nil, ic.Errorf("input %d has shape %v, incompatible with %v off axis %d", i, t.Shape, out, axis)
			}
		}
	}
	if out == nil {
		return nil, ic.Errorf("needs at least one input")
	}
	return []graph.Type{graph.TensorType(dt, out...)}, nil
}

func shpConcatKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	var xs []*tensor.Tensor
	for _, t := range in {
		if t != nil {
			xs = append(xs, t)
		}
	}
	if len(xs) == 0 {
		return nil, Errorf(n, "needs at least one input")
	}
	s0 := xs[0].Shape()
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s0))
	if err != nil {
		return nil, err
	}
	out := s0.Clone()
	out[axis] = 0
	for i, x := range xs {
		s := x.Shape()
		if x.DType() != xs[0].DType() {
			return nil, Errorf(n, "input %d is %v, want %v", i, x.DType(), xs[0].DType())
		}
		if len(s) != len(s0) {
			return nil, Errorf(n, "input %d has rank %d, want %d", i, len(s), len(s0))
		}
		for j := range s {
			if j != axis && s[j] != s0[j] {
				return nil, Errorf(n, "input %d has shape %v, incompatible with %v off axis %d", i, s, s0, axis)
			}
		}
		out[axis] += s[axis]
	}
	r, err := tensor.NewChecked(xs[0].DType(), out)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	outer, od, inner := shpOuterInner(out, axis)
	off := 0
	for _, x := range xs {
		chunk := x.Shape()[axis] * inner
		idx := make([]int, 0, outer*chunk)
		for o := 0; o < outer; o++ {
			b := o*od*inner + off
			for j := 0; j < chunk; j++ {
				idx = append(idx, b+j)
			}
		}
		shpPut(r, x, idx)
		off += chunk
	}
	return []*tensor.Tensor{r}, nil
}

// shpSplitSizes returns the part sizes of a Split of a dimension of size d
// into nout outputs.
func shpSplitSizes(n *graph.Node, d, nout int, split []int, have bool) ([]int, error) {
	if have {
		if len(split) != nout {
			return nil, Errorf(n, "split has %d entries for %d outputs", len(split), nout)
		}
		sum := 0
		for _, s := range split {
			if s < 0 {
				return nil, Errorf(n, "split %v has a negative size", split)
			}
			sum += s
		}
		if sum != d {
			return nil, Errorf(n, "split %v sums to %d, want the axis size %d", split, sum, d)
		}
		return split, nil
	}
	num := nout
	if n.Attrs.Has("num_outputs") {
		num = int(n.Attrs.Int("num_outputs", 0))
		if num != nout {
			return nil, Errorf(n, "num_outputs %d differs from the %d outputs", num, nout)
		}
	}
	if num <= 0 {
		return nil, Errorf(n, "needs at least one output")
	}
	chunk := (d + num - 1) / num
	sizes := make([]int, num)
	left := d
	for i := range sizes {
		sizes[i] = min(chunk, left)
		left -= sizes[i]
	}
	return sizes, nil
}

func shpInferSplit(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	nout := len(ic.Node.Outputs)
	unknown := func() ([]graph.Type, error) {
		out := make([]graph.Type, nout)
		for i := range out {
			if t.Unranked {
				out[i] = graph.UnrankedType(t.DType)
			} else {
				out[i] = shpInferUnknown(t.DType, len(t.Shape))
			}
		}
		return out, nil
	}
	if t.Unranked {
		return unknown()
	}
	axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", 0)), len(t.Shape))
	if err != nil {
		return nil, err
	}
	if t.Shape[axis] < 0 {
		return unknown()
	}
	var split []int
	have := ic.Has(1)
	if have {
		c := ic.Const(1)
		if c == nil {
			return unknown()
		}
		if split, err = shpInts(ic.Node, c, "split"); err != nil {
			return nil, err
		}
	}
	sizes, err := shpSplitSizes(ic.Node, t.Shape[axis], nout, split, have)
	if err != nil {
		return nil, err
	}
	out := make([]graph.Type, nout)
	for i, s := range sizes {
		sh := append([]int{}, t.Shape...)
		sh[axis] = s
		out[i] = graph.TensorType(t.DType, sh...)
	}
	return out, nil
}

func shpSplitKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	x := in[0]
	s := x.Shape()
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s))
	if err != nil {
		return nil, err
	}
	var split []int
	have := len(in) > 1 && in[1] != nil
	if have {
		if split, err = shpInts(n, in[1], "split"); err != nil {
			return nil, err
		}
	}
	sizes, err := shpSplitSizes(n, s[axis], len(n.Outputs), split, have)
	if err != nil {
		return nil, err
	}
	st := s.Strides()
	outs := make([]*tensor.Tensor, len(sizes))
	off := 0
	for i, sz := range sizes {
		os := s.Clone()
		os[axis] = sz
		if outs[i], err = shpTake(x, os, shpMap(os, off*st[axis], st), nil); err != nil {
			return nil, Errorf(n, "%v", err)
		}
		off += sz
	}
	return outs, nil
}
