package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

var zero = []float64{0}

func TestGradElementwise(t *testing.T) {
	runCases(t, []opCase{
		{name: "Add", op: "Add", ins: []in{f(2, 3), f(2, 3)}},
		{name: "AddBroadcast", op: "Add", ins: []in{f(2, 1, 3), f(4, 1)}},
		{name: "SubBroadcast", op: "Sub", ins: []in{f(3), f(2, 3)}},
		{name: "MulBroadcast", op: "Mul", ins: []in{f(2, 3, 4), f(3, 1)}},
		{name: "MulSame", op: "Mul", ins: []in{f(5), f(5)}},
		{name: "DivBroadcast", op: "Div", ins: []in{f(2, 3), pos(3)}},
		{name: "Sum3", op: "Sum", ins: []in{f(2, 3), f(3), f(2, 1)}},
		{name: "Neg", op: "Neg", ins: []in{f(4)}},
		{name: "Pow", op: "Pow", ins: []in{pos(2, 3), f(3)}},
		{name: "PowConstExp", op: "Pow", ins: []in{pos(2, 3), {vals: []float64{2}, shape: []int{}, konst: true}}},
		{name: "Sqrt", op: "Sqrt", ins: []in{pos(6)}},
		{name: "Exp", op: "Exp", ins: []in{f(6)}},
		{name: "Log", op: "Log", ins: []in{pos(6)}},
		{name: "Abs", op: "Abs", ins: []in{k(zero, 6)}},
		{name: "Reciprocal", op: "Reciprocal", ins: []in{pos(6)}},
		{name: "Erf", op: "Erf", ins: []in{f(6)}},
		{name: "Sin", op: "Sin", ins: []in{f(6)}},
		{name: "Cos", op: "Cos", ins: []in{f(6)}},
		{name: "Identity", op: "Identity", ins: []in{f(2, 2)}},
		{name: "CastF32", op: "Cast", attrs: graph.Attrs{"to": int64(11)}, ins: []in{f(3)}},
		{name: "Where", op: "Where", ins: []in{{shape: []int{2, 3}, bool: true, vals: []float64{1, 0, 1, 0, 0, 1}}, f(2, 3), f(3)}},
		{name: "Max2", op: "Max", ins: []in{f(2, 3), f(3)}},
		{name: "Min3", op: "Min", ins: []in{f(4), f(4), f(1)}},
		{name: "Clip", op: "Clip", ins: []in{k([]float64{-0.5, 0.5}, 8), {vals: []float64{-0.5}, shape: []int{}, konst: true}, {vals: []float64{0.5}, shape: []int{}, konst: true}}},
		{name: "ClipBoundsGrad", op: "Clip", ins: []in{k([]float64{-0.5, 0.5}, 8), {vals: []float64{-0.5}, shape: []int{}}, {vals: []float64{0.5}, shape: []int{}}}},
		{name: "ClipLowOnly", op: "Clip", ins: []in{k([]float64{-0.5}, 8), {vals: []float64{-0.5}, shape: []int{}, konst: true}}},
	})
}

func TestGradActivation(t *testing.T) {
	runCases(t, []opCase{
		{name: "Relu", op: "Relu", ins: []in{k(zero, 3, 4)}},
		{name: "LeakyRelu", op: "LeakyRelu", attrs: graph.Attrs{"alpha": float32(0.3)}, ins: []in{k(zero, 12)}},
		{name: "PRelu", op: "PRelu", ins: []in{k(zero, 2, 3, 4), f(3, 1)}},
		{name: "ThresholdedRelu", op: "ThresholdedRelu", attrs: graph.Attrs{"alpha": float32(0.2)}, ins: []in{k([]float64{0.2}, 12)}},
		{name: "Elu", op: "Elu", attrs: graph.Attrs{"alpha": float32(0.7)}, ins: []in{k(zero, 12)}},
		{name: "Celu", op: "Celu", ins: []in{k(zero, 12)}},
		{name: "Selu", op: "Selu", ins: []in{k(zero, 12)}},
		{name: "Sigmoid", op: "Sigmoid", ins: []in{f(12)}},
		{name: "Tanh", op: "Tanh", ins: []in{f(12)}},
		{name: "Softplus", op: "Softplus", ins: []in{f(12)}},
		{name: "Softsign", op: "Softsign", ins: []in{k(zero, 12)}},
		{name: "HardSigmoid", op: "HardSigmoid", attrs: graph.Attrs{"alpha": float32(0.25)}, ins: []in{{shape: []int{20}, lo: -4, hi: 4, kinks: []float64{-2, 2}, away: 0.05}}},
		{name: "HardSwish", op: "HardSwish", ins: []in{{shape: []int{20}, lo: -5, hi: 5, kinks: []float64{-3, 3}, away: 0.05}}},
		{name: "Mish", op: "Mish", ins: []in{{shape: []int{12}, lo: -3, hi: 3}}},
		{name: "Gelu", op: "Gelu", ins: []in{{shape: []int{12}, lo: -3, hi: 3}}},
		{name: "GeluTanh", op: "Gelu", attrs: graph.Attrs{"approximate": "tanh"}, ins: []in{{shape: []int{12}, lo: -3, hi: 3}}},
	})
}
