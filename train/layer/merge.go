package layer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Merge is the family of Keras merge layers, which combine two or more
// inputs elementwise: Add, Subtract (exactly two inputs: a - b), Multiply,
// Average, Maximum and Minimum. Input shapes broadcast as numpy does (Keras
// allows a None or 1 in one input against a size in another). The output
// mask is the AND of the input masks.
type Merge struct {
	Base
	op string // "Add", "Sub", "Mul", "Mean", "Max", "Min"
}

// Concatenate is keras.layers.Concatenate: joins inputs along axis (default
// -1), all other dimensions equal.
type Concatenate struct {
	Base
	Axis int `json:"axis"`
}

// Dot is keras.layers.Dot: a batched dot product of two inputs over one axis
// each (axes: an int for both or a pair; batch axis excluded), optionally
// after L2-normalizing both along those axes (normalize, giving the cosine
// similarity). The output is x's remaining axes then y's; when only the
// batch axis remains the output is [batch, 1], as Keras's batch_dot gives.
type Dot struct {
	Base
	Axes      coreAxes `json:"axes"`
	Normalize coreBool `json:"normalize"`
}

// KerasMerge is Keras 1's Merge layer (class "Merge" in a functional model):
// mode sum, mul, ave, max, concat (concat_axis), dot and cos (dot_axes).
// Custom (lambda) modes and Sequential-branch merges holding nested models
// are refused.
type KerasMerge struct {
	Base
	Mode       string          `json:"mode"`
	ConcatAxis int             `json:"concat_axis"`
	DotAxes    coreAxes        `json:"dot_axes"`
	Layers     json.RawMessage `json:"layers"`
	inner      Layer
}

func init() {
	for class, op := range map[string]string{"Add": "Add", "Subtract": "Sub", "Multiply": "Mul",
		"Average": "Mean", "Maximum": "Max", "Minimum": "Min"} {
		op := op
		Register(class, func() Layer { return &Merge{op: op} })
	}
	Register("Concatenate", func() Layer { return &Concatenate{} })
	Register("Dot", func() Layer { return &Dot{} })
	Register("Merge", func() Layer { return &KerasMerge{} })
}

// coreBroadcast returns the broadcast of Keras shapes (-1 unknown).
func coreBroadcast(in []Shape) (Shape, error) {
	r := 0
	for _, s := range in {
		if len(s) > r {
			r = len(s)
		}
	}
	out := make(Shape, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range in {
		off := r - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == 1:
			case o == 1:
				out[off+i] = d
			case d < 0:
				// keep o (known or unknown)
			case o < 0:
				out[off+i] = d
			case o != d:
				return nil, fmt.Errorf("input shapes %v do not broadcast", in)
			}
		}
	}
	// The batch axis stays unknown if any input's is.
	for _, s := range in {
		if len(s) == r && s[0] < 0 {
			out[0] = -1
		}
	}
	return out, nil
}

// Build checks the inputs broadcast.
func (l *Merge) Build(in []Shape) ([]Shape, error) {
	if len(in) < 2 || (l.op == "Sub" && len(in) != 2) {
		return nil, coreErr(l, fmt.Errorf("got %d inputs", len(in)))
	}
	out, err := coreBroadcast(in)
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower folds the inputs with the op (Average: Sum then divide by n).
func (l *Merge) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	shapes := make([]Shape, len(in))
	for i, t := range in {
		shapes[i] = t.Shape
	}
	out, err := l.Build(shapes)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(in))
	for i, t := range in {
		names[i] = t.Name
	}
	return []Tensor{{Name: coreFold(b, l.op, names), Shape: out[0], DType: in[0].DType, Mask: coreMaskAnd(b, in)}}, nil
}

// coreFold combines values with a binary or variadic op.
func coreFold(b *Builder, op string, names []string) string {
	switch op {
	case "Mean":
		s := b.Op("Sum", nil, names...)
		return b.Op("Div", nil, s, b.Scalar(float32(len(names))))
	case "Max", "Min":
		return b.Op(op, nil, names...)
	}
	y := names[0]
	for _, n := range names[1:] {
		y = b.Op(op, nil, y, n)
	}
	return y
}

// DecodeConfig defaults axis to -1.
func (l *Concatenate) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Concatenate
	l.Axis = -1
	return coreDecode(raw, (*plain)(l))
}

func coreConcatShape(in []Shape, axis int) (Shape, int, error) {
	if len(in) < 1 {
		return nil, 0, fmt.Errorf("no inputs")
	}
	r := len(in[0])
	a := axis
	if a < 0 {
		a += r
	}
	if a < 1 || a >= r {
		return nil, 0, fmt.Errorf("axis %d is out of range for inputs of rank %d (or is the batch axis)", axis, r)
	}
	out := in[0].Clone()
	for _, s := range in[1:] {
		if len(s) != r {
			return nil, 0, fmt.Errorf("input shapes %v differ in rank", in)
		}
		for i, d := range s {
			switch {
			case i == a:
				if out[a] < 0 || d < 0 {
					out[a] = -1
				} else {
					out[a] += d
				}
			case out[i] < 0:
				out[i] = d
			case d >= 0 && d != out[i]:
				return nil, 0, fmt.Errorf("input shapes %v differ outside axis %d", in, axis)
			}
		}
	}
	if in[0][0] < 0 {
		out[0] = -1
	}
	return out, a, nil
}

