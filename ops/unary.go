package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ewFloatUnaryOps are the elementwise ops defined on float tensors only
// (float16, bfloat16, float32, float64; ONNX versions 13 or 22 of each). The
// output has the input's type and shape. Each is computed in float64 and
// rounded once to the element type; ONNX's reference computes in the
// element type, so kiln's results are at least as accurate.
var ewFloatUnaryOps = []struct {
	name string
	f    func(float64) float64
}{
	// Exp (ONNX Exp-13): y = e^x.
	{"Exp", math.Exp},
	// Log (ONNX Log-13): y = ln x; ln 0 = -inf, ln of a negative is NaN.
	{"Log", math.Log},
	// Sqrt (ONNX Sqrt-13): y = √x; NaN for negative x.
	{"Sqrt", math.Sqrt},
	// Reciprocal (ONNX Reciprocal-13): y = 1/x.
	{"Reciprocal", func(x float64) float64 { return 1 / x }},
	// Ceil (ONNX Ceil-13): smallest integer ≥ x.
	{"Ceil", math.Ceil},
	// Floor (ONNX Floor-13): largest integer ≤ x.
	{"Floor", math.Floor},
	// Round (ONNX Round-22): nearest integer, halves to even.
	{"Round", math.RoundToEven},
	// Sin, Cos, Tan, Asin, Acos, Atan (ONNX *-22): the trigonometric
	// functions and their inverses, in radians.
	{"Sin", math.Sin},
	{"Cos", math.Cos},
	{"Tan", math.Tan},
	{"Asin", math.Asin},
	{"Acos", math.Acos},
	{"Atan", math.Atan},
	// Sinh, Cosh, Asinh, Acosh, Atanh (ONNX *-22): the hyperbolic functions
	// and their inverses.
	{"Sinh", math.Sinh},
	{"Cosh", math.Cosh},
	{"Asinh", math.Asinh},
	{"Acosh", math.Acosh},
	{"Atanh", math.Atanh},
	// Erf (ONNX Erf-13): the error function.
	{"Erf", math.Erf},
}

// ewAbs is ONNX Abs-13: y = |x| for every numeric type. Integer overflow
// wraps (Abs of the most negative value is itself), as in C.
func ewAbs(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryNum(n, x, math.Abs,
		func(v int64) int64 {
			if v < 0 {
				return -v
			}
			return v
		},
		func(v uint64) uint64 { return v })
}

// ewNeg is ONNX Neg-13: y = -x for float and signed integer types.
func ewNeg(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryNum(n, x, func(v float64) float64 { return -v },
		func(v int64) int64 { return -v }, nil)
}

// ewSign is ONNX Sign-13: -1, 0 or 1 by the sign of x, for every numeric
// type; NaN stays NaN.
func ewSign(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryNum(n, x,
		func(v float64) float64 {
			switch {
			case v > 0:
				return 1
			case v < 0:
				return -1
			}
			return v // ±0 or NaN
		},
		func(v int64) int64 {
			switch {
			case v > 0:
				return 1
			case v < 0:
				return -1
			}
			return 0
		},
		func(v uint64) uint64 {
			if v > 0 {
				return 1
			}
			return 0
		})
}

// ewIsNaN is ONNX IsNaN-20: a bool tensor, true where x is NaN.
func ewIsNaN(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	if !x.DType().IsFloat() {
		return nil, Errorf(n, "input has element type %v, want a float type", x.DType())
	}
	return tensor.From(x.Shape().Clone(), ewMap(x.Float64s(), math.IsNaN)), nil
}

// ewIsInf is ONNX IsInf-20: a bool tensor, true where x is +inf (when
// attribute detect_positive, default 1, is nonzero) or -inf (when
// detect_negative, default 1, is nonzero).
func ewIsInf(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	if !x.DType().IsFloat() {
		return nil, Errorf(n, "input has element type %v, want a float type", x.DType())
	}
	pos := n.Attrs.Int("detect_positive", 1) != 0
	neg := n.Attrs.Int("detect_negative", 1) != 0
	return tensor.From(x.Shape().Clone(), ewMap(x.Float64s(), func(v float64) bool {
		return (pos && math.IsInf(v, 1)) || (neg && math.IsInf(v, -1))
	})), nil
}

// ewNot is ONNX Not-1: logical negation of a bool tensor.
func ewNot(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	if x.DType() != tensor.Bool {
		return nil, Errorf(n, "input has element type %v, want bool", x.DType())
	}
	return tensor.From(x.Shape().Clone(), ewMap(x.Bools(), func(b bool) bool { return !b })), nil
}

// ewBitwiseNot is ONNX BitwiseNot-18: bitwise complement of an integer
// tensor.
func ewBitwiseNot(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryNum(n, x, nil,
		func(v int64) int64 { return ^v },
		func(v uint64) uint64 { return ^v })
}

func init() {
	for _, op := range ewFloatUnaryOps {
		f := op.f
		ewRegisterUnary(op.name, ewInferFloat, func(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
			return ewUnaryFloat(n, x, f)
		})
	}
	ewRegisterUnary("Abs", InferSame(0), ewAbs)
	ewRegisterUnary("Neg", InferSame(0), ewNeg)
	ewRegisterUnary("Sign", InferSame(0), ewSign)
	ewRegisterUnary("IsNaN", ewInferAs(tensor.Bool), ewIsNaN)
	ewRegisterUnary("IsInf", ewInferAs(tensor.Bool), ewIsInf)
	ewRegisterUnary("Not", InferSame(0), ewNot)
	ewRegisterUnary("BitwiseNot", InferSame(0), ewBitwiseNot)
}
