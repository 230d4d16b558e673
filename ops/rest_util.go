package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Shared helpers of the "rest" family (SwiGLU, TensorScatter,
// CausalConvWithState, LinearAttention, FlexAttention, TreeEnsemble,
// ImageDecoder, Gradient). Float kernels here compute in float64 and round
// back to the input's element type.

// rsIn returns input i or nil when it is absent.
func rsIn(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// rsCheckFloat reports an error unless t is a float32, float64, float16 or
// bfloat16 tensor.
func rsCheckFloat(n *graph.Node, t *tensor.Tensor, what string) error {
	switch t.DType() {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return nil
	}
	return Errorf(n, "%s must be float32, float64, float16 or bfloat16, got %v", what, t.DType())
}

// rsSigmoid is the logistic function.
func rsSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// rsShapeOf returns the known dims of a tensor type, or nil when unranked.
func rsShapeOf(t graph.Type) []int {
	if t.Unranked {
		return nil
	}
	return t.Shape
}