// Build checks the shapes agree off the axis.
func (l *Concatenate) Build(in []Shape) ([]Shape, error) {
	out, _, err := coreConcatShape(in, l.Axis)
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower emits Concat. Masks, when any input has one and the axis is not the
// time axis, are combined with AND; along the time axis they are joined,
// with all-true masks for inputs that have none.
func (l *Concatenate) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreConcatLower(b, l, in, l.Axis)
}

func coreConcatLower(b *Builder, l Layer, in []Tensor, axis int) ([]Tensor, error) {
	shapes := make([]Shape, len(in))
	names := make([]string, len(in))
	for i, t := range in {
		shapes[i] = t.Shape
		names[i] = t.Name
	}
	out, a, err := coreConcatShape(shapes, axis)
	if err != nil {
		return nil, coreErr(l, err)
	}
	y := b.Op("Concat", coreAttrsAxis(a), names...)
	mask := ""
	if coreMaskAnd(b, in) != "" {
		if a != 1 {
			mask = coreMaskAnd(b, in)
		} else {
			ms := make([]string, len(in))
			for i, t := range in {
				if t.Mask != "" {
					ms[i] = t.Mask
					continue
				}
				// An all-true [batch, time] mask shaped like this input.
				bt := b.Op("Slice", nil, b.Op("Shape", nil, t.Name), b.Ints(0), b.Ints(2))
				ms[i] = b.Op("ConstantOfShape", graph.Attrs{"value": tensor.From(tensor.Shape{1}, []bool{true})}, bt)
			}
			mask = b.Op("Concat", coreAttrsAxis(1), ms...)
		}
	}
	return []Tensor{{Name: y, Shape: out, DType: in[0].DType, Mask: mask}}, nil
}

// DecodeConfig checks axes.
func (l *Dot) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Dot
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if len(l.Axes) != 1 && len(l.Axes) != 2 {
		return fmt.Errorf("axes %v: want an int or a pair", []int(l.Axes))
	}
	return nil
}

// coreDotAxes resolves Dot's axes for inputs of ranks r1, r2.
func coreDotAxes(axes []int, x, y Shape) (int, int, error) {
	a1, a2 := axes[0], axes[0]
	if len(axes) == 2 {
		a2 = axes[1]
	}
	if a1 < 0 {
		a1 += len(x)
	}
	if a2 < 0 {
		a2 += len(y)
	}
	if a1 < 1 || a1 >= len(x) || a2 < 1 || a2 >= len(y) {
		return 0, 0, fmt.Errorf("axes %v out of range for inputs %v and %v", axes, x, y)
	}
	if x[a1] >= 0 && y[a2] >= 0 && x[a1] != y[a2] {
		return 0, 0, fmt.Errorf("dimension %d of %v and %d of %v differ", a1, x, a2, y)
	}
	return a1, a2, nil
}

func coreDotShape(x, y Shape, a1, a2 int) Shape {
	out := Shape{x[0]}
	for i, d := range x {
		if i != 0 && i != a1 {
			out = append(out, d)
		}
	}
	for i, d := range y {
		if i != 0 && i != a2 {
			out = append(out, d)
		}
	}
	if len(out) == 1 {
		out = append(out, 1)
	}
	return out
}

// Build checks the contracted dimensions agree.
func (l *Dot) Build(in []Shape) ([]Shape, error) {
	if len(in) != 2 {
		return nil, coreErr(l, fmt.Errorf("takes two inputs, got %d", len(in)))
	}
	a1, a2, err := coreDotAxes(l.Axes, in[0], in[1])
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	return []Shape{coreDotShape(in[0], in[1], a1, a2)}, nil
}

// Lower emits Einsum (after L2 normalization when normalize is set).
func (l *Dot) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	if len(in) != 2 {
		return nil, coreErr(l, fmt.Errorf("takes two inputs, got %d", len(in)))
	}
	return coreDotLower(b, l, in[0], in[1], l.Axes, bool(l.Normalize))
}

