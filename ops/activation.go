package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Elementwise activation functions. Unless noted, each takes and returns a
// float tensor (float16, bfloat16, float32, float64) of one shape, computes
// in float64 and rounds once to the element type. Attributes and defaults
// follow the newest ONNX version of each op.

// ewSigmoidF is the logistic function 1/(1+e^-x), evaluated without
// overflow for large |x|.
func ewSigmoidF(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// ewSoftplusF is ln(1+e^x), evaluated without overflow for large x.
func ewSoftplusF(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// ewRelu is ONNX Relu-14: y = max(0, x), for float and signed integer types.
func ewRelu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryNum(n, x,
		func(v float64) float64 {
			if v < 0 {
				return 0
			}
			return v
		},
		func(v int64) int64 { return max(v, 0) }, nil)
}

// ewLeakyRelu is ONNX LeakyRelu-16: y = x for x ≥ 0, alpha·x otherwise
// (attribute alpha, default 0.01).
func ewLeakyRelu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 0.01))
	return ewUnaryFloat(n, x, func(v float64) float64 {
		if v < 0 {
			return alpha * v
		}
		return v
	})
}

// ewElu is ONNX Elu-22: y = x for x ≥ 0, alpha·(e^x - 1) otherwise
// (alpha default 1).
func ewElu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 1))
	return ewUnaryFloat(n, x, func(v float64) float64 {
		if v < 0 {
			return alpha * math.Expm1(v)
		}
		return v
	})
}

// ewSelu is ONNX Selu-22: y = gamma·x for x > 0, gamma·(alpha·e^x - alpha)
// otherwise (alpha default 1.67326319217681884765625, gamma default
// 1.05070102214813232421875, the float32 values of the paper's constants).
func ewSelu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 1.67326319217681884765625))
	gamma := float64(n.Attrs.Float("gamma", 1.05070102214813232421875))
	return ewUnaryFloat(n, x, func(v float64) float64 {
		if v > 0 {
			return gamma * v
		}
		return gamma * alpha * math.Expm1(v)
	})
}

// ewCelu is ONNX Celu-12: y = max(0, x) + min(0, alpha·(e^(x/alpha) - 1))
// (alpha default 1).
func ewCelu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 1))
	if alpha == 0 {
		return nil, Errorf(n, "attribute alpha must not be 0")
	}
	return ewUnaryFloat(n, x, func(v float64) float64 {
		return max(0, v) + min(0, alpha*math.Expm1(v/alpha))
	})
}

// ewGelu is ONNX Gelu-20: y = x·Φ(x) = 0.5·x·(1 + erf(x/√2)) when attribute
// approximate is "none" (the default), and 0.5·x·(1 + tanh(√(2/π)·(x +
// 0.044715·x³))) when it is "tanh".
func ewGelu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	switch a := n.Attrs.String("approximate", "none"); a {
	case "none":
		return ewUnaryFloat(n, x, func(v float64) float64 {
			return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		})
	case "tanh":
		k := math.Sqrt(2 / math.Pi)
		return ewUnaryFloat(n, x, func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(k*(v+0.044715*v*v*v)))
		})
	default:
		return nil, Errorf(n, "attribute approximate is %q, want \"none\" or \"tanh\"", a)
	}
}

// ewSigmoid is ONNX Sigmoid-13: y = 1/(1 + e^-x).
func ewSigmoid(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryFloat(n, x, ewSigmoidF)
}

// ewHardSigmoid is ONNX HardSigmoid-22: y = max(0, min(1, alpha·x + beta))
// (alpha default 0.2, beta default 0.5).
func ewHardSigmoid(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 0.2))
	beta := float64(n.Attrs.Float("beta", 0.5))
	return ewUnaryFloat(n, x, func(v float64) float64 {
		return max(0, min(1, alpha*v+beta))
	})
}

// ewHardSwish is ONNX HardSwish-22: y = x·max(0, min(1, x/6 + 0.5)).
func ewHardSwish(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryFloat(n, x, func(v float64) float64 {
		return v * max(0, min(1, v/6+0.5))
	})
}

// ewTanh is ONNX Tanh-13: the hyperbolic tangent.
func ewTanh(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryFloat(n, x, math.Tanh)
}

