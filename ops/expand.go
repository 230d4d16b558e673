package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Expand broadcasts its input against the int64 shape given by input 1
// (ONNX Expand-13). The output shape is the numpy broadcast of the two
// shapes, so a 1 in shape keeps the input dimension and shape may have a
// lower rank than the input.
var Expand = &Def{Name: "Expand", Infer: shpNeed(2, shpInferExpand), Kernel: shpExpandKernel}

// Tile repeats its input repeats[i] times along each axis i (ONNX Tile-13);
// repeats is an int64 vector with one non-negative entry per input
// dimension.
var Tile = &Def{Name: "Tile", Infer: shpNeed(1, shpInferTile), Kernel: shpTileKernel}

func init() {
	Register(Expand)
	Register(Tile)
}

func shpInferExpand(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	c := ic.Const(1)
	if c == nil {
		if s := ic.In[1]; !t.Unranked && !s.Unranked && len(s.Shape) == 1 && s.Shape[0] >= 0 {
			return []graph.Type{shpInferUnknown(t.DType, max(len(t.Shape), s.Shape[0]))}, nil
		}
		return []graph.Type{graph.UnrankedType(t.DType)}, nil
	}
	sh, err := shpInts(ic.Node, c, "shape")
	if err != nil {
		return nil, err
	}
	ot, err := BroadcastTypes(ic, t.DType, t, graph.TensorType(t.DType, sh...))
	if err != nil {
		return nil, err
	}
	return []graph.Type{ot}, nil
}

func shpExpandKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs input and shape inputs")
	}
	sh, err := shpInts(n, in[1], "shape")
	if err != nil {
		return nil, err
	}
	for _, d := range sh {
		if d < 0 {
			return nil, Errorf(n, "shape %v has a negative dimension", sh)
		}
	}
	out, err := tensor.Broadcast(in[0].Shape(), tensor.Shape(sh))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	if err := shpCheckShape(out); err != nil {
		return nil, Errorf(n, "%v", err)
	}
	r, err := shpTake(in[0], out, tensor.BroadcastIndex(in[0].Shape(), out), nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}

func shpInferTile(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{t}, nil
	}
	c := ic.Const(1)
	if c == nil {
		return []graph.Type{shpInferUnknown(t.DType, len(t.Shape))}, nil
	}
	reps, err := shpInts(ic.Node, c, "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != len(t.Shape) {
		return nil, ic.Errorf("repeats has %d entries for rank %d", len(reps), len(t.Shape))
	}
	out := make([]int, len(reps))
	for i, d := range t.Shape {
		if d < 0 {
			out[i] = -1
		} else {
			out[i] = d * reps[i]
		}
	}
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}

func shpTileKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs input and repeats inputs")
	}
	x := in[0]
	reps, err := shpInts(n, in[1], "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != x.Rank() {
		return nil, Errorf(n, "repeats has %d entries for rank %d", len(reps), x.Rank())
	}
	maps := make([][]int, x.Rank())
	total := 1
	for i, d := range x.Shape() {
		if reps[i] < 0 {
			return nil, Errorf(n, "repeats %v has a negative entry", reps)
		}
		total *= d * reps[i]
		if total > tensor.MaxElements {
			return nil, Errorf(n, "output is too large")
		}
		m := make([]int, d*reps[i])
		for c := range m {
			m[c] = c % d
		}
		maps[i] = m
	}
	out, err := shpTake(x, shpShapeOf(maps), shpProduct(maps, x.Shape().Strides()), nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}
