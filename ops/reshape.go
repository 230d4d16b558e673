package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Reshape returns data with a new shape and the same elements in row-major
// order (ONNX Reshape-21). Input 1 (int64) gives the shape: -1 (at most once)
// is inferred from the element count; 0 copies the input dimension at the
// same position unless allowzero=1, in which case 0 is a real zero-size
// dimension (and may not be combined with -1).
var Reshape = &Def{Name: "Reshape", Infer: shpNeed(2, shpInferReshape), Kernel: shpReshapeKernel}

// Flatten reshapes its input to 2-D (ONNX Flatten-21): the dims before axis
// (default 1, negative counts from the end, axis = rank allowed) multiply
// into the first output dim, the rest into the second.
var Flatten = &Def{Name: "Flatten", Infer: shpNeed(1, shpInferFlatten), Kernel: shpFlattenKernel}

// Squeeze removes size-1 dimensions (ONNX Squeeze-21): those listed in the
// optional int64 input axes, or every size-1 dimension when axes is absent.
// Listing a dimension whose size is not 1 is an error.
var Squeeze = &Def{Name: "Squeeze", Infer: shpNeed(1, shpInferSqueeze), Kernel: shpSqueezeKernel}

// Unsqueeze inserts size-1 dimensions at the positions given by the int64
// input axes, which index the output (ONNX Unsqueeze-21); order does not
// matter, repeats are errors.
var Unsqueeze = &Def{Name: "Unsqueeze", Infer: shpNeed(2, shpInferUnsqueeze), Kernel: shpUnsqueezeKernel}

// Shape returns the int64 1-D shape of its input (ONNX Shape-21), sliced to
// [start, end) (defaults whole; negative values count from the end; values
// are clamped to [0, rank]; an empty range yields an empty tensor).
var Shape = &Def{Name: "Shape", Infer: shpNeed(1, shpInferShape), Kernel: shpShapeKernel}

// Size returns the number of elements of its input as an int64 scalar (ONNX
// Size-21).
var Size = &Def{Name: "Size", Infer: func(ic *InferContext) ([]graph.Type, error) {
	return []graph.Type{graph.TensorType(tensor.Int64)}, nil
}, Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	return []*tensor.Tensor{tensor.Scalar(int64(in[0].Len()))}, nil
}}

func init() {
	Register(Reshape)
	Register(Flatten)
	Register(Squeeze)
	Register(Unsqueeze)
	Register(Shape)
	Register(Size)
}

// shpReshapeDims resolves a Reshape shape spec against input dims in (which
// may hold -1 for unknown at infer time; then the result may too).
func shpReshapeDims(n *graph.Node, in []int, spec []int, allowzero bool) ([]int, error) {
	out := make([]int, len(spec))
	infer := -1
	known := 1
	unknownIn := false
	total := 1
	for _, d := range in {
		if d < 0 {
			unknownIn = true
		} else {
			total *= d
		}
	}
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, Errorf(n, "shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case s == 0 && !allowzero:
			if i >= len(in) {
				return nil, Errorf(n, "shape %v copies dimension %d (0) but data has rank %d", spec, i, len(in))
			}
			out[i] = in[i]
		case s < 0:
			return nil, Errorf(n, "shape %v has invalid dimension %d", spec, s)
		default:
			out[i] = s
		}
		if out[i] < 0 {
			unknownIn = true
		} else {
			known *= out[i]
		}
	}
	if allowzero && infer >= 0 {
		for _, s := range spec {
			if s == 0 {
				return nil, Errorf(n, "shape %v combines 0 and -1 with allowzero=1", spec)
			}
		}
	}
	if infer >= 0 {
		switch {
		case unknownIn:
			out[infer] = -1
		case known == 0:
			if total != 0 {
				return nil, Errorf(n, "cannot infer -1 in shape %v for %d elements", spec, total)
			}
			out[infer] = 0
		case total%known != 0:
			return nil, Errorf(n, "cannot reshape %v (%d elements) to %v", in, total, spec)
		default:
			out[infer] = total / known
		}
	} else if !unknownIn && known != total {
		return nil, Errorf(n, "cannot reshape %v (%d elements) to %v", in, total, spec)
	}
	return out, nil
}

func shpInferReshape(ic *InferContext) ([]graph.Type, error) {
	dt := ic.In[0].DType
	if st := ic.Const(1); st != nil {
		spec, err := shpInts(ic.Node, st, "shape")
		if err != nil {
			return nil, err
		}
		if ic.In[0].Unranked {
			for _, s := range spec {
				if s == 0 || s == -1 {
					return []graph.Type{shpInferUnknown(dt, len(spec))}, nil
				}
			}
			return []graph.Type{graph.TensorType(dt, spec...)}, nil
		}
		out, err := shpReshapeDims(ic.Node, ic.In[0].Shape, spec, ic.Node.Attrs.Int("allowzero", 0) != 0)
		if err != nil {
			return nil, err
		}
		return []graph.Type{graph.TensorType(dt, out...)}, nil
	}
	if len(ic.In) > 1 && !ic.In[1].Unranked && len(ic.In[1].Shape) == 1 && ic.In[1].Shape[0] >= 0 {
		return []graph.Type{shpInferUnknown(dt, ic.In[1].Shape[0])}, nil
	}
	return []graph.Type{graph.UnrankedType(dt)}, nil
}

func shpReshapeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs data and shape inputs")
	}
	spec, err := shpInts(n, in[1], "shape")
	if err != nil {
		return nil, err
	}
	if in[1].Rank() != 1 {
		return nil, Errorf(n, "shape must be 1-D, got shape %v", in[1].Shape())
	}
	out, err := shpReshapeDims(n, in[0].Shape(), spec, n.Attrs.Int("allowzero", 0) != 0)
	if err != nil {
		return nil, err
	}
	r, err := shpReshaped(n, in[0], out)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{r}, nil
}

