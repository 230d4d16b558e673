package pass

import (
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// MaxFoldBytes caps the size of one folded result: a node whose output
// would be larger (a ConstantOfShape or Tile blowing a small constant up)
// is left to run at run time rather than stored in the graph.
const MaxFoldBytes = 64 << 20

func init() {
	Register(Pass{
		Name:  "constant-folding",
		Level: LevelBasic,
		Doc: "Evaluates nodes whose inputs are all params (Constant nodes included) with the ops' reference " +
			"kernels and replaces them by params of the same names. Skips random ops, ops with subgraphs, " +
			"non-tensor results and results above 64 MiB.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, foldConstants) },
	})
}

func foldConstants(g *graph.Graph) (bool, error) {
	ix := newIndex(g)
	var types map[string]graph.Type
	changed := false
	drop := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		if !foldable(n) {
			continue
		}
		in := make([]ops.Value, len(n.Inputs))
		ok := true
		for i, name := range n.Inputs {
			if name == "" {
				continue
			}
			t := ix.konst(name)
			if t == nil {
				ok = false
				break
			}
			in[i] = t
		}
		if !ok {
			continue
		}
		// Refuse a result known to be too big before computing it.
		if types == nil {
			types = InferTypes(g)
		}
		if tooBig(n, types) {
			continue
		}
		outs, err := runNode(n, in)
		if err != nil || len(outs) < len(n.Outputs) {
			continue // leave the error to run time, where it names its inputs
		}
		var ts []*tensor.Tensor
		for i, o := range n.Outputs {
			t, isT := outs[i].(*tensor.Tensor)
			if o != "" && (!isT || t == nil || t.Len()*max(t.DType().Size(), 1) > MaxFoldBytes) {
				ok = false
				break
			}
			ts = append(ts, t)
		}
		if !ok {
			continue
		}
		for i, o := range n.Outputs {
			if o == "" {
				continue
			}
			p := &graph.Param{Name: o, Tensor: ts[i]}
			g.Params = append(g.Params, p)
			ix.params[o] = p
		}
		drop[n] = true
		changed = true
	}
	if changed {
		deleteNodes(g, drop)
	}
	return changed, nil
}

func foldable(n *graph.Node) bool {
	if nondeterministic[n.Op] || len(n.Subgraphs()) > 0 || len(n.Outputs) == 0 {
		return false
	}
	if len(n.Inputs) == 0 && !(n.Op == "Constant" && n.Domain == "") {
		return false
	}
	d := ops.Lookup(n.Domain, n.Op)
	return d != nil
}

func tooBig(n *graph.Node, types map[string]graph.Type) bool {
	for _, o := range n.Outputs {
		t, ok := types[o]
		if !ok || !t.Static() {
			continue
		}
		sz := 1
		for _, d := range t.Shape {
			sz *= d
			if sz > MaxFoldBytes {
				return true
			}
		}
		if sz*max(t.DType.Size(), 1) > MaxFoldBytes {
			return true
		}
	}
	return false
}
