package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// OptionalOp is the Optional operator (ONNX Optional-15): it wraps its
// input, a tensor or sequence, in an optional. With no input it returns an
// empty optional whose element type is the type attribute, which is then
// required.
var OptionalOp = &Def{Name: "Optional", Infer: cfInferOptional, Eval: cfEvalOptional}

// OptionalHasElement returns a bool scalar (ONNX OptionalHasElement-18):
// false for an empty optional or an absent input, true for a non-empty
// optional or a plain tensor or sequence.
var OptionalHasElement = &Def{Name: "OptionalHasElement", Infer: cfInferOptHas, Eval: cfEvalOptHas}

// OptionalGetElement returns the value inside an optional (ONNX
// OptionalGetElement-18); a plain tensor or sequence is returned unchanged.
// An empty optional is an error.
var OptionalGetElement = &Def{Name: "OptionalGetElement", Infer: cfInferOptGet, Eval: cfEvalOptGet}

func init() {
	Register(OptionalOp)
	Register(OptionalHasElement)
	Register(OptionalGetElement)
}

func cfEvalOptional(ec *EvalContext, in []Value) ([]Value, error) {
	v := cfArg(in, 0)
	switch x := v.(type) {
	case nil:
		t, ok := ec.Node.Attrs.Type("type")
		if !ok {
			return nil, ec.Errorf("an Optional with no input needs the type attribute")
		}
		return []Value{&Optional{Type: t}}, nil
	case *tensor.Tensor, *Sequence:
		return []Value{&Optional{Type: cfValueType(x), Value: x}}, nil
	}
	return nil, ec.Errorf("input is %s, want a tensor or sequence", cfKindName(v))
}

func cfInferOptional(ic *InferContext) ([]graph.Type, error) {
	if ic.Has(0) {
		return []graph.Type{cfOptType(cfKnown(ic.In[0]))}, nil
	}
	t, ok := ic.Node.Attrs.Type("type")
	if !ok {
		return nil, ic.Errorf("an Optional with no input needs the type attribute")
	}
	return []graph.Type{cfOptType(t)}, nil
}

func cfEvalOptHas(ec *EvalContext, in []Value) ([]Value, error) {
	v := cfArg(in, 0)
	has := false
	switch x := v.(type) {
	case nil:
	case *Optional:
		has = x != nil && x.Value != nil
	case *tensor.Tensor, *Sequence:
		has = true
	default:
		return nil, ec.Errorf("input is %s, want an optional, tensor or sequence", cfKindName(v))
	}
	return []Value{tensor.Scalar(has)}, nil
}

func cfInferOptHas(ic *InferContext) ([]graph.Type, error) {
	return []graph.Type{graph.TensorType(tensor.Bool)}, nil
}

func cfEvalOptGet(ec *EvalContext, in []Value) ([]Value, error) {
	v := cfArg(in, 0)
	switch x := v.(type) {
	case *Optional:
		if x == nil || x.Value == nil {
			return nil, ec.Errorf("the optional input is empty")
		}
		return []Value{x.Value}, nil
	case *tensor.Tensor, *Sequence:
		return []Value{x}, nil
	}
	return nil, ec.Errorf("input is %s, want an optional, tensor or sequence", cfKindName(v))
}

func cfInferOptGet(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs an input")
	}
	t := ic.In[0]
	if t.Kind == graph.KindOptional {
		if t.Elem != nil {
			return []graph.Type{cfKnown(*t.Elem)}, nil
		}
		return []graph.Type{graph.UnrankedType(t.DType)}, nil
	}
	return []graph.Type{t}, nil
}