func coreDotLower(b *Builder, l Layer, x, y Tensor, axes []int, normalize bool) ([]Tensor, error) {
	a1, a2, err := coreDotAxes(axes, x.Shape, y.Shape)
	if err != nil {
		return nil, coreErr(l, err)
	}
	xv, yv := x.Name, y.Name
	if normalize {
		xv = coreL2Normalize(b, xv, []int64{int64(a1)})
		yv = coreL2Normalize(b, yv, []int64{int64(a2)})
	}
	// Labels: a = batch, z = contracted, others from b.. for x then y.
	next := byte('b')
	var xs, ys, os strings.Builder
	xs.WriteByte('a')
	ys.WriteByte('a')
	os.WriteByte('a')
	for i := 1; i < len(x.Shape); i++ {
		if i == a1 {
			xs.WriteByte('z')
			continue
		}
		xs.WriteByte(next)
		os.WriteByte(next)
		next++
	}
	for i := 1; i < len(y.Shape); i++ {
		if i == a2 {
			ys.WriteByte('z')
			continue
		}
		ys.WriteByte(next)
		os.WriteByte(next)
		next++
	}
	eq := xs.String() + "," + ys.String() + "->" + os.String()
	v := b.Op("Einsum", graph.Attrs{"equation": eq}, xv, yv)
	out := coreDotShape(x.Shape, y.Shape, a1, a2)
	if os.Len() == 1 {
		v = b.Op("Unsqueeze", nil, v, b.Ints(1))
	}
	return []Tensor{{Name: v, Shape: out, DType: x.DType}}, nil
}

// coreL2Normalize is x / sqrt(max(sum(x^2, axes), 1e-12)), Keras's
// l2_normalize.
func coreL2Normalize(b *Builder, x string, axes []int64) string {
	ss := b.Op("ReduceSumSquare", graph.Attrs{"keepdims": int64(1)}, x, b.Ints(axes...))
	return b.Op("Div", nil, x, b.Op("Sqrt", nil, b.Op("Max", nil, ss, b.Scalar(1e-12))))
}

// DecodeConfig reads mode and the axes, refusing what cannot run.
func (l *KerasMerge) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain KerasMerge
	l.Mode = "sum"
	l.ConcatAxis = -1
	l.DotAxes = coreAxes{-1}
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if s := strings.TrimSpace(string(l.Layers)); s != "" && s != "null" && s != "[]" {
		return fmt.Errorf("a Merge of nested Sequential branches (layers) is not supported; rebuild the model with the functional API and merge layers: %w", ErrUnsupported)
	}
	switch l.Mode {
	case "sum":
		l.inner = &Merge{op: "Add"}
	case "mul":
		l.inner = &Merge{op: "Mul"}
	case "ave":
		l.inner = &Merge{op: "Mean"}
	case "max":
		l.inner = &Merge{op: "Max"}
	case "concat":
		l.inner = &Concatenate{Axis: l.ConcatAxis}
	case "dot", "cos":
	default:
		return fmt.Errorf("mode %q (a Python function?) is not a built-in Merge mode: %w", l.Mode, ErrUnsupported)
	}
	if l.inner != nil {
		*BaseOf(l.inner) = Base{LayerName: l.LayerName, ClassName: "Merge"}
	}
	return nil
}

// Build checks the inputs for the mode.
func (l *KerasMerge) Build(in []Shape) ([]Shape, error) {
	l.Built = true
	if l.inner != nil {
		return l.inner.Build(in)
	}
	if len(in) != 2 {
		return nil, coreErr(l, fmt.Errorf("mode %s takes two inputs, got %d", l.Mode, len(in)))
	}
	a1, a2, err := coreDotAxes(l.DotAxes, in[0], in[1])
	if err != nil {
		return nil, coreErr(l, err)
	}
	return []Shape{coreDotShape(in[0], in[1], a1, a2)}, nil
}

// Lower delegates to the equivalent Keras 2 layer. cos follows Keras 1:
// dot(x, y) / max(sqrt(|x|^2 * |y|^2), 1e-7), for rank-2 inputs.
func (l *KerasMerge) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	if l.inner != nil {
		return l.inner.Lower(b, in)
	}
	if len(in) != 2 {
		return nil, coreErr(l, fmt.Errorf("mode %s takes two inputs, got %d", l.Mode, len(in)))
	}
	outs, err := coreDotLower(b, l, in[0], in[1], l.DotAxes, false)
	if err != nil || l.Mode != "cos" {
		return outs, err
	}
	if len(in[0].Shape) != 2 || len(in[1].Shape) != 2 {
		return nil, coreUnsupported(l, "mode cos on inputs of rank %d and %d (kiln supports rank 2)", len(in[0].Shape), len(in[1].Shape))
	}
	kd := graph.Attrs{"keepdims": int64(1)}
	xx := b.Op("ReduceSumSquare", kd, in[0].Name, b.Ints(1))
	yy := b.Op("ReduceSumSquare", kd, in[1].Name, b.Ints(1))
	den := b.Op("Max", nil, b.Op("Sqrt", nil, b.Op("Mul", nil, xx, yy)), b.Scalar(1e-7))
	outs[0].Name = b.Op("Div", nil, outs[0].Name, den)
	return outs, nil
}