// ewSoftplus is ONNX Softplus-22: y = ln(e^x + 1).
func ewSoftplus(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryFloat(n, x, ewSoftplusF)
}

// ewSoftsign is ONNX Softsign-22: y = x/(1 + |x|).
func ewSoftsign(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryFloat(n, x, func(v float64) float64 { return v / (1 + math.Abs(v)) })
}

// ewMish is ONNX Mish-22: y = x·tanh(softplus(x)).
func ewMish(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	return ewUnaryFloat(n, x, func(v float64) float64 { return v * math.Tanh(ewSoftplusF(v)) })
}

// ewSwish is ONNX Swish-24: y = x·sigmoid(alpha·x) (alpha default 1).
func ewSwish(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 1))
	return ewUnaryFloat(n, x, func(v float64) float64 { return v * ewSigmoidF(alpha*v) })
}

// ewThresholdedRelu is ONNX ThresholdedRelu-22: y = x for x > alpha, 0
// otherwise (alpha default 1).
func ewThresholdedRelu(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 1))
	return ewUnaryFloat(n, x, func(v float64) float64 {
		if v > alpha {
			return v
		}
		return 0
	})
}

// ewShrink is ONNX Shrink-9: y = x + bias for x < -lambd, x - bias for
// x > lambd, 0 otherwise (lambd default 0.5, bias default 0), for every
// numeric type. Integers are computed in float64 and truncated back, as
// ONNX's reference does.
func ewShrink(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	lambd := float64(n.Attrs.Float("lambd", 0.5))
	bias := float64(n.Attrs.Float("bias", 0))
	f := func(v float64) float64 {
		switch {
		case v < -lambd:
			return v + bias
		case v > lambd:
			return v - bias
		}
		return 0
	}
	return ewUnaryNum(n, x, f,
		func(v int64) int64 { return int64(f(float64(v))) },
		func(v uint64) uint64 { return uint64(int64(f(float64(v)))) })
}

// ewPRelu is ONNX PRelu-16: y = x for x ≥ 0, slope·x otherwise, where slope
// is broadcast to x's shape (unidirectional numpy broadcasting). Float and
// integer types.
func ewPRelu(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs X and slope")
	}
	shape, vals, err := ewArith(n, in[0], in[1],
		func(a, s float64) float64 {
			if a < 0 {
				return s * a
			}
			return a
		},
		func(a, s int64) int64 {
			if a < 0 {
				return s * a
			}
			return a
		},
		func(a, _ uint64) uint64 { return a })
	if err != nil {
		return nil, err
	}
	if !shape.Equal(in[0].Shape()) {
		return nil, Errorf(n, "slope of shape %v does not broadcast to X's shape %v", in[1].Shape(), in[0].Shape())
	}
	return []*tensor.Tensor{ewStore(in[0].DType(), shape, vals)}, nil
}

func init() {
	ewRegisterUnary("Relu", InferSame(0), ewRelu)
	ewRegisterUnary("LeakyRelu", ewInferFloat, ewLeakyRelu)
	ewRegisterUnary("Elu", ewInferFloat, ewElu)
	ewRegisterUnary("Selu", ewInferFloat, ewSelu)
	ewRegisterUnary("Celu", ewInferFloat, ewCelu)
	ewRegisterUnary("Gelu", ewInferFloat, ewGelu)
	ewRegisterUnary("Sigmoid", ewInferFloat, ewSigmoid)
	ewRegisterUnary("HardSigmoid", ewInferFloat, ewHardSigmoid)
	ewRegisterUnary("HardSwish", ewInferFloat, ewHardSwish)
	ewRegisterUnary("Tanh", ewInferFloat, ewTanh)
	ewRegisterUnary("Softplus", ewInferFloat, ewSoftplus)
	ewRegisterUnary("Softsign", ewInferFloat, ewSoftsign)
	ewRegisterUnary("Mish", ewInferFloat, ewMish)
	ewRegisterUnary("Swish", ewInferFloat, ewSwish)
	ewRegisterUnary("ThresholdedRelu", ewInferFloat, ewThresholdedRelu)
	ewRegisterUnary("Shrink", InferSame(0), ewShrink)
	Register(&Def{Name: "PRelu", Infer: InferSame(0), Kernel: ewPRelu})
}
