package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestEwBinary(t *testing.T) {
	nan := math.NaN()
	m23 := ewF32(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)
	ewRunCases(t, []ewCase{
		// Examples from the ONNX operator docs, and hand-computed values.
		{name: "add broadcast", op: "Add", in: []*tensor.Tensor{m23, ewVec[float32](10, 20, 30)}, want: ewF32(tensor.Shape{2, 3}, 11, 22, 33, 14, 25, 36)},
		{name: "add column", op: "Add", in: []*tensor.Tensor{ewF32(tensor.Shape{2, 1}, 1, 2), ewVec[float32](10, 20)}, want: ewF32(tensor.Shape{2, 2}, 11, 21, 12, 22)},
		{name: "add int8 wraps", op: "Add", in: []*tensor.Tensor{ewVec[int8](127, -128), ewVec[int8](1, -1)}, want: ewVec[int8](-128, 127)},
		{name: "add uint64 exact", op: "Add", in: []*tensor.Tensor{ewVec[uint64](1 << 63), ewVec[uint64](1)}, want: ewVec[uint64](1<<63 + 1)},
		{name: "sub uint8 wraps", op: "Sub", in: []*tensor.Tensor{ewVec[uint8](1), ewVec[uint8](2)}, want: ewVec[uint8](255)},
		{name: "mul float16", op: "Mul", in: []*tensor.Tensor{ewVec(tensor.ToHalf(1.5)), ewVec(tensor.ToHalf(3))}, want: ewVec(tensor.ToHalf(4.5))},
		{name: "div float", op: "Div", in: []*tensor.Tensor{ewVec[float32](3, 4), ewVec[float32](2, 0)}, want: ewVec[float32](1.5, float32(math.Inf(1)))},
		{name: "div int32 truncates", op: "Div", in: []*tensor.Tensor{ewVec[int32](-7, 7, 7, 5), ewVec[int32](2, -2, 2, 0)}, want: ewVec[int32](-3, -3, 3, 0)},
		{name: "mod", op: "Mod", in: []*tensor.Tensor{ewVec[int32](-4, 7, 5, 4, -7, 8), ewVec[int32](2, -3, 8, -2, 3, 5)}, want: ewVec[int32](0, -2, 5, 0, 2, 3)},
		{name: "mod fmod int", op: "Mod", attrs: graph.Attrs{"fmod": int64(1)}, in: []*tensor.Tensor{ewVec[int64](-4, 7, 5, 4, -7, 8), ewVec[int64](2, -3, 8, -2, 3, 5)}, want: ewVec[int64](0, 1, 5, 0, -1, 3)},
		{name: "mod fmod float", op: "Mod", attrs: graph.Attrs{"fmod": int64(1)},
			in:   []*tensor.Tensor{ewVec(-4.3, 7.2, 5.0, 4.3, -7.2, 8.0), ewVec(2.1, -3.4, 8.0, -2.1, 3.4, 5.0)},
			want: ewVec(-0.1, 0.4, 5.0, 0.1, -0.4, 3.0), tol: 1e-9},
		{name: "mod uint8", op: "Mod", in: []*tensor.Tensor{ewVec[uint8](250, 7), ewVec[uint8](7, 0)}, want: ewVec[uint8](5, 0)},
		{name: "pow", op: "Pow", in: []*tensor.Tensor{ewVec[float32](1, 2, 3), ewVec[float32](4, 5, 6)}, want: ewVec[float32](1, 32, 729)},
		{name: "pow scalar exponent", op: "Pow", in: []*tensor.Tensor{ewVec[float32](1, 2, 3), tensor.Scalar(float32(2))}, want: ewVec[float32](1, 4, 9)},
		{name: "pow int64", op: "Pow", in: []*tensor.Tensor{ewVec[int64](3, -2), ewVec[int64](39, 3)}, want: ewVec[int64](4052555153018976267, -8)},
		{name: "pow int32 float exponent", op: "Pow", in: []*tensor.Tensor{ewVec[int32](2, 3), ewVec[float32](2.5, 0.5)}, want: ewVec[int32](5, 1)},
		{name: "pow float int exponent", op: "Pow", in: []*tensor.Tensor{ewVec[float32](2, 4), ewVec[uint64](3, 0)}, want: ewVec[float32](8, 1)},
		{name: "max", op: "Max", in: []*tensor.Tensor{ewVec[float32](3, 2, 1), ewVec[float32](1, 4, 4), ewVec[float32](2, 5, 3)}, want: ewVec[float32](3, 5, 4)},
		{name: "max nan", op: "Max", in: []*tensor.Tensor{ewVec(1.0, nan), ewVec(nan, 2.0)}, want: ewVec(nan, nan)},
		{name: "max one input", op: "Max", in: []*tensor.Tensor{ewVec[uint32](3, 7)}, want: ewVec[uint32](3, 7)},
		{name: "min broadcast", op: "Min", in: []*tensor.Tensor{ewVec[int16](3, -2, 1), tensor.Scalar(int16(0))}, want: ewVec[int16](0, -2, 0)},
		{name: "sum", op: "Sum", in: []*tensor.Tensor{ewVec[float32](3, 0, 2), ewVec[float32](1, 3, 4), ewVec[float32](2, 6, 6)}, want: ewVec[float32](6, 9, 12)},
		{name: "mean", op: "Mean", in: []*tensor.Tensor{ewVec[float32](3, 0, 2), ewVec[float32](1, 3, 4), ewVec[float32](2, 6, 6)}, want: ewVec[float32](2, 3, 4)},
		{name: "equal", op: "Equal", in: []*tensor.Tensor{ewVec[int32](1, 2, 3), ewVec[int32](1, 0, 3)}, want: ewVec(true, false, true)},
		{name: "equal nan", op: "Equal", in: []*tensor.Tensor{ewVec(nan, 1.0), ewVec(nan, 1.0)}, want: ewVec(false, true)},
		{name: "equal string broadcast", op: "Equal", in: []*tensor.Tensor{ewVec("string1", "string2"), ewVec("string1")}, want: ewVec(true, false)},
		{name: "equal bool", op: "Equal", in: []*tensor.Tensor{ewVec(true, false), ewVec(true, true)}, want: ewVec(true, false)},
		{name: "less", op: "Less", in: []*tensor.Tensor{ewVec(1.0, 2.0, nan), tensor.Scalar(2.0)}, want: ewVec(true, false, false)},
		{name: "less uint64", op: "Less", in: []*tensor.Tensor{ewVec[uint64](1 << 63), ewVec[uint64](1)}, want: ewVec(false)},
		{name: "greater", op: "Greater", in: []*tensor.Tensor{ewVec[int8](-1, 5), ewVec[int8](0, 0)}, want: ewVec(false, true)},
		{name: "less or equal", op: "LessOrEqual", in: []*tensor.Tensor{ewVec[float32](1, 2, 3), ewVec[float32](2, 2, 2)}, want: ewVec(true, true, false)},
		{name: "greater or equal", op: "GreaterOrEqual", in: []*tensor.Tensor{ewVec[float32](1, 2, 3), ewVec[float32](2, 2, 2)}, want: ewVec(false, true, true)},
		{name: "and", op: "And", in: []*tensor.Tensor{ewVec(true, true, false, false), ewVec(true, false, true, false)}, want: ewVec(true, false, false, false)},
		{name: "or", op: "Or", in: []*tensor.Tensor{ewVec(true, true, false, false), ewVec(true, false, true, false)}, want: ewVec(true, true, true, false)},
		{name: "xor broadcast", op: "Xor", in: []*tensor.Tensor{ewVec(true, false), tensor.Scalar(true)}, want: ewVec(false, true)},
		{name: "bitwise and", op: "BitwiseAnd", in: []*tensor.Tensor{ewVec[int32](12, -1), ewVec[int32](10, 6)}, want: ewVec[int32](8, 6)},
		{name: "bitwise or", op: "BitwiseOr", in: []*tensor.Tensor{ewVec[uint8](12, 0), ewVec[uint8](10, 6)}, want: ewVec[uint8](14, 6)},
		{name: "bitwise xor", op: "BitwiseXor", in: []*tensor.Tensor{ewVec[int16](12, -1), ewVec[int16](10, 0)}, want: ewVec[int16](6, -1)},
		{name: "bitshift left", op: "BitShift", attrs: graph.Attrs{"direction": "LEFT"}, in: []*tensor.Tensor{ewVec[uint8](16, 4, 1, 255), ewVec[uint8](1, 2, 3, 9)}, want: ewVec[uint8](32, 16, 8, 0)},
		{name: "bitshift right", op: "BitShift", attrs: graph.Attrs{"direction": "RIGHT"}, in: []*tensor.Tensor{ewVec[uint64](16, 4, 1), ewVec[uint64](1, 2, 64)}, want: ewVec[uint64](8, 1, 0)},
		{name: "where", op: "Where",
			in:   []*tensor.Tensor{tensor.From(tensor.Shape{2, 2}, []bool{true, false, true, true}), ewF32(tensor.Shape{2, 2}, 1, 2, 3, 4), ewF32(tensor.Shape{2, 2}, 9, 8, 7, 6)},
			want: ewF32(tensor.Shape{2, 2}, 1, 8, 3, 4)},
		{name: "where broadcast strings", op: "Where",
			in:   []*tensor.Tensor{ewVec(true, false), tensor.Scalar("x"), ewVec("a", "b")},
			want: ewVec("x", "b")},
		{name: "clip", op: "Clip", in: []*tensor.Tensor{ewVec[float32](-2, 0, 2), tensor.Scalar(float32(-1)), tensor.Scalar(float32(1))}, want: ewVec[float32](-1, 0, 1)},
		{name: "clip min greater than max", op: "Clip", in: []*tensor.Tensor{ewVec[float32](-2, 0, 2), tensor.Scalar(float32(2)), tensor.Scalar(float32(1))}, want: ewVec[float32](1, 1, 1)},
		{name: "clip max only int8", op: "Clip", in: []*tensor.Tensor{ewVec[int8](-128, 0, 127), nil, tensor.Scalar(int8(0))}, want: ewVec[int8](-128, 0, 0)},
		{name: "clip no bounds", op: "Clip", in: []*tensor.Tensor{ewVec(-1e300, nan)}, want: ewVec(-1e300, nan)},
		{name: "clip double with float32 bound", op: "Clip", in: []*tensor.Tensor{ewVec(-2.0, 2.0), tensor.Scalar(float32(-0.5))}, want: ewVec(-0.5, 2.0)},
	})
}

func TestEwBroadcastAxis(t *testing.T) {
	a := tensor.New(tensor.Float32, 2, 3, 4, 5)
	b := ewF32(tensor.Shape{3, 4}, make([]float32, 12)...)
	for _, c := range []struct {
		axis int64
		want tensor.Shape
	}{{1, tensor.Shape{3, 4, 1}}, {-3, tensor.Shape{3, 4, 1}}, {2, tensor.Shape{3, 4}}} {
		out, err := ewRun(t, "BroadcastAxis", graph.Attrs{"axis": c.axis}, 1, a, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].(*tensor.Tensor).Shape(); !got.Equal(c.want) {
			t.Errorf("axis %d: shape %v, want %v", c.axis, got, c.want)
		}
	}
	if _, err := ewRun(t, "BroadcastAxis", graph.Attrs{"axis": int64(3)}, 1, a, b); err == nil {
		t.Error("axis 3 with B of rank 2 and A of rank 4: no error")
	}
}