// shpReshaped returns a copy of t with shape s (same element count).
func shpReshaped(n *graph.Node, t *tensor.Tensor, s []int) (*tensor.Tensor, error) {
	r, err := t.Clone().Reshape(tensor.Shape(s))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return r, nil
}

func shpFlattenAxis(n *graph.Node, rank int) (int, error) {
	axis := int(n.Attrs.Int("axis", 1))
	if axis < -rank || axis > rank {
		return 0, Errorf(n, "axis %d out of range for rank %d (want [-r, r])", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

func shpInferFlatten(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{shpInferUnknown(t.DType, 2)}, nil
	}
	axis, err := shpFlattenAxis(ic.Node, len(t.Shape))
	if err != nil {
		return nil, err
	}
	a, b := 1, 1
	for i, d := range t.Shape {
		p := &a
		if i >= axis {
			p = &b
		}
		if d < 0 || *p < 0 {
			*p = -1
		} else {
			*p *= d
		}
	}
	return []graph.Type{graph.TensorType(t.DType, a, b)}, nil
}

func shpFlattenKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	s := in[0].Shape()
	axis, err := shpFlattenAxis(n, len(s))
	if err != nil {
		return nil, err
	}
	a, b := 1, 1
	for i, d := range s {
		if i < axis {
			a *= d
		} else {
			b *= d
		}
	}
	r, err := shpReshaped(n, in[0], []int{a, b})
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{r}, nil
}

func shpSqueezeDims(n *graph.Node, s []int, axes []int, have bool) ([]int, error) {
	drop := make([]bool, len(s))
	if have {
		ax, err := shpAxes(n, axes, len(s))
		if err != nil {
			return nil, err
		}
		for _, a := range ax {
			if s[a] != 1 && s[a] >= 0 {
				return nil, Errorf(n, "cannot squeeze axis %d of size %d", a, s[a])
			}
			drop[a] = true
		}
	} else {
		for i, d := range s {
			if d == 1 {
				drop[i] = true
			} else if d < 0 {
				return nil, nil // unknown
			}
		}
	}
	out := []int{}
	for i, d := range s {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return out, nil
}

func shpInferSqueeze(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{graph.UnrankedType(t.DType)}, nil
	}
	var axes []int
	have := ic.Has(1)
	if have {
		c := ic.Const(1)
		if c == nil {
			return []graph.Type{graph.UnrankedType(t.DType)}, nil
		}
		var err error
		if axes, err = shpInts(ic.Node, c, "axes"); err != nil {
			return nil, err
		}
	}
	out, err := shpSqueezeDims(ic.Node, t.Shape, axes, have)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return []graph.Type{graph.UnrankedType(t.DType)}, nil
	}
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}

func shpSqueezeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	var axes []int
	have := len(in) > 1 && in[1] != nil
	if have {
		var err error
		if axes, err = shpInts(n, in[1], "axes"); err != nil {
			return nil, err
		}
	}
	out, err := shpSqueezeDims(n, in[0].Shape(), axes, have)
	if err != nil {
		return nil, err
	}
	r, err := shpReshaped(n, in[0], out)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{r}, nil
}

func shpUnsqueezeDims(n *graph.Node, s []int, axes []int) ([]int, error) {
	rank := len(s) + len(axes)
	ax, err := shpAxes(n, axes, rank)
	if err != nil {
		return nil, err
	}
	ins := make([]bool, rank)
	for _, a := range ax {
		ins[a] = true
	}
	out := make([]int, rank)
	j := 0
	for i := range out {
		if ins[i] {
			out[i] = 1
		} else {
			out[i] = s[j]
			j++
		}
	}
	return out, nil
}

func shpInferUnsqueeze(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	c := ic.Const(1)
	if t.Unranked || c == nil {
		return []graph.Type{graph.UnrankedType(t.DType)}, nil
	}
	axes, err := shpInts(ic.Node, c, "axes")
	if err != nil {
		return nil, err
	}
	out, err := shpUnsqueezeDims(ic.Node, t.Shape, axes)
	if err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}

func shpUnsqueezeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs data and axes inputs")
	}
	axes, err := shpInts(n, in[1], "axes")
	if err != nil {
		return nil, err
	}
	out, err := shpUnsqueezeDims(n, in[0].Shape(), axes)
	if err != nil {
		return nil, err
	}
	r, err := shpReshaped(n, in[0], out)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{r}, nil
}

func shpShapeRange(a graph.Attrs, rank int) (int, int) {
	clamp := func(v int) int {
		if v < 0 {
			v += rank
		}
		return min(max(v, 0), rank)
	}
	start := clamp(int(a.Int("start", 0)))
	end := rank
	if a.Has("end") {
		end = clamp(int(a.Int("end", 0)))
	}
	if end < start {
		end = start
	}
	return start, end
}

func shpInferShape(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{graph.TensorType(tensor.Int64, -1)}, nil
	}
	s, e := shpShapeRange(ic.Node.Attrs, len(t.Shape))
	return []graph.Type{graph.TensorType(tensor.Int64, e-s)}, nil
}

func shpShapeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	sh := in[0].Shape()
	s, e := shpShapeRange(n.Attrs, len(sh))
	out := make([]int64, e-s)
	for i := range out {
		out[i] = int64(sh[s+i])
	}
	return []*tensor.Tensor{tensor.From(tensor.Shape{len(out)}, out)}, nil
}
