package layer

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// OpElementwise is a Keras 3 elementwise op layer from keras.src.ops.numpy
// (or keras.src.ops.nn for the activations): what Keras records for x + y,
// x * 0.5, ops.exp(x) or ops.relu(x) on symbolic tensors in a functional
// model. Binary ops (Add, Subtract, Multiply, Divide, TrueDivide, Maximum,
// Minimum, Power; Equal, NotEqual, Greater, GreaterEqual, Less, LessEqual,
// which give bool) take two positional operands, tensors or one scalar
// constant (CallInfo.Consts), and broadcast as NumPy does; a constant takes
// the tensor operand's dtype, as Keras's weak typing of Python scalars
// does. Divide and TrueDivide of integer tensors compute in float32 (Keras's
// floatx). Unary ops (Abs, Negative, Square, Sqrt, Exp, Log, Tanh, Sin, Cos,
// Floor, Ceil, Sign, Reciprocal; Relu, Sigmoid) map one-to-one. Two tensor
// operands of different dtypes (Keras would promote them) and non-scalar
// constants are refused with ErrUnsupported. Outputs carry no mask.
type OpElementwise struct {
	Base
	op     string // graph op
	binary bool
	cmp    bool // comparison: bool output
	square bool
	div    bool
}

func init() {
	reg := func(module, class string, f func() *OpElementwise) {
		Register(OpClass(module, class), func() Layer { return f() })
	}
	for class, op := range map[string]string{"Add": "Add", "Subtract": "Sub", "Multiply": "Mul",
		"Divide": "Div", "TrueDivide": "Div", "Maximum": "Max", "Minimum": "Min", "Power": "Pow"} {
		op, class := op, class
		reg("keras.src.ops.numpy", class, func() *OpElementwise {
			return &OpElementwise{op: op, binary: true, div: op == "Div"}
		})
	}
	for class, op := range map[string]string{"Equal": "Equal", "Greater": "Greater", "GreaterEqual": "GreaterOrEqual",
		"Less": "Less", "LessEqual": "LessOrEqual", "NotEqual": "NotEqual"} {
		op := op
		reg("keras.src.ops.numpy", class, func() *OpElementwise { return &OpElementwise{op: op, binary: true, cmp: true} })
	}
	for class, op := range map[string]string{"Abs": "Abs", "Absolute": "Abs", "Negative": "Neg", "Sqrt": "Sqrt",
		"Exp": "Exp", "Log": "Log", "Tanh": "Tanh", "Sin": "Sin", "Cos": "Cos", "Floor": "Floor",
		"Ceil": "Ceil", "Sign": "Sign", "Reciprocal": "Reciprocal", "Square": "Mul"} {
		op, class := op, class
		reg("keras.src.ops.numpy", class, func() *OpElementwise { return &OpElementwise{op: op, square: class == "Square"} })
	}
	reg("keras.src.ops.nn", "Relu", func() *OpElementwise { return &OpElementwise{op: "Relu"} })
	reg("keras.src.ops.nn", "Sigmoid", func() *OpElementwise { return &OpElementwise{op: "Sigmoid"} })
}

// operand is one argument of the call: a tensor index or a constant.
type operand struct {
	t     int // index in in, or -1
	konst float64
}

func (l *OpElementwise) operands(n int, call *CallInfo) ([]operand, error) {
	pos, err := opArgs(n, call)
	if err != nil {
		return nil, err
	}
	want := 1
	if l.binary {
		want = 2
	}
	if len(pos) != want {
		return nil, fmt.Errorf("takes %d positional arguments, the call passes %d", want, len(pos))
	}
	out := make([]operand, len(pos))
	tensors := 0
	for i, p := range pos {
		out[i].t = p
		if p >= 0 {
			tensors++
			continue
		}
		raw := bytes.TrimSpace(call.Consts[i])
		switch {
		case bytes.Equal(raw, []byte("true")):
			out[i].konst = 1
		case bytes.Equal(raw, []byte("false")):
		default:
			if err := json.Unmarshal(raw, &out[i].konst); err != nil {
				return nil, fmt.Errorf("argument %d is %s, not a scalar number or a tensor: %w", i, truncate(string(raw)), ErrUnsupported)
			}
		}
	}
	if tensors == 0 {
		return nil, fmt.Errorf("the call has no tensor operand")
	}
	return out, nil
}

// BuildCall returns the broadcast shape of the tensor operands.
func (l *OpElementwise) BuildCall(in []Shape, call *CallInfo) ([]Shape, error) {
	ops, err := l.operands(len(in), call)
	if err != nil {
		return nil, coreErr(l, err)
	}
	var shapes []Shape
	for _, o := range ops {
		if o.t >= 0 {
			shapes = append(shapes, in[o.t])
		}
	}
	out, err := coreBroadcast(shapes)
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	return []Shape{out}, nil
}

// Build is BuildCall with every input positional.
func (l *OpElementwise) Build(in []Shape) ([]Shape, error) { return l.BuildCall(in, nil) }

// Lower is LowerCall with every input positional.
func (l *OpElementwise) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return l.LowerCall(b, in, nil)
}

// LowerCall emits the op.
func (l *OpElementwise) LowerCall(b *Builder, in []Tensor, call *CallInfo) ([]Tensor, error) {
	ops, err := l.operands(len(in), call)
	if err != nil {
		return nil, coreErr(l, err)
	}
	dt := tensor.Undefined
	var shapes []Shape
	for _, o := range ops {
		if o.t < 0 {
			continue
		}
		x := in[o.t]
		xd := x.DType
		if xd == tensor.Undefined {
			xd = tensor.Float32
		}
		if dt != tensor.Undefined && xd != dt {
			return nil, coreUnsupported(l, "operands of dtypes %s and %s (Keras would promote them)", dt, xd)
		}
		dt = xd
		shapes = append(shapes, x.Shape)
	}
	shape, err := coreBroadcast(shapes)
	if err != nil {
		return nil, coreErr(l, err)
	}
	cast := l.div && !dt.IsFloat()
	names := make([]string, len(ops))
	for i, o := range ops {
		if o.t >= 0 {
			names[i] = in[o.t].Name
			if cast {
				names[i] = b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, names[i])
			}
			continue
		}
		cdt := dt
		if cast {
			cdt = tensor.Float32
		}
		names[i] = b.Const(tensor.FromFloat64s(cdt, tensor.Shape{}, []float64{o.konst}))
	}
	if cast {
		dt = tensor.Float32
	}
	var y string
	switch {
	case l.op == "NotEqual":
		y = b.Op("Not", nil, b.Op("Equal", nil, names...))
	case l.square:
		y = b.Op("Mul", nil, names[0], names[0])
	default:
		y = b.Op(l.op, nil, names...)
	}
	if l.cmp {
		dt = tensor.Bool
	}
	return []Tensor{{Name: y, Shape: shape, DType: dt}}, nil
}
