package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// FusedConv (domain "kiln") is a convolution with a fused epilogue:
//
//	Y = act(Conv(X, W, B) + Z)
//
// X, W and the optional B [M] and all Conv attributes are those of ONNX Conv
// (see Conv). The optional fourth input Z (a residual, as in ResNet's
// "conv, add shortcut, relu") has the shape of the Conv output and is added
// before the activation. act and its attributes are described with the
// fused ops (ops/fused.go). The reference kernel runs Conv, Add and the
// activation op in turn.
var FusedConv = &Def{Name: "FusedConv", Domain: "kiln", Infer: fusedConvInfer, Kernel: fusedConvKernel}

func init() { Register(FusedConv) }

func fusedConvInfer(ic *InferContext) ([]graph.Type, error) {
	if err := fusedCheckActivation(ic); err != nil {
		return nil, err
	}
	return nnConvInfer(ic)
}

func fusedConvKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 {
		return nil, Errorf(n, "needs inputs X and W")
	}
	var b, z *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	if len(in) > 3 {
		z = in[3]
	}
	y, err := fusedRun(n, "Conv", []*tensor.Tensor{in[0], in[1], b})
	if err != nil {
		return nil, err
	}
	if z != nil {
		if !z.Shape().Equal(y.Shape()) {
			return nil, Errorf(n, "residual Z has shape %v, want the Conv output shape %v", z.Shape(), y.Shape())
		}
		if y, err = fusedAdd(n, y, z); err != nil {
			return nil, err
		}
	}
	y, err = fusedEpilogue(n, y)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y}, nil
}
