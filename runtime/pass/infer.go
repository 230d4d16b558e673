package pass

import (
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// InferTypes returns the static types of the values of g's own scope: its
// inputs (as declared), its params (exact) and every node output the ops'
// Infer functions can type, from the input types and the values of params
// and Constant nodes. Values read from enclosing scopes and outputs of ops
// without an Infer function are absent. Where the graph declares a type
// (g.Types, from ONNX value_info) that conflicts with the inferred one, the
// value is treated as unknown (absent) rather than trusting either.
func InferTypes(g *graph.Graph) map[string]graph.Type {
	types := map[string]graph.Type{}
	consts := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		types[v.Name] = v.Type
	}
	for _, p := range g.Params {
		if p.Tensor == nil {
			continue
		}
		types[p.Name] = graph.TensorType(p.Tensor.DType(), p.Tensor.Shape()...)
		if !isInput(g, p.Name) {
			consts[p.Name] = p.Tensor
		}
	}
	for _, n := range g.Nodes {
		if n.Op == "Constant" && n.Domain == "" && len(n.Outputs) == 1 {
			if t := evalConstant(n); t != nil {
				consts[n.Outputs[0]] = t
				types[n.Outputs[0]] = graph.TensorType(t.DType(), t.Shape()...)
				continue
			}
		}
		outs := inferNode(n, types, consts)
		for i, o := range n.Outputs {
			if o == "" || i >= len(outs) {
				continue
			}
			t := outs[i]
			if d, ok := g.Types[o]; ok && conflicts(d, t) {
				continue
			}
			types[o] = t
		}
	}
	return types
}

func isInput(g *graph.Graph, name string) bool {
	for _, v := range g.Inputs {
		if v.Name == name {
			return true
		}
	}
	return false
}

// inferNode runs n's Infer function, recovering from a panic (an Infer
// function fed unknown types) as "unknown".
func inferNode(n *graph.Node, types map[string]graph.Type, consts map[string]*tensor.Tensor) (out []graph.Type) {
	d := ops.Lookup(n.Domain, n.Op)
	if d == nil || d.Infer == nil {
		return nil
	}
	ic := &ops.InferContext{Node: n, In: make([]graph.Type, len(n.Inputs)), Consts: make([]*tensor.Tensor, len(n.Inputs))}
	for i, in := range n.Inputs {
		if in == "" {
			ic.In[i] = graph.Type{Kind: graph.KindTensor}
			continue
		}
		t, ok := types[in]
		if !ok {
			return nil // an unknown input: leave the outputs unknown
		}
		ic.In[i] = t
		ic.Consts[i] = consts[in]
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	out, err := d.Infer(ic)
	if err != nil {
		return nil
	}
	return out
}

func evalConstant(n *graph.Node) *tensor.Tensor {
	outs, err := runNode(n, nil)
	if err != nil || len(outs) != 1 {
		return nil
	}
	t, _ := outs[0].(*tensor.Tensor)
	return t
}

// runNode evaluates a node on constant inputs with its reference kernel,
// turning a panic into an error.
func runNode(n *graph.Node, in []ops.Value) (outs []ops.Value, err error) {
	d := ops.Lookup(n.Domain, n.Op)
	if d == nil {
		return nil, ops.Unsupported(n, "unknown op")
	}
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, ops.Errorf(n, "kernel failed: %v", r)
		}
	}()
	return d.Run(&ops.EvalContext{Node: n}, in)
}

// conflicts reports whether two tensor types disagree on something both
// know.
func conflicts(a, b graph.Type) bool {
	if a.Kind != b.Kind {
		return true
	}
	if a.Kind != graph.KindTensor {
		return false
	}
	if a.DType != tensor.Undefined && b.DType != tensor.Undefined && a.DType != b.DType {
		return true
	}
	if a.Unranked || b.Unranked {
		return false
	}
	if len(a.Shape) != len(b.Shape) {
		return true
	}
	for i := range a.Shape {
		if a.Shape[i] >= 0 && b.Shape[i] >= 0 && a.Shape[i] != b.Shape[i] {
			return true
		}
	}
	return false
}

// staticShape returns a value's shape when its type is a fully known tensor
// type.
func staticShape(types map[string]graph.Type, name string) ([]int, bool) {
	t, ok := types[name]
	if !ok || !t.Static() {
		return nil, false
	}
	return t.Shape, true
}
