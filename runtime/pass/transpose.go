package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

func init() {
	Register(Pass{
		Name:  "transpose-folding",
		Level: LevelBasic,
		Doc: "Composes a Transpose of a Transpose into one (which identity-elimination removes when it is " +
			"the identity), and moves an elementwise op that is a Transpose's only reader above it, " +
			"U(Transpose(x)) = Transpose(U(x)). Layout changes around layers written for another data " +
			"layout (Keras's channels_last convolutions lowered onto NCHW Conv) then cancel, and the " +
			"activation reaches the convolution it can be fused into.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, foldTransposes) },
	})
}

// pointwise lists ops applied element by element whose other inputs (if
// any) must be one-element constants for the move to be exact.
var pointwise = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true, "Elu": true, "Selu": true,
	"Celu": true, "Softplus": true, "Softsign": true, "HardSigmoid": true, "HardSwish": true,
	"Gelu": true, "Mish": true, "Swish": true, "ThresholdedRelu": true, "Abs": true, "Neg": true,
	"Exp": true, "Log": true, "Sqrt": true, "Reciprocal": true, "Erf": true, "Clip": true,
	"Cast": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true,
}

func transposePerm(n *graph.Node) []int64 {
	if n.Op != "Transpose" || n.Domain != "" || len(n.Inputs) == 0 || n.Inputs[0] == "" {
		return nil
	}
	return n.Attrs.Ints("perm")
}

func foldTransposes(g *graph.Graph) (bool, error) {
	changed := false
	nm := newNamer(g)
	for round := 0; round < 4*len(g.Nodes)+8; round++ {
		ix := newIndex(g)
		did := false
		for i, n := range g.Nodes {
			p2 := transposePerm(n)
			if p2 == nil {
				continue
			}
			// Transpose(Transpose(x, p1), p2) = Transpose(x, p1[p2[i]]).
			if prev := ix.prod[n.Inputs[0]]; prev != nil {
				if p1 := transposePerm(prev); p1 != nil && len(p1) == len(p2) {
					comp := make([]int64, len(p2))
					ok := true
					for k, v := range p2 {
						if v < 0 || int(v) >= len(p1) {
							ok = false
							break
						}
						comp[k] = p1[v]
					}
					if ok {
						n.Inputs[0] = prev.Inputs[0]
						n.Attrs = n.Attrs.Clone()
						n.Attrs["perm"] = comp
						did = true
						break
					}
				}
			}
			// U(Transpose(x)) -> Transpose(U(x)) when U is the only reader.
			u := ix.single(n.Outputs[0])
			if u == nil || u.Domain != "" || !pointwise[u.Op] || len(u.Outputs) != 1 || u.Outputs[0] == "" {
				continue
			}
			if u.Inputs[0] != n.Outputs[0] || !otherInputsScalar(ix, u, len(p2)) {
				continue
			}
			j := -1
			for k := i + 1; k < len(g.Nodes); k++ {
				if g.Nodes[k] == u {
					j = k
					break
				}
			}
			if j < 0 {
				continue
			}
			mid := nm.fresh(u.Outputs[0] + "_pre_transpose")
			x, z := n.Inputs[0], u.Outputs[0]
			u.Inputs = append([]string{x}, u.Inputs[1:]...)
			u.Outputs = []string{mid}
			n.Inputs = []string{mid}
			n.Outputs = []string{z}
			g.Nodes[i], g.Nodes[j] = u, n
			did = true
			break
		}
		if !did {
			return changed, nil
		}
		changed = true
	}
	return changed, nil
}

// otherInputsScalar reports whether every input of u after the first is
// absent or a one-element constant of rank at most rank, so u commutes
// with a transpose of its first input (and broadcasting adds no axes).
func otherInputsScalar(ix *index, u *graph.Node, rank int) bool {
	for _, in := range u.Inputs[1:] {
		if in == "" {
			continue
		}
		t := ix.konst(in)
		if t == nil || t.Len() != 1 || t.Rank() > rank {
			return false
		}
	}
	return true
}
