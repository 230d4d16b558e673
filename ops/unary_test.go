package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestEwUnary(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	ewRunCases(t, []ewCase{
		// Examples from the ONNX operator docs, and hand-computed values.
		{name: "abs int8 wraps", op: "Abs", in: []*tensor.Tensor{ewVec[int8](-128, -1, 0, 5)}, want: ewVec[int8](-128, 1, 0, 5)},
		{name: "abs float", op: "Abs", in: []*tensor.Tensor{ewVec[float32](-1.5, 2)}, want: ewVec[float32](1.5, 2)},
		{name: "neg", op: "Neg", in: []*tensor.Tensor{ewVec[float32](-4, 2)}, want: ewVec[float32](4, -2)},
		{name: "neg int64", op: "Neg", in: []*tensor.Tensor{ewVec[int64](math.MinInt64, 3)}, want: ewVec[int64](math.MinInt64, -3)},
		{name: "exp", op: "Exp", in: []*tensor.Tensor{ewVec[float32](-1, 0, 1)}, want: ewVec[float32](0.36787945, 1, 2.7182817)},
		{name: "log", op: "Log", in: []*tensor.Tensor{ewVec[float64](1, 10, 0)}, want: ewVec(0, 2.302585092994046, math.Inf(-1))},
		{name: "sqrt", op: "Sqrt", in: []*tensor.Tensor{ewVec[float32](1, 4, 9)}, want: ewVec[float32](1, 2, 3)},
		{name: "reciprocal", op: "Reciprocal", in: []*tensor.Tensor{ewVec[float32](-4, 2)}, want: ewVec[float32](-0.25, 0.5)},
		{name: "ceil", op: "Ceil", in: []*tensor.Tensor{ewVec[float32](-1.5, 1.2)}, want: ewVec[float32](-1, 2)},
		{name: "floor", op: "Floor", in: []*tensor.Tensor{ewVec[float32](-1.5, 1.2, 2)}, want: ewVec[float32](-2, 1, 2)},
		{name: "round half to even", op: "Round",
			in:   []*tensor.Tensor{ewVec[float32](0.1, 0.5, 0.9, 1.2, 1.5, 1.8, 2.3, 2.5, 2.7, -1.1, -1.5, -1.9, -2.2, -2.5, -2.8)},
			want: ewVec[float32](0, 0, 1, 1, 2, 2, 2, 2, 3, -1, -2, -2, -2, -2, -3)},
		{name: "sign float", op: "Sign", in: []*tensor.Tensor{ewVec(-2, 0, 3, nan)}, want: ewVec(-1, 0, 1, nan)},
		{name: "sign int32", op: "Sign", in: []*tensor.Tensor{ewVec[int32](-7, 0, 9)}, want: ewVec[int32](-1, 0, 1)},
		{name: "sign uint8", op: "Sign", in: []*tensor.Tensor{ewVec[uint8](0, 200)}, want: ewVec[uint8](0, 1)},
		{name: "sin", op: "Sin", in: []*tensor.Tensor{ewVec[float32](0, math.Pi/2)}, want: ewVec[float32](0, 1)},
		{name: "cos", op: "Cos", in: []*tensor.Tensor{ewVec[float32](0, math.Pi)}, want: ewVec[float32](1, -1)},
		{name: "tan", op: "Tan", in: []*tensor.Tensor{ewVec[float32](math.Pi / 4)}, want: ewVec[float32](1)},
		{name: "asin", op: "Asin", in: []*tensor.Tensor{ewVec[float32](-0.5, 0, 0.5)}, want: ewVec[float32](-0.5235988, 0, 0.5235988)},
		{name: "acos", op: "Acos", in: []*tensor.Tensor{ewVec[float32](-0.5, 0, 0.5)}, want: ewVec[float32](2.0943952, 1.5707964, 1.0471976)},
		{name: "atan", op: "Atan", in: []*tensor.Tensor{ewVec[float32](-1, 0, 1)}, want: ewVec[float32](-0.7853982, 0, 0.7853982)},
		{name: "sinh", op: "Sinh", in: []*tensor.Tensor{ewVec[float32](-1, 0, 1)}, want: ewVec[float32](-1.1752012, 0, 1.1752012)},
		{name: "cosh", op: "Cosh", in: []*tensor.Tensor{ewVec[float32](-1, 0, 1)}, want: ewVec[float32](1.5430807, 1, 1.5430807)},
		{name: "asinh", op: "Asinh", in: []*tensor.Tensor{ewVec[float32](-1, 0, 1)}, want: ewVec[float32](-0.8813736, 0, 0.8813736)},
		{name: "acosh", op: "Acosh", in: []*tensor.Tensor{ewVec[float32](10, 11, 12)}, want: ewVec[float32](2.993223, 3.08897, 3.1763132)},
		{name: "atanh", op: "Atanh", in: []*tensor.Tensor{ewVec[float32](-0.5, 0, 0.5)}, want: ewVec[float32](-0.54930615, 0, 0.54930615)},
		{name: "erf", op: "Erf", in: []*tensor.Tensor{ewVec[float32](0, 1, -2)}, want: ewVec[float32](0, 0.8427008, -0.9953223)},
		{name: "exp float16", op: "Exp", in: []*tensor.Tensor{ewVec(tensor.ToHalf(1))}, want: ewVec(tensor.Half(0x4170))}, // e rounds to 2.71875
		{name: "isnan", op: "IsNaN", in: []*tensor.Tensor{ewVec(3, nan, inf)}, want: ewVec(false, true, false)},
		{name: "isinf", op: "IsInf", in: []*tensor.Tensor{ewVec(-1.2, nan, inf, 2.8, -inf, inf)}, want: ewVec(false, false, true, false, true, true)},
		{name: "isinf positive", op: "IsInf", attrs: graph.Attrs{"detect_negative": int64(0)},
			in: []*tensor.Tensor{ewVec(-1.7, nan, inf, 3.6, -inf, inf)}, want: ewVec(false, false, true, false, false, true)},
		{name: "isinf negative", op: "IsInf", attrs: graph.Attrs{"detect_positive": int64(0)},
			in: []*tensor.Tensor{ewVec(-1.7, nan, inf, 3.6, -inf, inf)}, want: ewVec(false, false, false, false, true, false)},
		{name: "not", op: "Not", in: []*tensor.Tensor{ewVec(true, false)}, want: ewVec(false, true)},
		{name: "bitwise not int8", op: "BitwiseNot", in: []*tensor.Tensor{ewVec[int8](0, -1, 5)}, want: ewVec[int8](-1, 0, -6)},
		{name: "bitwise not uint16", op: "BitwiseNot", in: []*tensor.Tensor{ewVec[uint16](0, 1)}, want: ewVec[uint16](65535, 65534)},
	})
}
