package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// SwiGLU is the swish-gated linear unit (ONNX SwiGLU-28):
//
//	Y = A · sigmoid(alpha · A) · B
//
// elementwise, with alpha a float attribute (default 1). A and B must have
// the same shape and element type (no broadcasting, as ONNX requires).
// Float32, float64, float16 and bfloat16 are computed in float64 and rounded
// back.
var SwiGLU = &Def{Name: "SwiGLU", Infer: rsSwiGLUInfer, Kernel: rsSwiGLUKernel}

func init() { Register(SwiGLU) }

func rsSwiGLUInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 || !ic.Has(0) || !ic.Has(1) {
		return nil, ic.Errorf("needs inputs A and B")
	}
	a, b := ic.In[0], ic.In[1]
	if a.DType != b.DType {
		return nil, ic.Errorf("A (%v) and B (%v) must have the same element type", a.DType, b.DType)
	}
	if !a.Unranked && !b.Unranked {
		if len(a.Shape) != len(b.Shape) {
			return nil, ic.Errorf("A %v and B %v must have the same shape", a, b)
		}
		for i := range a.Shape {
			if a.Shape[i] >= 0 && b.Shape[i] >= 0 && a.Shape[i] != b.Shape[i] {
				return nil, ic.Errorf("A %v and B %v must have the same shape", a, b)
			}
		}
	}
	return []graph.Type{a}, nil
}

func rsSwiGLUKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	a, b := rsIn(in, 0), rsIn(in, 1)
	if a == nil || b == nil {
		return nil, Errorf(n, "needs inputs A and B")
	}
	if err := rsCheckFloat(n, a, "A"); err != nil {
		return nil, err
	}
	if a.DType() != b.DType() || !a.Shape().Equal(b.Shape()) {
		return nil, Errorf(n, "A (%v %v) and B (%v %v) must have the same shape and type", a.DType(), a.Shape(), b.DType(), b.Shape())
	}
	alpha := float64(n.Attrs.Float("alpha", 1))
	av, bv := a.Float64s(), b.Float64s()
	out := make([]float64, len(av))
	for i, x := range av {
		out[i] = x * rsSigmoid(alpha*x) * bv[i]
	}
	return []*tensor.Tensor{tensor.FromFloat64s(a.DType(), a.Shape().Clone(), out)}, nil
}
