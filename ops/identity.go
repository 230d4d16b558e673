package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Identity returns its input unchanged (ONNX Identity-21): a tensor,
// sequence or optional, shared rather than copied (kernels never modify
// their inputs).
var Identity = &Def{Name: "Identity", Infer: cfInferIdentity, Eval: cfEvalIdentity}

func init() { Register(Identity) }

func cfEvalIdentity(ec *EvalContext, in []Value) ([]Value, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, ec.Errorf("needs an input")
	}
	return []Value{in[0]}, nil
}

func cfInferIdentity(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs an input")
	}
	return []graph.Type{ic.In[0]}, nil
}
