package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	Register(Pass{
		Name:  "bias-fusion",
		Level: LevelFusion,
		Doc: "Folds an Add that alone reads a Conv, Gemm or MatMul output into it: a constant per-channel " +
			"bias becomes the Conv's B, a constant bias becomes Gemm's C (beta 1), a constant [N] bias makes " +
			"MatMul a kiln FusedMatMul, and an Add of another value of the Conv output's exact static shape " +
			"(a residual) makes Conv a kiln FusedConv with that residual.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, fuseBias) },
	})
}

func fuseBias(g *graph.Graph) (bool, error) {
	changed := false
	var nm *namer
	for {
		ix := newIndex(g)
		types := InferTypes(g)
		done := false
		for _, add := range g.Nodes {
			if add.Op != "Add" || add.Domain != "" || len(add.Inputs) != 2 || len(add.Outputs) != 1 {
				continue
			}
			for side := 0; side < 2 && !done; side++ {
				y, other := add.Inputs[side], add.Inputs[1-side]
				p := ix.prod[y]
				if p == nil || y == other || !ix.only(y, add) {
					continue
				}
				if nm == nil {
					nm = newNamer(g)
				}
				var fused *graph.Node
				switch {
				case (isPlainConv(p) && p.Op != "ConvTranspose") || (p.Op == "FusedConv" && p.Domain == "kiln" && p.Attrs.String("activation", "") == "" && ix.konst(other) != nil):
					fused = convBias(g, ix, nm, types, p, y, other)
				case p.Domain == "" && p.Op == "Gemm" && p.Input(2) == "":
					fused = gemmBias(ix, types, p, y, other)
				case (p.Domain == "" && p.Op == "MatMul") || (p.Domain == "kiln" && p.Op == "FusedMatMul" && p.Input(2) == "" && p.Attrs.String("activation", "") == ""):
					fused = matmulBias(ix, types, p, y, other)
				}
				if fused == nil {
					continue
				}
				fused.Name = p.Name
				fused.Outputs = []string{add.Outputs[0]}
				fused.Meta = fusedMeta(p, "bias-fusion")
				replaceNode(g, add, fused)
				deleteNodes(g, map[*graph.Node]bool{p: true})
				changed, done = true, true
			}
			if done {
				break
			}
		}
		if !done {
			return changed, nil
		}
	}
}

// convBias folds a per-channel constant into the bias, or a same-shaped
// value into a residual.
func convBias(g *graph.Graph, ix *index, nm *namer, types map[string]graph.Type, conv *graph.Node, y, other string) *graph.Node {
	ys, ok := staticShape(types, y)
	if !ok || len(ys) < 3 {
		return nil
	}
	M := ys[1]
	if c := ix.konst(other); c != nil {
		if !isFloat(c.DType()) || !channelVector(c.Shape(), len(ys), M) {
			return nil
		}
		nb := c.Float64s()
		if old := conv.Input(2); old != "" {
			ob := ix.konst(old)
			if ob == nil || ob.Len() != M {
				return nil
			}
			for i, v := range ob.Float64s() {
				nb[i] += v
			}
		}
		f := conv.Clone()
		for len(f.Inputs) < 3 {
			f.Inputs = append(f.Inputs, "")
		}
		f.Inputs[2] = addParam(g, nm, conv.Name+"_B_fused", tensor.FromFloat64s(c.DType(), tensor.Shape{M}, nb))
		return f
	}
	if conv.Op == "FusedConv" && conv.Input(3) != "" {
		return nil
	}
	zs, ok := staticShape(types, other)
	zt := types[other]
	if !ok || !tensor.Shape(zs).Equal(ys) || zt.DType != types[y].DType {
		return nil
	}
	f := conv.Clone()
	f.Op, f.Domain = "FusedConv", "kiln"
	for len(f.Inputs) < 3 {
		f.Inputs = append(f.Inputs, "")
	}
	f.Inputs = append(f.Inputs[:3], other)
	return f
}

// channelVector reports whether a shape is [M] broadcast over channels of a
// rank-r NCHW output: [M, 1, ..., 1] (rank r-1) or [1, M, 1, ..., 1] (rank r).
func channelVector(s tensor.Shape, r, M int) bool {
	switch len(s) {
	case r - 1:
		if s[0] != M {
			return false
		}
		s = s[1:]
	case r:
		if s[0] != 1 || s[1] != M {
			return false
		}
		s = s[2:]
	default:
		return false
	}
	for _, d := range s {
		if d != 1 {
			return false
		}
	}
	return true
}

func gemmBias(ix *index, types map[string]graph.Type, gemm *graph.Node, y, other string) *graph.Node {
	c := ix.konst(other)
	ys, ok := staticShape(types, y)
	if c == nil || !ok || len(ys) != 2 || c.Rank() > 2 || c.DType() != types[y].DType {
		return nil
	}
	cs := c.Shape()
	for i := range cs {
		d := cs[len(cs)-1-i]
		if d != 1 && d != ys[1-i] {
			return nil
		}
	}
	f := gemm.Clone()
	for len(f.Inputs) < 3 {
		f.Inputs = append(f.Inputs, "")
	}
	f.Inputs[2] = other
	f.Attrs = f.Attrs.Clone()
	if f.Attrs == nil {
		f.Attrs = graph.Attrs{}
	}
	f.Attrs["beta"] = float32(1)
	return f
}

func matmulBias(ix *index, types map[string]graph.Type, mm *graph.Node, y, other string) *graph.Node {
	c := ix.konst(other)
	yt, ok := types[y]
	if c == nil || !ok || yt.Unranked || len(yt.Shape) == 0 || !isFloat(yt.DType) || c.DType() != yt.DType {
		return nil
	}
	N := yt.Shape[len(yt.Shape)-1]
	cs := c.Shape()
	if N < 0 || len(cs) == 0 || len(cs) > len(yt.Shape) || cs[len(cs)-1] != N {
		return nil
	}
	for _, d := range cs[:len(cs)-1] {
		if d != 1 {
			return nil
		}
	}
	f := mm.Clone()
	f.Op, f.Domain = "FusedMatMul", "kiln"
	f.Inputs = []string{mm.Inputs[0], mm.Inputs[1], other}
	return f
}
