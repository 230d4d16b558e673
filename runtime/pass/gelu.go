package pass

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
)

func init() {
	Register(Pass{
		Name:  "gelu-fusion",
		Level: LevelFusion,
		Doc: "Replaces GELU written out as x·0.5·(1 + erf(x/√2)) or as the tanh approximation " +
			"x·0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as PyTorch and tf2onnx export it, by ONNX Gelu " +
			"(approximate \"none\" or \"tanh\").",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, fuseGelu) },
	})
}

func fuseGelu(g *graph.Graph) (bool, error) {
	changed := false
	for {
		ix := newIndex(g)
		done := false
		for _, n := range g.Nodes {
			var x, approx string
			var inner []*graph.Node
			switch {
			case n.Op == "Erf" && n.Domain == "":
				x, inner = geluErfArg(ix, n)
				approx = "none"
			case n.Op == "Tanh" && n.Domain == "":
				x, inner = geluTanhArg(ix, n)
				approx = "tanh"
			}
			if x == "" {
				continue
			}
			// (1 + f(x))
			one := ix.single(n.Outputs[0])
			if one == nil || one.Op != "Add" || !ix.isScalar(other(one, n.Outputs[0]), 1) {
				continue
			}
			final, more := halfTimes(ix, one.Outputs[0], x)
			if final == nil {
				continue
			}
			gelu := &graph.Node{Name: final.Name, Op: "Gelu", Inputs: []string{x}, Outputs: []string{final.Outputs[0]},
				Attrs: graph.Attrs{"approximate": approx}, Meta: fusedMeta(final, "gelu-fusion")}
			replaceNode(g, final, gelu)
			absorbed := append(append(inner, n, one), more...)
			removeDead(g, absorbed)
			changed, done = true, true
			break
		}
		if !done {
			return changed, nil
		}
	}
}

// geluErfArg matches erf's argument x/√2 (or x·(1/√2)) and returns x.
func geluErfArg(ix *index, erf *graph.Node) (string, []*graph.Node) {
	d := erf.Inputs[0]
	dn := ix.prod[d]
	if dn == nil || dn.Domain != "" || ix.single(d) != erf || len(dn.Inputs) != 2 {
		return "", nil
	}
	switch dn.Op {
	case "Div":
		if ix.isScalar(dn.Inputs[1], math.Sqrt2) {
			return dn.Inputs[0], []*graph.Node{dn}
		}
	case "Mul":
		for i := 0; i < 2; i++ {
			if ix.isScalar(dn.Inputs[i], 1/math.Sqrt2) && ix.konst(dn.Inputs[1-i]) == nil {
				return dn.Inputs[1-i], []*graph.Node{dn}
			}
		}
	}
	return "", nil
}

// geluTanhArg matches tanh's argument √(2/π)·(x + 0.044715·x³) and returns x.
func geluTanhArg(ix *index, th *graph.Node) (string, []*graph.Node) {
	u := th.Inputs[0]
	un := ix.producer(u, "Mul")
	if un == nil || ix.single(u) != th {
		return "", nil
	}
	var v string
	for i := 0; i < 2; i++ {
		if ix.isScalar(un.Inputs[i], math.Sqrt(2/math.Pi)) {
			v = un.Inputs[1-i]
		}
	}
	vn := ix.producer(v, "Add")
	if vn == nil || ix.single(v) != un {
		return "", nil
	}
	for i := 0; i < 2; i++ {
		x, w := vn.Inputs[i], vn.Inputs[1-i]
		wn := ix.producer(w, "Mul")
		if wn == nil || ix.single(w) != vn {
			continue
		}
		for j := 0; j < 2; j++ {
			if !ix.isScalar(wn.Inputs[j], 0.044715) {
				continue
			}
			if cube := isCube(ix, wn.Inputs[1-j], x); cube != nil {
				return x, append([]*graph.Node{un, vn, wn}, cube...)
			}
		}
	}
	return "", nil
}

// isCube reports whether c is x³ as Pow(x, 3) or x·(x·x), returning its
// nodes.
func isCube(ix *index, c, x string) []*graph.Node {
	cn := ix.prod[c]
	if cn == nil || cn.Domain != "" || ix.uses(c) != 1 || len(cn.Inputs) != 2 {
		return nil
	}
	switch cn.Op {
	case "Pow":
		if cn.Inputs[0] == x && ix.isScalar(cn.Inputs[1], 3) {
			return []*graph.Node{cn}
		}
	case "Mul":
		for i := 0; i < 2; i++ {
			sq := ix.producer(cn.Inputs[i], "Mul")
			if cn.Inputs[1-i] == x && sq != nil && sq.Inputs[0] == x && sq.Inputs[1] == x && ix.uses(cn.Inputs[i]) == 1 {
				return []*graph.Node{cn, sq}
			}
		}
	}
	return nil
}

// halfTimes finds the node computing 0.5·x·h (in any association: (x·h)·0.5,
// (x·0.5)·h, (h·0.5)·x, or /2 for ·0.5) given h, and the other nodes of it.
func halfTimes(ix *index, h, x string) (*graph.Node, []*graph.Node) {
	m := ix.single(h)
	if m == nil || m.Op != "Mul" || m.Domain != "" {
		return nil, nil
	}
	q := other(m, h)
	half := func(n *graph.Node, v string) bool {
		if n == nil || n.Domain != "" || len(n.Inputs) != 2 {
			return false
		}
		switch n.Op {
		case "Mul":
			return other(n, v) != "" && ix.isScalar(other(n, v), 0.5)
		case "Div":
			return n.Inputs[0] == v && ix.isScalar(n.Inputs[1], 2)
		}
		return false
	}
	switch {
	case q == x:
		if m2 := ix.single(m.Outputs[0]); half(m2, m.Outputs[0]) {
			return m2, []*graph.Node{m}
		}
	case ix.isScalar(q, 0.5):
		if m2 := ix.single(m.Outputs[0]); m2 != nil && m2.Op == "Mul" && other(m2, m.Outputs[0]) == x {
			return m2, []*graph.Node{m}
		}
	default:
		if qn := ix.prod[q]; ix.single(q) == m && half(qn, x) {
			return m, []*graph.Node{qn}
		}
	}
	return nil, nil
}
