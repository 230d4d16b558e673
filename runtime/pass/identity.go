package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	Register(Pass{
		Name:  "identity-elimination",
		Level: LevelBasic,
		Doc: "Removes nodes that return their input: Identity, Dropout outside training with its mask unused, " +
			"Cast/CastLike to the input's type, Reshape/Expand to the input's static shape, Transpose by the " +
			"identity permutation. Readers are pointed at the input; a graph output keeps its name (the " +
			"producer of the input is renamed instead, or the node is kept).",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, eliminateIdentities) },
	})
}

func eliminateIdentities(g *graph.Graph) (bool, error) {
	changed := false
	var types map[string]graph.Type
	for {
		ix := newIndex(g)
		var victim *graph.Node
		for _, n := range g.Nodes {
			if n.Domain != "" || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 || n.Outputs[0] == "" {
				continue
			}
			if !isIdentity(n, ix, &types, g) {
				continue
			}
			if eliminate(g, ix, n) {
				victim = n
				break
			}
		}
		if victim == nil {
			return changed, nil
		}
		deleteNodes(g, map[*graph.Node]bool{victim: true})
		changed = true
	}
}

// eliminate rewires readers of n's output to n's input; it reports false
// when graph outputs forbid it.
func eliminate(g *graph.Graph, ix *index, n *graph.Node) bool {
	x, y := n.Inputs[0], n.Outputs[0]
	if x == y {
		return false
	}
	if !ix.outputs[y] {
		if !canRename(g, y, x) {
			return false
		}
		rename(g, y, x)
		return true
	}
	// y is a graph output: rename x's producer to write y, when x is a
	// plain intermediate value of this scope.
	p := ix.prod[x]
	if p == nil || ix.outputs[x] || ix.inputs[x] || ix.params[x] != nil || !canRename(g, x, y) {
		return false
	}
	for i, o := range p.Outputs {
		if o == x {
			p.Outputs[i] = y
		}
	}
	rename(g, x, y)
	if t, ok := g.Types[x]; ok {
		g.Types[y] = t
	}
	return true
}

func isIdentity(n *graph.Node, ix *index, types *map[string]graph.Type, g *graph.Graph) bool {
	ty := func() map[string]graph.Type {
		if *types == nil {
			*types = InferTypes(g)
		}
		return *types
	}
	switch n.Op {
	case "Identity":
		return len(n.Outputs) == 1
	case "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != "" && ix.uses(n.Outputs[1]) > 0 {
			return false
		}
		if tm := n.Input(2); tm != "" {
			t := ix.konst(tm)
			if t == nil || t.DType() != tensor.Bool || t.Len() != 1 || t.Bools()[0] {
				return false
			}
		}
		return true
	case "Cast", "CastLike":
		t, ok := ty()[n.Inputs[0]]
		if !ok || t.Kind != graph.KindTensor || t.DType == tensor.Undefined {
			return false
		}
		if n.Op == "Cast" {
			return n.Attrs.Has("to") && tensor.DType(n.Attrs.Int("to", 0)) == t.DType
		}
		l, ok := ty()[n.Input(1)]
		return ok && l.DType == t.DType
	case "Reshape", "Expand":
		in, ok1 := staticShape(ty(), n.Inputs[0])
		out, ok2 := staticShape(ty(), n.Outputs[0])
		return ok1 && ok2 && tensor.Shape(in).Equal(out)
	case "Transpose":
		perm := n.Attrs.Ints("perm")
		if perm == nil {
			return false
		}
		for i, p := range perm {
			if int(p) != i {
				return false
			}
		}
		return true
	}
	return false
}
