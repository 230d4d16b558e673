package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ReluGrad is the adjoint of Relu written in terms of its output
// (kiln:ReluGrad). Inputs: dY and Y = Relu(X), of one shape and float
// type. Output dX = dY where Y > 0, else 0 (Y > 0 exactly where X > 0).
// Reading Y rather than X leaves the forward convolution or matrix product
// free to fuse its Relu, since nothing else reads the value before it.
var ReluGrad = &Def{Name: "ReluGrad", Domain: "kiln", Infer: InferSame(0), Kernel: gradReluKernel}

func init() { Register(ReluGrad) }

func gradReluKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs dY and Y")
	}
	dy, y := in[0], in[1]
	if !dy.Shape().Equal(y.Shape()) || dy.DType() != y.DType() || !dy.DType().IsFloat() {
		return nil, Errorf(n, "dY %s%v and Y %s%v must be float tensors of one type and shape", dy.DType(), dy.Shape(), y.DType(), y.Shape())
	}
	g, v := dy.Float64s(), y.Float64s()
	for i := range g {
		if !(v[i] > 0) {
			g[i] = 0
		}
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dy.DType(), dy.Shape(), g)}, nil
}
