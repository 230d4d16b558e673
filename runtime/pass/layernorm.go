package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	Register(Pass{
		Name:  "layernorm-fusion",
		Level: LevelFusion,
		Doc: "Replaces layer normalization written out as PyTorch and tf2onnx export it — m = ReduceMean(x), " +
			"d = x - m, v = ReduceMean(d², or d·d), y = d / Sqrt(v + eps) (or d · Reciprocal(Sqrt(v + eps))), " +
			"then optionally · gamma and + beta, over the same trailing axes with keepdims — by ONNX " +
			"LayerNormalization.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, fuseLayerNorm) },
	})
}

func fuseLayerNorm(g *graph.Graph) (bool, error) {
	changed := false
	var nm *namer
	for {
		ix := newIndex(g)
		var types map[string]graph.Type
		done := false
		for _, r1 := range g.Nodes {
			if r1.Op != "ReduceMean" || r1.Domain != "" || len(r1.Outputs) != 1 {
				continue
			}
			if types == nil {
				types = InferTypes(g)
			}
			if nm == nil {
				nm = newNamer(g)
			}
			if fuseOneLayerNorm(g, ix, nm, types, r1) {
				changed, done = true, true
				break
			}
		}
		if !done {
			return changed, nil
		}
	}
}

// trailingAxes returns k when a ReduceMean with keepdims reduces exactly
// the last k axes of a rank-r input.
func trailingAxes(ix *index, n *graph.Node, r int) int {
	if n.Attrs.Int("keepdims", 1) != 1 {
		return 0
	}
	axes, ok := ix.intsFrom(n, "", 1) // the importer turns older axes attributes into input 1
	if !ok || len(axes) == 0 {
		return 0
	}
	seen := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a >= int64(r) || seen[int(a)] {
			return 0
		}
		seen[int(a)] = true
	}
	k := len(axes)
	for a := r - k; a < r; a++ {
		if !seen[a] {
			return 0
		}
	}
	return k
}

func fuseOneLayerNorm(g *graph.Graph, ix *index, nm *namer, types map[string]graph.Type, r1 *graph.Node) bool {
	x, mean := r1.Inputs[0], r1.Outputs[0]
	xt, ok := types[x]
	if !ok || xt.Unranked || !isFloat(xt.DType) {
		return false
	}
	r := len(xt.Shape)
	k := trailingAxes(ix, r1, r)
	if k == 0 {
		return false
	}
	sub := ix.single(mean)
	if sub == nil || sub.Op != "Sub" || len(sub.Inputs) != 2 || sub.Inputs[0] != x || sub.Inputs[1] != mean {
		return false
	}
	d := sub.Outputs[0]
	// d's readers: the square and the division.
	var sq, div *graph.Node
	cons := ix.cons[d]
	if len(cons) != 2 || ix.outputs[d] || ix.subUses[d] {
		return false
	}
	for _, c := range cons {
		switch {
		case c.Op == "Pow" && c.Inputs[0] == d && ix.isScalar(c.Input(1), 2):
			sq = c
		case c.Op == "Mul" && len(c.Inputs) == 2 && c.Inputs[0] == d && c.Inputs[1] == d:
			sq = c
		case (c.Op == "Div" && c.Inputs[0] == d) || (c.Op == "Mul" && len(c.Inputs) == 2 && c.Inputs[0] != c.Inputs[1]):
			div = c
		}
	}
	if sq == nil || div == nil {
		return false
	}
	r2 := ix.single(sq.Outputs[0])
	if r2 == nil || r2.Op != "ReduceMean" || r2.Inputs[0] != sq.Outputs[0] || trailingAxes(ix, r2, r) != k {
		return false
	}
	ae := ix.single(r2.Outputs[0])
	if ae == nil || ae.Op != "Add" {
		return false
	}
	eps, ok := ix.scalar(other(ae, r2.Outputs[0]))
	if !ok {
		return false
	}
	sqrt := ix.single(ae.Outputs[0])
	if sqrt == nil || sqrt.Op != "Sqrt" {
		return false
	}
	inner := []*graph.Node{r1, sub, sq, r2, ae, sqrt}
	den := sqrt.Outputs[0]
	if div.Op == "Mul" {
		rec := ix.single(den)
		if rec == nil || rec.Op != "Reciprocal" || other(div, d) != rec.Outputs[0] || ix.single(rec.Outputs[0]) != div {
			return false
		}
		inner = append(inner, rec)
	} else if div.Inputs[1] != den || ix.single(den) != div {
		return false
	}
	out := div
	inner = append(inner, div)
	// Optional affine part.
	tail := xt.Shape[r-k:]
	var gamma, beta string
	if m := ix.single(out.Outputs[0]); m != nil && m.Op == "Mul" {
		if c := trailingParam(g, ix, nm, other(m, out.Outputs[0]), tail, xt.DType); c != "" {
			gamma, out = c, m
			inner = append(inner, m)
		}
	}
	if a := ix.single(out.Outputs[0]); a != nil && a.Op == "Add" {
		if c := trailingParam(g, ix, nm, other(a, out.Outputs[0]), tail, xt.DType); c != "" {
			beta, out = c, a
			inner = append(inner, a)
		}
	}
	if gamma == "" {
		if !(graph.Type{Kind: graph.KindTensor, Shape: tail}).Static() {
			return false
		}
		ones := make([]float64, tensor.Shape(tail).Size())
		for i := range ones {
			ones[i] = 1
		}
		gamma = addParam(g, nm, r1.Name+"_ln_scale", tensor.FromFloat64s(xt.DType, tensor.Shape(tail).Clone(), ones))
	}
	in := []string{x, gamma}
	if beta != "" {
		in = append(in, beta)
	}
	ln := &graph.Node{Name: out.Name, Op: "LayerNormalization", Inputs: in, Outputs: []string{out.Outputs[0]},
		Attrs: graph.Attrs{"axis": int64(-k), "epsilon": float32(eps)}, Meta: fusedMeta(out, "layernorm-fusion")}
	replaceNode(g, out, ln)
	removeDead(g, inner)
	return true
}

// trailingParam returns a constant usable as LayerNormalization's scale or
// bias over the normalized shape tail: the constant itself when it
// broadcasts to tail, or a reshaped copy when its extra leading axes are 1.
// It returns "" when the constant would broadcast over other axes too.
func trailingParam(g *graph.Graph, ix *index, nm *namer, name string, tail []int, dt tensor.DType) string {
	c := ix.konst(name)
	if c == nil || c.DType() != dt {
		return ""
	}
	s := c.Shape()
	for len(s) > len(tail) {
		if s[0] != 1 {
			return ""
		}
		s = s[1:]
	}
	for i := range s {
		d, t := s[len(s)-1-i], tail[len(tail)-1-i]
		if d != 1 && d != t {
			return ""
		}
	}
	if len(s) == c.Rank() {
		return name
	}
	rt, err := c.Reshape(s.Clone())
	if err != nil {
		return ""
	}
	return addParam(g, nm, name+"_ln", rt)
}
