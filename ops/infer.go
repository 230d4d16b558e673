package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// InferSame returns an Infer function whose single output has the type of
// input i (elementwise unary ops, activations, normalizations).
func InferSame(i int) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if i >= len(ic.In) {
			return nil, ic.Errorf("needs at least %d inputs", i+1)
		}
		return []graph.Type{ic.In[i]}, nil
	}
}

// BroadcastTypes returns the broadcast shape of the given tensor types, with
// unknown dimensions (-1) where they cannot be decided statically, and an
// error when known dimensions conflict. The result is unranked when any
// input is.
func BroadcastTypes(ic *InferContext, dt tensor.DType, ts ...graph.Type) (graph.Type, error) {
	rank := 0
	for _, t := range ts {
		if t.Unranked {
			return graph.UnrankedType(dt), nil
		}
		if len(t.Shape) > rank {
			rank = len(t.Shape)
		}
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, t := range ts {
		off := rank - len(t.Shape)
		for i, d := range t.Shape {
			o := out[off+i]
			switch {
			case d == 1:
			case o == 1:
				out[off+i] = d
			case d == -1 || o == -1:
				if d != -1 {
					out[off+i] = d
				} else {
					out[off+i] = o
				}
			case d != o:
				return graph.Type{}, ic.Errorf("input shapes %v cannot be broadcast together", shapes(ts))
			}
		}
	}
	return graph.TensorType(dt, out...), nil
}

func shapes(ts []graph.Type) []string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return s
}

// InferBroadcast is the Infer function of elementwise ops whose output type
// is the broadcast of all inputs with the dtype of input 0 (Add, Mul, ...).
func InferBroadcast(ic *InferContext) ([]graph.Type, error) {
	var ts []graph.Type
	for i, t := range ic.In {
		if ic.Has(i) {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return nil, ic.Errorf("needs at least one input")
	}
	t, err := BroadcastTypes(ic, ts[0].DType, ts...)
	if err != nil {
		return nil, err
	}
	return []graph.Type{t}, nil
}

// InferBroadcastBool is InferBroadcast with a bool output (comparisons).
func InferBroadcastBool(ic *InferContext) ([]graph.Type, error) {
	ts, err := InferBroadcast(ic)
	if err != nil {
		return nil, err
	}
	ts[0].DType = tensor.Bool
	return ts, nil
}
