package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	Register(Pass{
		Name:  "shape-folding",
		Level: LevelBasic,
		Doc: "Replaces Shape and Size of values whose shapes are statically known (from the graph's input " +
			"types, params and the ops' type inference) by constants, and Gather of known dimensions from a " +
			"partly known Shape; constant-folding then folds the Gather/Unsqueeze/Concat chains built on them.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, foldShapes) },
	})
}

func foldShapes(g *graph.Graph) (bool, error) {
	var types map[string]graph.Type
	ix := newIndex(g)
	changed := false
	drop := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		if n.Domain != "" || len(n.Outputs) != 1 || n.Outputs[0] == "" || len(n.Inputs) == 0 || n.Inputs[0] == "" {
			continue
		}
		if n.Op != "Shape" && n.Op != "Size" && n.Op != "Gather" {
			continue
		}
		if types == nil {
			types = InferTypes(g)
		}
		var val *tensor.Tensor
		switch n.Op {
		case "Shape":
			dims, ok := shapeDims(n, types)
			if !ok || !allKnown(dims) {
				continue
			}
			val = tensor.FromInt64s(tensor.Shape{len(dims)}, dims)
		case "Size":
			s, ok := staticShape(types, n.Inputs[0])
			if !ok {
				continue
			}
			val = tensor.FromInt64s(tensor.Shape{}, []int64{int64(tensor.Shape(s).Size())})
		case "Gather":
			src := ix.producer(n.Inputs[0], "Shape")
			idx := ix.konst(n.Input(1))
			if src == nil || idx == nil || n.Attrs.Int("axis", 0) != 0 || !idx.DType().IsInt() {
				continue
			}
			dims, ok := shapeDims(src, types)
			if !ok {
				continue
			}
			vals := make([]int64, 0, idx.Len())
			for _, i := range idx.Int64s() {
				if i < 0 {
					i += int64(len(dims))
				}
				if i < 0 || i >= int64(len(dims)) || dims[i] < 0 {
					ok = false
					break
				}
				vals = append(vals, dims[i])
			}
			if !ok {
				continue
			}
			val = tensor.FromInt64s(idx.Shape().Clone(), vals)
		}
		o := n.Outputs[0]
		g.Params = append(g.Params, &graph.Param{Name: o, Tensor: val})
		drop[n] = true
		changed = true
	}
	if changed {
		deleteNodes(g, drop)
	}
	return changed, nil
}

// shapeDims returns the output of a Shape node as far as it is known: -1
// for unknown dimensions; false when even the rank is unknown.
func shapeDims(n *graph.Node, types map[string]graph.Type) ([]int64, bool) {
	t, ok := types[n.Inputs[0]]
	if !ok || t.Kind != graph.KindTensor || t.Unranked {
		return nil, false
	}
	r := int64(len(t.Shape))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start := clamp(n.Attrs.Int("start", 0))
	end := clamp(n.Attrs.Int("end", r))
	dims := []int64{}
	for i := start; i < end; i++ {
		dims = append(dims, int64(t.Shape[i]))
	}
	return dims, true
}

func allKnown(dims []int64) bool {
	for _, d := range dims {
		if d < 0 {
			return false
		}
	}
	return true
}
