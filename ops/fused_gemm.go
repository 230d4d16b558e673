package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// FusedGemm (domain "kiln") is ONNX Gemm followed by an activation:
//
//	Y = act(alpha · A' · B' + beta · C)
//
// Inputs, transA, transB, alpha and beta are those of Gemm (see Gemm); act
// and its attributes are described with the fused ops (ops/fused.go). The
// reference kernel runs Gemm and then the activation op.
var FusedGemm = &Def{Name: "FusedGemm", Domain: "kiln", Infer: fusedGemmInfer, Kernel: fusedGemmKernel}

func init() { Register(FusedGemm) }

func fusedGemmInfer(ic *InferContext) ([]graph.Type, error) {
	if err := fusedCheckActivation(ic); err != nil {
		return nil, err
	}
	return nnGemmInfer(ic)
}

func fusedGemmKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := fusedRun(n, "Gemm", in)
	if err != nil {
		return nil, err
	}
	if y, err = fusedEpilogue(n, y); err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y}, nil
}
