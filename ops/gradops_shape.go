package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Helper ops of the backward pass for shape and indexing ops (domain
// "kiln"). They are the adjoints of broadcasting, Slice, Gather and Pad:
// scatter-adds that ONNX can only express through shape arithmetic.

// SumToShape reduces a broadcast gradient back to an operand's shape
// (kiln:SumToShape). Inputs: X and a 1-D int64 shape S from which X's shape
// broadcasts (numpy rules). Output Y of shape S with
// Y[j] = sum of X[i] over every i whose broadcast index into S is j: the
// adjoint of Expand(·, shape(X)). It errors when S does not broadcast to
// X's shape.
var SumToShape = &Def{Name: "SumToShape", Domain: "kiln", Infer: gradInferToShape(1), Kernel: gradSumToShapeKernel}

// SliceGrad is the adjoint of Slice (kiln:SliceGrad). Inputs: dY, the
// data shape S (1-D int64), and Slice's starts, ends and optional axes and
// steps. Output: zeros of shape S with dY added at the positions Slice
// reads (a Slice position is read once, so this is a scatter).
var SliceGrad = &Def{Name: "SliceGrad", Domain: "kiln", Infer: gradInferToShape(1), Kernel: gradSliceGradKernel}

// GatherGrad is the adjoint of Gather (kiln:GatherGrad). Inputs: dY, the
// integer indices of the Gather, and the data shape S (1-D int64);
// attribute axis as in Gather. Output dX of shape S with
// dX[..., indices[j], ...] += dY[..., j, ...]: repeated indices add up,
// negative indices count from the end.
var GatherGrad = &Def{Name: "GatherGrad", Domain: "kiln", Infer: gradInferToShape(2), Kernel: gradGatherGradKernel}

func init() {
	Register(SumToShape)
	Register(SliceGrad)
	Register(GatherGrad)
}

// gradInferToShape infers an output of input 0's dtype and the shape held
// by input i, when that shape is a known constant.
func gradInferToShape(i int) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) <= i {
			return nil, ic.Errorf("needs at least %d inputs", i+1)
		}
		dt := ic.In[0].DType
		if c := ic.Const(i); c != nil {
			s := c.Int64s()
			shape := make([]int, len(s))
			for j, v := range s {
				shape[j] = int(v)
			}
			return []graph.Type{graph.TensorType(dt, shape...)}, nil
		}
		st := ic.In[i]
		if !st.Unranked && len(st.Shape) == 1 && st.Shape[0] >= 0 {
			return []graph.Type{shpInferUnknown(dt, st.Shape[0])}, nil
		}
		return []graph.Type{graph.UnrankedType(dt)}, nil
	}
}

func gradShapeInput(n *graph.Node, t *tensor.Tensor) (tensor.Shape, error) {
	if t == nil {
		return nil, Errorf(n, "missing shape input")
	}
	v, err := shpInts(n, t, "shape")
	if err != nil {
		return nil, err
	}
	for _, d := range v {
		if d < 0 {
			return nil, Errorf(n, "shape %v has a negative dimension", v)
		}
	}
	return tensor.Shape(v), nil
}

func gradSumToShapeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil {
		return nil, Errorf(n, "needs inputs X and shape")
	}
	x := in[0]
	s, err := gradShapeInput(n, in[1])
	if err != nil {
		return nil, err
	}
	if s.Equal(x.Shape()) {
		return []*tensor.Tensor{x}, nil
	}
	if b, err := tensor.Broadcast(s, x.Shape()); err != nil || !b.Equal(x.Shape()) {
		return nil, Errorf(n, "shape %v does not broadcast to X's shape %v", s, x.Shape())
	}
	xv := x.Float64s()
	res := make([]float64, s.Size())
	for i, j := range tensor.BroadcastIndex(s, x.Shape()) {
		res[j] += xv[i]
	}
	return []*tensor.Tensor{nnOut(x.DType(), s, res)}, nil
}

func gradSliceGradKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 4 || in[0] == nil || in[2] == nil || in[3] == nil {
		return nil, Errorf(n, "needs inputs dY, shape, starts and ends")
	}
	s, err := gradShapeInput(n, in[1])
	if err != nil {
		return nil, err
	}
	// shpSliceInputs reads starts, ends, axes, steps from positions 1..4.
	sl := append([]*tensor.Tensor{nil}, in[2:]...)
	starts, ends, axes, steps, err := shpSliceInputs(n, sl)
	if err != nil {
		return nil, err
	}
	start, count, step, err := shpSliceParams(n, s, starts, ends, axes, steps)
	if err != nil {
		return nil, err
	}
	dy := in[0]
	if !tensor.Shape(count).Equal(dy.Shape()) {
		return nil, Errorf(n, "dY has shape %v, want the slice's shape %v", dy.Shape(), count)
	}
	st := s.Strides()
	res := make([]float64, s.Size())
	dv := dy.Float64s()
	idx := make([]int, len(s))
	for i := range dv {
		off := 0
		for d := range idx {
			off += (start[d] + idx[d]*step[d]) * st[d]
		}
		res[off] += dv[i]
		nnNext(idx, count)
	}
	return []*tensor.Tensor{nnOut(dy.DType(), s, res)}, nil
}

func gradGatherGradKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs dY, indices and shape")
	}
	s, err := gradShapeInput(n, in[2])
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, Errorf(n, "data must have rank >= 1")
	}
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s))
	if err != nil {
		return nil, err
	}
	ind, err := shpInts(n, in[1], "indices")
	if err != nil {
		return nil, err
	}
	outer, d, inner := shpOuterInner(s, axis)
	want := append(append(append(tensor.Shape{}, s[:axis]...), in[1].Shape()...), s[axis+1:]...)
	dy := in[0]
	if !want.Equal(dy.Shape()) {
		return nil, Errorf(n, "dY has shape %v, want %v", dy.Shape(), want)
	}
	for i, v := range ind {
		if ind[i], err = shpIndex(n, v, d); err != nil {
			return nil, err
		}
	}
	dv := dy.Float64s()
	res := make([]float64, s.Size())
	p := 0
	for o := 0; o < outer; o++ {
		for _, v := range ind {
			b := (o*d + v) * inner
			for j := 0; j < inner; j++ {
				res[b+j] += dv[p]
				p++
			}
		}
	}
	return []*tensor.Tensor{nnOut(dy.DType(), s, res)}, nil
}

// PadGrad is the adjoint of Pad (kiln:PadGrad). Inputs: dY, the data shape
// S (1-D int64), Pad's pads and optional axes; attribute mode as in Pad.
// Output dX of shape S: every dY element is added onto the data element
// Pad copied it from (reflect, edge and wrap copy an element many times, so
// the copies add up); positions filled with the constant value, and data
// cropped away by negative pads, get nothing.
var PadGrad = &Def{Name: "PadGrad", Domain: "kiln", Infer: gradInferToShape(1), Kernel: gradPadGradKernel}

func init() { Register(PadGrad) }

func gradPadGradKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[2] == nil {
		return nil, Errorf(n, "needs inputs dY, shape and pads")
	}
	dy := in[0]
	if !dy.DType().IsFloat() {
		return nil, Errorf(n, "dY must be a float tensor, got %v", dy.DType())
	}
	s, err := gradShapeInput(n, in[1])
	if err != nil {
		return nil, err
	}
	pads, err := shpInts(n, in[2], "pads")
	if err != nil {
		return nil, err
	}
	var axes []int
	if len(in) > 3 && in[3] != nil {
		if axes, err = shpInts(n, in[3], "axes"); err != nil {
			return nil, err
		}
	}
	b, e, err := shpPadAll(n, len(s), pads, axes)
	if err != nil {
		return nil, err
	}
	mode := n.Attrs.String("mode", "constant")
	maps := make([][]int, len(s))
	for i, d := range s {
		if maps[i], err = shpPadMap(n, d, b[i], e[i], mode); err != nil {
			return nil, err
		}
	}
	if want := shpShapeOf(maps); !want.Equal(dy.Shape()) {
		return nil, Errorf(n, "dY has shape %v, want Pad's output shape %v", dy.Shape(), want)
	}
	dv := dy.Float64s()
	res := make([]float64, s.Size())
	for i, j := range shpProduct(maps, s.Strides()) {
		if j >= 0 {
			res[j] += dv[i]
		}
	}
	return []*tensor.Tensor{nnOut(dy.DType(), s, res)}, nil
}
