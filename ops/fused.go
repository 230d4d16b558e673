package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Fused ops (domain "kiln") are made by the graph passes in runtime/pass: a
// Conv, Gemm or MatMul followed by a bias and an activation becomes one node
// so that a fast kernel can apply the bias and the activation in the GEMM
// epilogue while the output tile is still in registers. Their reference
// kernels run the registered ONNX ops they replace, one after the other, so
// a fused node computes exactly what the unfused nodes computed.
//
// Every fused op takes these attributes for its epilogue:
//
//	activation              "" (none), "Relu", "Clip", "Sigmoid", "Tanh",
//	                        "LeakyRelu", "Gelu", "HardSigmoid", "HardSwish"
//	                        or "Swish" (x·sigmoid(alpha·x); SiLU is alpha 1)
//	activation_alpha        LeakyRelu/Swish/HardSigmoid alpha; Clip's min
//	activation_beta         HardSigmoid beta; Clip's max
//	activation_approximate  Gelu's approximate ("none" or "tanh")
//
// An absent Clip bound means no bound. The activation is the ONNX op of that
// name with those attributes (Clip with min and max as inputs).

// FusedActivations lists the activation names the fused ops accept.
var FusedActivations = []string{"Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "Gelu", "HardSigmoid", "HardSwish", "Swish"}

func fusedActivationKnown(act string) bool {
	if act == "" {
		return true
	}
	for _, a := range FusedActivations {
		if a == act {
			return true
		}
	}
	return false
}

// fusedCheckActivation validates the activation attribute at inference time.
func fusedCheckActivation(ic *InferContext) error {
	if act := ic.Node.Attrs.String("activation", ""); !fusedActivationKnown(act) {
		return Unsupported(ic.Node, "activation %q", act)
	}
	return nil
}

// fusedEpilogue applies n's activation to y, running the registered ONNX
// activation op.
func fusedEpilogue(n *graph.Node, y *tensor.Tensor) (*tensor.Tensor, error) {
	act := n.Attrs.String("activation", "")
	if act == "" {
		return y, nil
	}
	if !fusedActivationKnown(act) {
		return nil, Unsupported(n, "activation %q", act)
	}
	an := &graph.Node{Name: n.Name, Op: act, Attrs: graph.Attrs{}, Meta: n.Meta, Inputs: []string{"y"}, Outputs: []string{"z"}}
	in := []Value{y}
	switch act {
	case "LeakyRelu", "Swish":
		if n.Attrs.Has("activation_alpha") {
			an.Attrs["alpha"] = n.Attrs.Float("activation_alpha", 0)
		}
	case "HardSigmoid":
		if n.Attrs.Has("activation_alpha") {
			an.Attrs["alpha"] = n.Attrs.Float("activation_alpha", 0)
		}
		if n.Attrs.Has("activation_beta") {
			an.Attrs["beta"] = n.Attrs.Float("activation_beta", 0)
		}
	case "Gelu":
		if n.Attrs.Has("activation_approximate") {
			an.Attrs["approximate"] = n.Attrs.String("activation_approximate", "none")
		}
	case "Clip":
		bound := func(name string, def float64) Value {
			if !n.Attrs.Has(name) {
				return nil
			}
			v := float64(n.Attrs.Float(name, 0))
			if math.IsNaN(v) {
				v = def
			}
			return tensor.FromFloat64s(y.DType(), tensor.Shape{}, []float64{v})
		}
		in = append(in, bound("activation_alpha", math.Inf(-1)), bound("activation_beta", math.Inf(1)))
		an.Inputs = []string{"y", "min", "max"}
	}
	outs, err := Lookup("", act).Run(&EvalContext{Node: an}, in)
	if err != nil {
		return nil, err
	}
	return outs[0].(*tensor.Tensor), nil
}

// fusedRun runs the registered op (domain "", name op) on n's attributes.
func fusedRun(n *graph.Node, op string, in []*tensor.Tensor) (*tensor.Tensor, error) {
	vs := make([]Value, len(in))
	for i, t := range in {
		if t != nil {
			vs[i] = t
		}
	}
	outs, err := Lookup("", op).Run(&EvalContext{Node: n}, vs)
	if err != nil {
		return nil, err
	}
	return outs[0].(*tensor.Tensor), nil
}

// fusedAdd returns a + b with ONNX Add broadcasting.
func fusedAdd(n *graph.Node, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	return fusedRun(n, "Add", []*tensor.Tensor{a, b})
}
