package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestEwActivation(t *testing.T) {
	x3 := ewVec[float32](-1, 0, 1)
	ewRunCases(t, []ewCase{
		// Examples from the ONNX operator docs, and hand-computed values.
		{name: "relu", op: "Relu", in: []*tensor.Tensor{x3}, want: ewVec[float32](0, 0, 1)},
		{name: "relu int32", op: "Relu", in: []*tensor.Tensor{ewVec[int32](-5, 7)}, want: ewVec[int32](0, 7)},
		{name: "leakyrelu", op: "LeakyRelu", attrs: graph.Attrs{"alpha": float32(0.1)}, in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.1, 0, 1)},
		{name: "leakyrelu default", op: "LeakyRelu", in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.01, 0, 1)},
		{name: "elu", op: "Elu", attrs: graph.Attrs{"alpha": float32(2)}, in: []*tensor.Tensor{x3}, want: ewVec[float32](-1.2642411, 0, 1)},
		{name: "selu", op: "Selu", attrs: graph.Attrs{"alpha": float32(2), "gamma": float32(3)}, in: []*tensor.Tensor{x3}, want: ewVec[float32](-3.7927232, 0, 3)},
		{name: "selu default", op: "Selu", in: []*tensor.Tensor{x3}, want: ewVec[float32](-1.1113307, 0, 1.050701)},
		{name: "celu", op: "Celu", attrs: graph.Attrs{"alpha": float32(2)}, in: []*tensor.Tensor{ewVec[float32](-1, 0, 3)}, want: ewVec[float32](-0.7869387, 0, 3)},
		{name: "gelu", op: "Gelu", in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.15865526, 0, 0.8413447)},
		{name: "gelu tanh", op: "Gelu", attrs: graph.Attrs{"approximate": "tanh"}, in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.158808, 0, 0.841192), tol: 1e-5},
		{name: "sigmoid", op: "Sigmoid", in: []*tensor.Tensor{ewVec[float64](-1, 0, 1, -800)}, want: ewVec(0.2689414213699951, 0.5, 0.7310585786300049, 0)},
		{name: "hardsigmoid", op: "HardSigmoid", attrs: graph.Attrs{"alpha": float32(0.5), "beta": float32(0.6)}, in: []*tensor.Tensor{x3}, want: ewVec[float32](0.1, 0.6, 1)},
		{name: "hardsigmoid default", op: "HardSigmoid", in: []*tensor.Tensor{ewVec[float32](-3, 0, 1)}, want: ewVec[float32](0, 0.5, 0.7)},
		{name: "hardswish", op: "HardSwish", in: []*tensor.Tensor{ewVec[float32](-4, -1, 0, 3, 5)}, want: ewVec[float32](0, -1.0/3, 0, 3, 5)},
		{name: "tanh", op: "Tanh", in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.7615942, 0, 0.7615942)},
		{name: "softplus", op: "Softplus", in: []*tensor.Tensor{ewVec[float64](-1, 0, 1, 1000)}, want: ewVec(0.31326168751822286, 0.6931471805599453, 1.3132616875182228, 1000)},
		{name: "softsign", op: "Softsign", in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.5, 0, 0.5)},
		{name: "mish", op: "Mish", in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.30340144, 0, 0.86509836)},
		{name: "swish", op: "Swish", in: []*tensor.Tensor{x3}, want: ewVec[float32](-0.26894143, 0, 0.7310586)},
		{name: "swish alpha", op: "Swish", attrs: graph.Attrs{"alpha": float32(2)}, in: []*tensor.Tensor{ewVec[float32](1)}, want: ewVec[float32](0.8807971)},
		{name: "thresholdedrelu", op: "ThresholdedRelu", attrs: graph.Attrs{"alpha": float32(2)},
			in: []*tensor.Tensor{ewVec[float32](-1.5, 0, 1.2, 2, 2.2)}, want: ewVec[float32](0, 0, 0, 0, 2.2)},
		{name: "shrink hard", op: "Shrink", attrs: graph.Attrs{"lambd": float32(1.5)},
			in: []*tensor.Tensor{ewVec[float32](-2, -1, 0, 1, 2)}, want: ewVec[float32](-2, 0, 0, 0, 2)},
		{name: "shrink soft", op: "Shrink", attrs: graph.Attrs{"lambd": float32(1.5), "bias": float32(1.5)},
			in: []*tensor.Tensor{ewVec[float32](-2, -1, 0, 1, 2)}, want: ewVec[float32](-0.5, 0, 0, 0, 0.5)},
		{name: "shrink int8", op: "Shrink", attrs: graph.Attrs{"lambd": float32(1), "bias": float32(1)},
			in: []*tensor.Tensor{ewVec[int8](-3, 1, 4)}, want: ewVec[int8](-2, 0, 3)},
		{name: "prelu broadcast", op: "PRelu",
			in:   []*tensor.Tensor{ewF32(tensor.Shape{2, 2}, -1, 2, -3, 4), ewVec[float32](0.5, 0.25)},
			want: ewF32(tensor.Shape{2, 2}, -0.5, 2, -1.5, 4)}, // slope broadcasts along the last axis
		{name: "relu bfloat16", op: "Relu", in: []*tensor.Tensor{ewVec(tensor.ToBHalf(-1), tensor.ToBHalf(2))}, want: ewVec(tensor.ToBHalf(0), tensor.ToBHalf(2))},
	})
}
