package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ConstantOfShape returns a tensor of the int64 shape given by its input,
// every element equal to attribute value (a one-element tensor; default a
// float32 0) with value's dtype (ONNX ConstantOfShape-21).
var ConstantOfShape = &Def{Name: "ConstantOfShape", Infer: shpNeed(1, shpInferConstantOfShape), Kernel: shpConstantOfShapeKernel}

// Range returns start, start+delta, ... up to but excluding limit (ONNX
// Range-11): max(ceil((limit-start)/delta), 0) elements of the inputs'
// dtype. Integer types are computed exactly; float16 and bfloat16 in
// float32 and rounded per element.
var Range = &Def{Name: "Range", Infer: shpNeed(1, func(ic *InferContext) ([]graph.Type, error) {
	dt := ic.In[0].DType
	s, l, d := ic.Const(0), ic.Const(1), ic.Const(2)
	if s != nil && l != nil && d != nil && s.Len() == 1 && l.Len() == 1 && d.Len() == 1 {
		if n, err := shpRangeLen(ic.Node, s, l, d); err == nil {
			return []graph.Type{graph.TensorType(dt, n)}, nil
		}
	}
	return []graph.Type{graph.TensorType(dt, -1)}, nil
}), Kernel: shpRangeKernel}

// EyeLike returns a 2-D tensor of its input's shape with ones on the k-th
// diagonal (attribute k, default 0; positive is above the main diagonal) and
// zeros elsewhere (ONNX EyeLike-22); attribute dtype (default the input's)
// sets the output dtype.
var EyeLike = &Def{Name: "EyeLike", Infer: shpNeed(1, func(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	t.DType = tensor.DType(ic.Node.Attrs.Int("dtype", int64(t.DType)))
	return []graph.Type{t}, nil
}), Kernel: shpEyeLikeKernel}

// OneHot expands indices into one-hot vectors along a new axis (attribute
// axis, default -1, counting positions of the output) of size depth (ONNX
// OneHot-11). values = [off, on] gives the output dtype and contents.
// Negative indices have depth added; indices still outside [0, depth) give
// an all-off vector. Non-integer indices and depth are truncated.
var OneHot = &Def{Name: "OneHot", Infer: shpNeed(3, shpInferOneHot), Kernel: shpOneHotKernel}

func init() {
	Register(ConstantOfShape)
	Register(Range)
	Register(EyeLike)
	Register(OneHot)
}

func shpConstValue(n *graph.Node) (*tensor.Tensor, error) {
	v := n.Attrs.Tensor("value")
	if v == nil {
		return tensor.Scalar(float32(0)), nil
	}
	if v.Len() != 1 {
		return nil, Errorf(n, "value must have one element, got shape %v", v.Shape())
	}
	return v, nil
}

func shpInferConstantOfShape(ic *InferContext) ([]graph.Type, error) {
	v, err := shpConstValue(ic.Node)
	if err != nil {
		return nil, err
	}
	if c := ic.Const(0); c != nil {
		s, err := shpInts(ic.Node, c, "shape")
		if err != nil {
			return nil, err
		}
		return []graph.Type{graph.TensorType(v.DType(), s...)}, nil
	}
	if s := ic.In[0]; !s.Unranked && len(s.Shape) == 1 && s.Shape[0] >= 0 {
		return []graph.Type{shpInferUnknown(v.DType(), s.Shape[0])}, nil
	}
	return []graph.Type{graph.UnrankedType(v.DType())}, nil
}

func shpConstantOfShapeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs a shape input")
	}
	v, err := shpConstValue(n)
	if err != nil {
		return nil, err
	}
	s, err := shpInts(n, in[0], "shape")
	if err != nil {
		return nil, err
	}
	out, err := tensor.NewChecked(v.DType(), tensor.Shape(s))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	idx := make([]int, out.Len())
	out, err = shpTake(v, out.Shape(), idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}

func shpRangeLen(n *graph.Node, s, l, d *tensor.Tensor) (int, error) {
	if s.DType().IsInt() {
		a, b, c := s.Int64s()[0], l.Int64s()[0], d.Int64s()[0]
		if c == 0 {
			return 0, Errorf(n, "delta is 0")
		}
		num := b - a
		var cnt int64
		if c > 0 {
			cnt = (num + c - 1) / c
			if num <= 0 {
				cnt = 0
			}
		} else {
			cnt = (-num + (-c) - 1) / (-c)
			if num >= 0 {
				cnt = 0
			}
		}
		if cnt > tensor.MaxElements {
			return 0, Errorf(n, "range has %d elements", cnt)
		}
		return int(cnt), nil
	}
	a, b, c := s.At(0), l.At(0), d.At(0)
	if c == 0 {
		return 0, Errorf(n, "delta is 0")
	}
	cnt := math.Ceil((b - a) / c)
	if math.IsNaN(cnt) || cnt < 0 {
		cnt = 0
	}
	if cnt > tensor.MaxElements {
		return 0, Errorf(n, "range has %v elements", cnt)
	}
	return int(cnt), nil
}

func shpRangeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs start, limit and delta inputs")
	}
	s, l, d := in[0], in[1], in[2]
	if s.Len() != 1 || l.Len() != 1 || d.Len() != 1 {
		return nil, Errorf(n, "start, limit and delta must be scalars")
	}
	if !s.DType().IsNumeric() || s.DType() != l.DType() || s.DType() != d.DType() {
		return nil, Errorf(n, "start, limit and delta must share a numeric dtype, got %v, %v, %v", s.DType(), l.DType(), d.DType())
	}
	cnt, err := shpRangeLen(n, s, l, d)
	if err != nil {
		return nil, err
	}
	dt := s.DType()
	if dt.IsInt() {
		a, c := s.Int64s()[0], d.Int64s()[0]
		v := make([]int64, cnt)
		for i := range v {
			v[i] = a + int64(i)*c
		}
		fv := make([]float64, cnt)
		if dt == tensor.Int64 {
			return []*tensor.Tensor{tensor.From(tensor.Shape{cnt}, v)}, nil
		}
		for i, x := range v {
			fv[i] = float64(x)
		}
		return []*tensor.Tensor{tensor.FromFloat64s(dt, tensor.Shape{cnt}, fv)}, nil
	}
	a, c := s.At(0), d.At(0)
	fv := make([]float64, cnt)
	for i := range fv {
		if dt == tensor.Float64 {
			fv[i] = a + float64(i)*c
		} else {
			fv[i] = float64(float32(a) + float32(i)*float32(c))
		}
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, tensor.Shape{cnt}, fv)}, nil
}

func shpEyeLikeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil || in[0].Rank() != 2 {
		return nil, Errorf(n, "needs a 2-D input")
	}
	dt := tensor.DType(n.Attrs.Int("dtype", int64(in[0].DType())))
	if !dt.IsNumeric() && dt != tensor.Bool {
		return nil, Unsupported(n, "dtype %v", dt)
	}
	s := in[0].Shape()
	k := int(n.Attrs.Int("k", 0))
	v := make([]float64, s.Size())
	for i := 0; i < s[0]; i++ {
		if j := i + k; j >= 0 && j < s[1] {
			v[i*s[1]+j] = 1
		}
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, s, v)}, nil
}

func shpInferOneHot(ic *InferContext) ([]graph.Type, error) {
	t, vt := ic.In[0], ic.In[2]
	if t.Unranked {
		return []graph.Type{graph.UnrankedType(vt.DType)}, nil
	}
	r := len(t.Shape) + 1
	axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", -1)), r)
	if err != nil {
		return nil, err
	}
	depth := -1
	if c := ic.Const(1); c != nil && c.Len() == 1 && c.DType() != tensor.String {
		depth = int(c.At(0))
	}
	out := append(append(append([]int{}, t.Shape[:axis]...), depth), t.Shape[axis:]...)
	return []graph.Type{graph.TensorType(vt.DType, out...)}, nil
}

func shpOneHotKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs indices, depth and values inputs")
	}
	ind, dep, vals := in[0], in[1], in[2]
	if dep.Len() != 1 || !dep.DType().IsNumeric() {
		return nil, Errorf(n, "depth must be a numeric scalar")
	}
	if vals.Len() != 2 {
		return nil, Errorf(n, "values must have 2 elements [off, on], got shape %v", vals.Shape())
	}
	if !ind.DType().IsNumeric() {
		return nil, Errorf(n, "indices must be numeric, got %v", ind.DType())
	}
	depth := int(dep.At(0))
	if depth < 1 {
		return nil, Errorf(n, "depth must be positive, got %d", depth)
	}
	s := ind.Shape()
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", -1)), len(s)+1)
	if err != nil {
		return nil, err
	}
	out := append(append(append(tensor.Shape{}, s[:axis]...), depth), s[axis:]...)
	if out.Size() > tensor.MaxElements {
		return nil, Errorf(n, "output shape %v is too large", out)
	}
	outer := tensor.Shape(s[:axis]).Size()
	inner := tensor.Shape(s[axis:]).Size()
	iv := ind.Float64s()
	idx := make([]int, out.Size())
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			v := int(iv[o*inner+j])
			if v < 0 {
				v += depth
			}
			if v >= 0 && v < depth {
				idx[(o*depth+v)*inner+j] = 1
			}
		}
	}
	r, err := shpTake(vals, out, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}
