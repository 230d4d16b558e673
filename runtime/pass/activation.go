package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

func init() {
	Register(Pass{
		Name:  "activation-fusion",
		Level: LevelFusion,
		Doc: "Fuses an activation that alone reads a Conv, Gemm or MatMul output (or a kiln fused op without " +
			"an activation) into a kiln FusedConv/FusedGemm/FusedMatMul: Relu, Clip with constant bounds " +
			"(relu6), Sigmoid, Tanh, LeakyRelu, Gelu, HardSigmoid, HardSwish, Swish and SiLU written as " +
			"x·Sigmoid(x).",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, fuseActivations) },
	})
}

// fusedOpOf maps an op that can take an epilogue to its fused form.
var fusedOpOf = map[string]string{"Conv": "FusedConv", "Gemm": "FusedGemm", "MatMul": "FusedMatMul"}

// epilogueAnchor reports whether n can take an activation.
func epilogueAnchor(n *graph.Node) bool {
	if len(n.Outputs) != 1 {
		return false
	}
	switch n.Domain {
	case "":
		return fusedOpOf[n.Op] != ""
	case "kiln":
		return (n.Op == "FusedConv" || n.Op == "FusedGemm" || n.Op == "FusedMatMul") && n.Attrs.String("activation", "") == ""
	}
	return false
}

func fuseActivations(g *graph.Graph) (bool, error) {
	changed := false
	var types map[string]graph.Type
	for {
		ix := newIndex(g)
		done := false
		for _, a := range g.Nodes {
			if a.Domain != "" || len(a.Inputs) == 0 || len(a.Outputs) != 1 || a.Outputs[0] == "" {
				continue
			}
			y := a.Inputs[0]
			if a.Op == "Mul" && len(a.Inputs) == 2 && ix.producer(y, "Sigmoid") != nil {
				y = a.Inputs[1] // SiLU written Sigmoid(y)·y
			}
			p := ix.prod[y]
			if p == nil || !epilogueAnchor(p) {
				continue
			}
			attrs, absorbed, ok := activationAttrs(ix, a, y)
			if !ok {
				continue
			}
			if types == nil {
				types = InferTypes(g)
			}
			if t, ok := types[y]; !ok || !isFloat(t.DType) {
				continue
			}
			f := p.Clone()
			if p.Domain == "" {
				f.Op, f.Domain = fusedOpOf[p.Op], "kiln"
			}
			if f.Attrs == nil {
				f.Attrs = graph.Attrs{}
			}
			for k, v := range attrs {
				f.Attrs[k] = v
			}
			f.Outputs = []string{a.Outputs[0]}
			f.Meta = fusedMeta(p, "activation-fusion")
			replaceNode(g, a, f)
			drop := map[*graph.Node]bool{p: true}
			for _, n := range absorbed {
				drop[n] = true
			}
			deleteNodes(g, drop)
			changed, done = true, true
			types = nil
			break
		}
		if !done {
			return changed, nil
		}
	}
}

// activationAttrs returns the fused-op attributes for activation node a
// reading y, and any other nodes it absorbs; false when a cannot be fused.
func activationAttrs(ix *index, a *graph.Node, y string) (graph.Attrs, []*graph.Node, bool) {
	at := graph.Attrs{"activation": a.Op}
	switch a.Op {
	case "Relu", "Sigmoid", "Tanh", "HardSwish":
	case "LeakyRelu":
		at["activation_alpha"] = a.Attrs.Float("alpha", 0.01)
	case "Swish":
		at["activation_alpha"] = a.Attrs.Float("alpha", 1)
	case "HardSigmoid":
		at["activation_alpha"] = a.Attrs.Float("alpha", 0.2)
		at["activation_beta"] = a.Attrs.Float("beta", 0.5)
	case "Gelu":
		at["activation_approximate"] = a.Attrs.String("approximate", "none")
	case "Clip":
		for i, k := range []string{"activation_alpha", "activation_beta"} {
			name := a.Input(i + 1)
			if name == "" {
				continue
			}
			v, ok := ix.scalar(name)
			if !ok {
				return nil, nil, false
			}
			at[k] = float32(v)
		}
	case "Mul":
		// SiLU: y · Sigmoid(y), with y read only by the two.
		s := other(a, y)
		sig := ix.producer(s, "Sigmoid")
		if sig == nil || sig.Inputs[0] != y || !ix.only(s, a) || len(ix.cons[y]) != 2 || ix.outputs[y] || ix.subUses[y] {
			return nil, nil, false
		}
		return graph.Attrs{"activation": "Swish", "activation_alpha": float32(1)}, []*graph.Node{sig}, true
	default:
		return nil, nil, false
	}
	if !ix.only(y, a) || a.Inputs[0] != y {
		return nil, nil, false
	}
	return at, nil, true
}
