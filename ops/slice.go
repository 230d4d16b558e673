package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Slice takes a strided sub-tensor (ONNX Slice-13). Inputs: data, starts,
// ends, optional axes (default 0..len(starts)-1, negative counts from the
// end) and optional steps (default 1, never 0). For each sliced axis of size
// d, negative starts/ends get d added; then with step > 0 start and end are
// clamped to [0, d], with step < 0 start to [0, d-1] and end to [-1, d-1].
// The axis keeps max(0, ceil((end-start)/step)) elements.
var Slice = &Def{Name: "Slice", Infer: shpNeed(1, shpInferSlice), Kernel: shpSliceKernel}

func init() { Register(Slice) }

// shpSliceParams resolves the per-axis start, count and step of a Slice
// over shape s.
func shpSliceParams(n *graph.Node, s tensor.Shape, starts, ends, axes, steps []int) (start, count, step []int, err error) {
	rank := len(s)
	if len(ends) != len(starts) {
		return nil, nil, nil, Errorf(n, "starts has %d entries but ends has %d", len(starts), len(ends))
	}
	if axes == nil {
		axes = shpIdentity(len(starts))
	} else if len(axes) != len(starts) {
		return nil, nil, nil, Errorf(n, "axes has %d entries but starts has %d", len(axes), len(starts))
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, nil, nil, Errorf(n, "steps has %d entries but starts has %d", len(steps), len(starts))
	}
	ax, err := shpAxes(n, axes, rank)
	if err != nil {
		return nil, nil, nil, err
	}
	start = make([]int, rank)
	count = append([]int(nil), s...)
	step = make([]int, rank)
	for i := range step {
		step[i] = 1
	}
	for i, a := range ax {
		d := s[a]
		st := 1
		if steps != nil {
			st = steps[i]
		}
		if st == 0 {
			return nil, nil, nil, Errorf(n, "step for axis %d is 0", a)
		}
		b, e := starts[i], ends[i]
		if b < 0 {
			b += d
		}
		if e < 0 {
			e += d
		}
		if st > 0 {
			b = min(max(b, 0), d)
			e = min(max(e, 0), d)
		} else {
			b = min(max(b, 0), d-1)
			e = min(max(e, -1), d-1)
		}
		c := 0
		if st > 0 && e > b {
			c = (e-b-1)/st + 1
		} else if st < 0 && b > e {
			c = (b-e-1)/(-st) + 1
		}
		start[a], count[a], step[a] = b, c, st
	}
	return start, count, step, nil
}

func shpSliceInputs(n *graph.Node, in []*tensor.Tensor) (starts, ends, axes, steps []int, err error) {
	get := func(i int, what string) []int {
		if err != nil || i >= len(in) || in[i] == nil {
			return nil
		}
		var v []int
		v, err = shpInts(n, in[i], what)
		return v
	}
	starts = get(1, "starts")
	ends = get(2, "ends")
	axes = get(3, "axes")
	steps = get(4, "steps")
	return
}

func shpInferSlice(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{t}, nil
	}
	cs := make([]*tensor.Tensor, 5)
	for i := 1; i < 5; i++ {
		if ic.Has(i) {
			if cs[i] = ic.Const(i); cs[i] == nil {
				return []graph.Type{shpInferUnknown(t.DType, len(t.Shape))}, nil
			}
		}
	}
	for _, d := range t.Shape {
		if d < 0 {
			return []graph.Type{shpInferUnknown(t.DType, len(t.Shape))}, nil
		}
	}
	starts, ends, axes, steps, err := shpSliceInputs(ic.Node, cs)
	if err != nil {
		return nil, err
	}
	_, count, _, err := shpSliceParams(ic.Node, t.Shape, starts, ends, axes, steps)
	if err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(t.DType, count...)}, nil
}

func shpSliceKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs data, starts and ends inputs")
	}
	starts, ends, axes, steps, err := shpSliceInputs(n, in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	start, count, step, err := shpSliceParams(n, x.Shape(), starts, ends, axes, steps)
	if err != nil {
		return nil, err
	}
	st := x.Shape().Strides()
	base := 0
	ost := make([]int, len(st))
	for i := range st {
		base += start[i] * st[i]
		ost[i] = st[i] * step[i]
	}
	out, err := shpTake(x, tensor.Shape(count), shpMap(tensor.Shape(count), base, ost), nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}
