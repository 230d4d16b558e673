package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"math/rand/v2"
)

// ewIdentity is ONNX Identity-25: the output is the input, which may be a
// tensor, a sequence or an optional (it is passed through, not copied).
func ewIdentity(ec *EvalContext, in []Value) ([]Value, error) {
	if len(in) != 1 {
		return nil, ec.Errorf("has %d inputs, want 1", len(in))
	}
	return []Value{in[0]}, nil
}

// ewDropout is ONNX Dropout-22 for inference: inputs data, ratio (optional
// float scalar, default 0.5) and training_mode (optional bool scalar,
// default false); outputs output and the optional bool mask. Outside
// training mode, or with ratio 0, output equals data and mask is all true.
// In training mode each element is kept with probability 1-ratio:
// output = data * mask / (1 - ratio). The mask comes from the `seed`
// attribute's generator when given (the same mask on every call), else
// from a randomly seeded one; it cannot match another runtime's draws.
func ewDropout(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs input data")
	}
	x := in[0]
	ratio := 0.5
	if len(in) > 1 && in[1] != nil {
		if in[1].Len() != 1 || !in[1].DType().IsFloat() {
			return nil, Errorf(n, "ratio must be a float scalar, got %v", in[1].Shape())
		}
		ratio = in[1].At(0)
	}
	if ratio < 0 || ratio >= 1 {
		return nil, Errorf(n, "ratio is %g, want a value in [0, 1)", ratio)
	}
	training := false
	if len(in) > 2 && in[2] != nil {
		if in[2].Len() != 1 || in[2].DType() != tensor.Bool {
			return nil, Errorf(n, "training_mode must be a bool scalar")
		}
		training = in[2].Bools()[0]
	}
	if training && ratio != 0 {
		return ewRandomDropout(n, x, ratio)
	}
	out := []*tensor.Tensor{x}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		mask := make([]bool, x.Len())
		for i := range mask {
			mask[i] = true
		}
		out = append(out, tensor.From(x.Shape().Clone(), mask))
	}
	return out, nil
}

func ewRandomDropout(n *graph.Node, x *tensor.Tensor, ratio float64) ([]*tensor.Tensor, error) {
	if !x.DType().IsFloat() {
		return nil, Errorf(n, "dropout of %s data: want a float type", x.DType())
	}
	keep := func() bool { return rand.Float64() >= ratio }
	if n.Attrs.Has("seed") {
		r := rand.New(rand.NewPCG(uint64(n.Attrs.Int("seed", 0)), 0x6b696c6e))
		keep = func() bool { return r.Float64() >= ratio }
	}
	vals := x.Float64s()
	mask := make([]bool, len(vals))
	scale := 1 / (1 - ratio)
	for i := range vals {
		mask[i] = keep()
		if mask[i] {
			vals[i] *= scale
		} else {
			vals[i] = 0
		}
	}
	out := []*tensor.Tensor{tensor.FromFloat64s(x.DType(), x.Shape(), vals)}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		out = append(out, tensor.From(x.Shape().Clone(), mask))
	}
	return out, nil
}

func ewInferDropout(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs input data")
	}
	out := []graph.Type{ic.In[0]}
	if len(ic.Node.Outputs) > 1 {
		m := ic.In[0]
		m.DType = tensor.Bool
		out = append(out, m)
	}
	return out, nil
}

// ewConstantValue returns the value of a Constant node, from exactly one
// of its attributes: value (a tensor), value_float / value_int /
// value_string (scalars), value_floats / value_ints / value_strings (1-D
// tensors). sparse_value is not supported.
func ewConstantValue(n *graph.Node) (*tensor.Tensor, error) {
	var found []string
	for _, k := range []string{"value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings", "sparse_value"} {
		if n.Attrs.Has(k) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return nil, Errorf(n, "has value attributes %v, want exactly one", found)
	}
	v := n.Attrs[found[0]]
	switch found[0] {
	case "value":
		if t, ok := v.(*tensor.Tensor); ok && t != nil {
			return t.Clone(), nil
		}
	case "value_float":
		if f, ok := v.(float32); ok {
			return tensor.Scalar(f), nil
		}
	case "value_int":
		if i, ok := v.(int64); ok {
			return tensor.Scalar(i), nil
		}
	case "value_string":
		if s, ok := v.(string); ok {
			return tensor.Scalar(s), nil
		}
	case "value_floats":
		if f := n.Attrs.Floats(found[0]); f != nil || v != nil {
			return tensor.From(tensor.Shape{len(f)}, append([]float32{}, f...)), nil
		}
	case "value_ints":
		if i := n.Attrs.Ints(found[0]); i != nil || v != nil {
			return tensor.FromInt64s(tensor.Shape{len(i)}, i), nil
		}
	case "value_strings":
		if s := n.Attrs.Strings(found[0]); s != nil || v != nil {
			return tensor.From(tensor.Shape{len(s)}, append([]string{}, s...)), nil
		}
	case "sparse_value":
		return nil, Unsupported(n, "sparse_value attribute")
	}
	return nil, Errorf(n, "attribute %s has Go type %T, which does not match its kind", found[0], v)
}

// ewConstant is ONNX Constant-25: no inputs, one output holding the value
// given by ewConstantValue's attributes.
func ewConstant(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 0 {
		return nil, Errorf(n, "has %d inputs, want none", len(in))
	}
	t, err := ewConstantValue(n)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{t}, nil
}

func ewInferConstant(ic *InferContext) ([]graph.Type, error) {
	t, err := ewConstantValue(ic.Node)
	if err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(t.DType(), t.Shape()...)}, nil
}

func init() {
	Register(&Def{Name: "Identity", Infer: InferSame(0), Eval: ewIdentity})
	Register(&Def{Name: "Dropout", Infer: ewInferDropout, Kernel: ewDropout})
	Register(&Def{Name: "Constant", Infer: ewInferConstant, Kernel: ewConstant})
}
