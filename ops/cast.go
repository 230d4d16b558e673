package ops

import (
	"math"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ewCast converts x to element type to, as ONNX Cast-25 specifies for the
// types kiln carries:
//   - float to float rounds to nearest even (float16 and bfloat16 directly
//     from the source value, never through an intermediate type);
//   - float to integer truncates toward zero; out-of-range values and NaN
//     give an unspecified value (ONNX leaves them undefined);
//   - integer to integer wraps as in C; integer to float rounds to nearest;
//   - numbers to bool give value != 0 (NaN is true); bool to numbers gives
//     0 or 1;
//   - numbers to string give the shortest decimal that reads back as the
//     same value ("NaN", "INF" and "-INF" for the special values); bool
//     gives "True" or "False";
//   - string to numbers parses decimal or scientific notation, and "INF",
//     "+INF", "-INF", "NaN" in any case; to integers, a string that is not an
//     integer literal is parsed as a float and truncated. A string that is
//     not a number is an error.
//
// The low-precision types follow lbCast.
func ewCast(n *graph.Node, x *tensor.Tensor, to tensor.DType) (*tensor.Tensor, error) {
	if !to.Supported() {
		return nil, Unsupported(n, "cast to element type %v", to)
	}
	from := x.DType()
	if from == to {
		return x, nil
	}
	if from.IsLowBit() || to.IsLowBit() {
		return lbCast(n, x, to)
	}
	shape := x.Shape()
	l := ewLoad(x)
	tk := ewKindOf(to)
	switch tk {
	case ewS:
		return tensor.From(shape.Clone(), ewToStrings(from, l)), nil
	case ewB:
		var b []bool
		switch l.kind {
		case ewF:
			b = ewMap(l.f, func(v float64) bool { return v != 0 })
		case ewI:
			b = ewMap(l.i, func(v int64) bool { return v != 0 })
		case ewU:
			b = ewMap(l.u, func(v uint64) bool { return v != 0 })
		case ewS:
			var err error
			b = make([]bool, len(l.s))
			for k, s := range l.s {
				if b[k], err = ewParseBool(s); err != nil {
					return nil, Errorf(n, "cannot cast string %q to bool", s)
				}
			}
		}
		return tensor.From(shape.Clone(), b), nil
	}
	// Numeric target: bring the source to the target's lane kind.
	if l.kind == ewB {
		l = ewLanes{kind: ewU, u: ewMap(l.b, func(b bool) uint64 {
			if b {
				return 1
			}
			return 0
		})}
	}
	if l.kind == ewS {
		out := ewLanes{kind: tk}
		var err error
		switch tk {
		case ewF:
			out.f = make([]float64, len(l.s))
			for k, s := range l.s {
				if out.f[k], err = ewParseFloat(s); err != nil {
					return nil, Errorf(n, "cannot cast string %q to %v", s, to)
				}
			}
		case ewI:
			out.i = make([]int64, len(l.s))
			for k, s := range l.s {
				if out.i[k], err = ewParseInt(s); err != nil {
					return nil, Errorf(n, "cannot cast string %q to %v", s, to)
				}
			}
		case ewU:
			out.u = make([]uint64, len(l.s))
			for k, s := range l.s {
				if out.u[k], err = ewParseUint(s); err != nil {
					return nil, Errorf(n, "cannot cast string %q to %v", s, to)
				}
			}
		}
		return ewStore(to, shape, out), nil
	}
	out := ewLanes{kind: tk}
	switch tk {
	case ewF:
		switch l.kind {
		case ewF:
			out.f = l.f
		case ewI:
			out.f = ewMap(l.i, func(v int64) float64 { return float64(v) })
		case ewU:
			out.f = ewMap(l.u, func(v uint64) float64 { return float64(v) })
		}
	case ewI:
		switch l.kind {
		case ewF:
			out.i = ewMap(l.f, ewF2I)
		case ewI:
			out.i = l.i
		case ewU:
			out.i = ewMap(l.u, func(v uint64) int64 { return int64(v) })
		}
	case ewU:
		switch l.kind {
		case ewF:
			out.u = ewMap(l.f, ewF2U)
		case ewI:
			out.u = ewMap(l.i, func(v int64) uint64 { return uint64(v) })
		case ewU:
			out.u = l.u
		}
	}
	return ewStore(to, shape, out), nil
}

// ewF2I truncates toward zero; NaN gives 0 and out-of-range values saturate
// (ONNX leaves both undefined).
func ewF2I(v float64) int64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v >= 1<<63:
		return math.MaxInt64
	case v < -(1 << 63):
		return math.MinInt64
	}
	return int64(v)
}

// ewF2U truncates toward zero; negative values wrap as they would through
// int64 (so -1.0 becomes the maximum value, as in numpy).
func ewF2U(v float64) uint64 {
	if v >= 1<<63 {
		if v >= 1<<64 {
			return math.MaxUint64
		}
		return uint64(v)
	}
	return uint64(ewF2I(v))
}

func ewToStrings(from tensor.DType, l ewLanes) []string {
	switch l.kind {
	case ewF:
		bits := 64
		if from != tensor.Float64 {
			bits = 32
		}
		return ewMap(l.f, func(v float64) string {
			switch {
			case math.IsNaN(v):
				return "NaN"
			case math.IsInf(v, 1):
				return "INF"
			case math.IsInf(v, -1):
				return "-INF"
			}
			return strconv.FormatFloat(v, 'g', -1, bits)
		})
	case ewI:
		return ewMap(l.i, func(v int64) string { return strconv.FormatInt(v, 10) })
	case ewU:
		return ewMap(l.u, func(v uint64) string { return strconv.FormatUint(v, 10) })
	case ewB:
		return ewMap(l.b, func(v bool) string {
			if v {
				return "True"
			}
			return "False"
		})
	}
	return append([]string(nil), l.s...)
}

func ewParseFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	switch strings.ToUpper(t) {
	case "INF", "+INF", "INFINITY", "+INFINITY":
		return math.Inf(1), nil
	case "-INF", "-INFINITY":
		return math.Inf(-1), nil
	case "NAN", "+NAN", "-NAN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return 0, err
	}
	return v, nil
}

func ewParseInt(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if v, err := strconv.ParseInt(t, 10, 64); err == nil {
		return v, nil
	}
	f, err := ewParseFloat(t)
	return ewF2I(f), err
}

func ewParseUint(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if v, err := strconv.ParseUint(t, 10, 64); err == nil {
		return v, nil
	}
	f, err := ewParseFloat(t)
	return ewF2U(f), err
}

func ewParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	f, err := ewParseFloat(s)
	return f != 0, err
}

// ewCastKernel is ONNX Cast-25: input converted to the element type given
// by attribute to (an ONNX TensorProto data type number), following
// ewCast's rules; attributes saturate and round_mode apply to the float8
// targets (see lbCast).
func ewCastKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, Errorf(n, "needs one input")
	}
	if !n.Attrs.Has("to") {
		return nil, Errorf(n, "attribute to is missing")
	}
	y, err := ewCast(n, in[0], tensor.DType(n.Attrs.Int("to", 0)))
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y}, nil
}

// ewCastLike is ONNX CastLike-25: input converted to the element type of
// the second input (whose values are ignored), following ewCast's rules
// (attributes saturate and round_mode as for Cast).
func ewCastLike(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs input and target_type")
	}
	y, err := ewCast(n, in[0], in[1].DType())
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y}, nil
}

// lbCast is ewCast when the source or the target is one of the
// low-precision types (ONNX Cast-25):
//   - to float8: round to nearest even; with attribute saturate (default 1)
//     values beyond the type's largest finite value and infinities become
//     that value with their sign, without it they become NaN (e4m3fn, the
//     fnuz types) or infinity (e5m2); fnuz types have no -0;
//   - to float8e8m0: the power of two chosen by attribute round_mode ("up"
//     the default, "down", "nearest"), as tensor.ToF8E8M0 describes;
//   - to float4e2m1: round to nearest even, always saturating to ±6;
//   - to int4, uint4, int2, uint2: floats truncate toward zero, then all
//     values wrap to the type's width (as C conversions and ONNX's reference
//     do);
//   - from these types: their exact values, converted as from float32 (the
//     float types) or int8 (the integer types).
//
// Strings are parsed as numbers and bools give 0 or 1 first.
func lbCast(n *graph.Node, x *tensor.Tensor, to tensor.DType) (*tensor.Tensor, error) {
	from, shape := x.DType(), x.Shape().Clone()
	// Widen a low-precision source to a type that holds it exactly.
	switch {
	case from.IsLowFloat():
		x = tensor.FromFloat64s(tensor.Float32, shape, x.Float64s())
	case from.IsLowInt():
		x = tensor.FromInt64sAs(tensor.Int8, shape, x.Int64s())
	}
	if !to.IsLowBit() {
		return ewCast(n, x, to)
	}
	saturate := true
	mode := tensor.E8M0Up
	if n != nil {
		saturate = n.Attrs.Int("saturate", 1) != 0
		switch m := n.Attrs.String("round_mode", "up"); m {
		case "up":
		case "down":
			mode = tensor.E8M0Down
		case "nearest":
			mode = tensor.E8M0Nearest
		default:
			return nil, Errorf(n, "round_mode %q: want up, down or nearest", m)
		}
	}
	src := x.DType()
	switch {
	case src == tensor.String:
		ss := x.Strings()
		if to.IsLowInt() {
			iv := make([]int64, len(ss))
			for k, s := range ss {
				var err error
				if iv[k], err = ewParseInt(s); err != nil {
					return nil, Errorf(n, "cannot cast string %q to %v", s, to)
				}
			}
			return tensor.FromInt64sAs(to, shape, iv), nil
		}
		fv := make([]float64, len(ss))
		for k, s := range ss {
			var err error
			if fv[k], err = ewParseFloat(s); err != nil {
				return nil, Errorf(n, "cannot cast string %q to %v", s, to)
			}
		}
		return tensor.ConvertFloat64s(to, shape, fv, saturate, mode), nil
	case to.IsLowInt() && (src.IsInt() || src == tensor.Bool):
		return tensor.FromInt64sAs(to, shape, x.Int64s()), nil
	case src.IsNumeric() || src == tensor.Bool:
		return tensor.ConvertFloat64s(to, shape, x.Float64s(), saturate, mode), nil
	}
	return nil, Unsupported(n, "cast from %v to %v", from, to)
}

func ewInferCast(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 1 {
		return nil, ic.Errorf("has %d inputs, want 1", len(ic.In))
	}
	to := tensor.DType(ic.Node.Attrs.Int("to", 0))
	if !to.Supported() {
		return nil, Unsupported(ic.Node, "cast to element type %v", to)
	}
	t := ic.In[0]
	t.DType = to
	return []graph.Type{t}, nil
}

func ewInferCastLike(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 2 {
		return nil, ic.Errorf("has %d inputs, want 2", len(ic.In))
	}
	t := ic.In[0]
	t.DType = ic.In[1].DType
	return []graph.Type{t}, nil
}

func init() {
	Register(&Def{Name: "Cast", Infer: ewInferCast, Kernel: ewCastKernel})
	Register(&Def{Name: "CastLike", Infer: ewInferCastLike, Kernel: ewCastLike})
}
