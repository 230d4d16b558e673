package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// FusedMatMul (domain "kiln") is ONNX MatMul with a bias and an activation:
//
//	Y = act(MatMul(A, B) + bias)
//
// A and B follow numpy.matmul as in MatMul; the optional bias is added with
// ONNX broadcasting and must not change the MatMul output's shape (the
// passes only fuse a bias of shape [N] or [1, ..., 1, N]). act and its
// attributes are described with the fused ops (ops/fused.go); with an
// activation the element type must be a float type. The reference kernel
// runs MatMul, Add and the activation op in turn.
var FusedMatMul = &Def{Name: "FusedMatMul", Domain: "kiln", Infer: fusedMatMulInfer, Kernel: fusedMatMulKernel}

func init() { Register(FusedMatMul) }

func fusedMatMulInfer(ic *InferContext) ([]graph.Type, error) {
	if err := fusedCheckActivation(ic); err != nil {
		return nil, err
	}
	return nnMatMulInfer(ic)
}

func fusedMatMulKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 {
		return nil, Errorf(n, "needs inputs A and B")
	}
	y, err := fusedRun(n, "MatMul", in[:2])
	if err != nil {
		return nil, err
	}
	if len(in) > 2 && in[2] != nil {
		s := y.Shape()
		if y, err = fusedAdd(n, y, in[2]); err != nil {
			return nil, err
		}
		if !y.Shape().Equal(s) {
			return nil, Errorf(n, "bias of shape %v changes the MatMul output shape %v to %v", in[2].Shape(), s, y.Shape())
		}
	}
	if y, err = fusedEpilogue(n, y); err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y}, nil
}
