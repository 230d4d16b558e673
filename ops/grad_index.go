package ops

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Gradient rules of the element-wise gathers and scatters. A gather's
// adjoint is a scatter-add of dY (indices may repeat, and repeated reads
// add up); a scatter's data gradient is dY with the overwritten positions
// zeroed, and its updates gradient is dY gathered back at the indices. With
// reduction "none" and repeated indices the last write wins (row-major
// order, as the forward kernels apply them), so only that update gets a
// gradient: the rules find the winners by scattering each update's int64
// ordinal and gathering it back, unless constant indices show there are
// no repeats. Indices get no gradient; reductions mul, max and min are
// unsupported.

func init() {
	RegisterGrad("", "GatherElements", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, ind := n.Inputs[0], n.Inputs[1]
		a := graph.Attrs{"axis": n.Attrs.Int("axis", 0), "reduction": "add"}
		return []string{e.Op("ScatterElements", a, gZerosLike(e, x), ind, dy[0]), ""}, nil
	})
	RegisterGrad("", "GatherND", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		if b := n.Attrs.Int("batch_dims", 0); b != 0 {
			return nil, Unsupported(n, "gradient of GatherND with batch_dims %d", b)
		}
		x, ind := n.Inputs[0], n.Inputs[1]
		return []string{e.Op("ScatterND", graph.Attrs{"reduction": "add"}, gZerosLike(e, x), ind, dy[0]), ""}, nil
	})
	RegisterGrad("", "ScatterElements", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		axis := n.Attrs.Int("axis", 0)
		return gradScatter(e, n, dy, graph.Attrs{"axis": axis}, "ScatterElements", "GatherElements")
	})
	RegisterGrad("", "ScatterND", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return gradScatter(e, n, dy, nil, "ScatterND", "GatherND")
	})
}

// gradScatter differentiates ScatterElements or ScatterND (inputs data,
// indices, updates) with the given scatter and matching gather op and
// their shared attributes.
func gradScatter(e GradEmitter, n *graph.Node, dy []string, attrs graph.Attrs, scatter, gather string) ([]string, error) {
	if len(n.Inputs) < 3 {
		return nil, gErr(n, "%s needs data, indices and updates", n.Op)
	}
	red := n.Attrs.String("reduction", "none")
	if red != "none" && red != "add" {
		return nil, Unsupported(n, "gradient of %s with reduction %q", n.Op, red)
	}
	x, ind, upd := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	g := dy[0]
	dx := make([]string, 3)
	if gNeeds(e, x) {
		if red == "add" {
			dx[0] = g
		} else {
			dx[0] = e.Op(scatter, attrs.Clone(), g, ind, gZerosLike(e, upd))
		}
	}
	if gNeeds(e, upd) {
		du := e.Op(gather, attrs.Clone(), g, ind)
		if red == "none" && !gScatterUnique(e, n, x, ind) {
			// Number the updates 1..K, scatter the numbers (the last write
			// wins, as in the forward pass) and keep the updates whose
			// number survives at its target.
			k := e.Op("Size", nil, upd)
			one := e.Const(scalarI64(1))
			ids := e.Op("Reshape", nil, e.Op("Range", nil, one, gAdd(e, k, one), one), gShape(e, upd))
			z := e.Op("ConstantOfShape", graph.Attrs{"value": tensor.FromInt64s(tensor.Shape{1}, []int64{0})}, gShape(e, x))
			won := e.Op(gather, attrs.Clone(), e.Op(scatter, attrs.Clone(), z, ind, ids), ind)
			du = gMul(e, du, gMask(e, e.Op("Equal", nil, won, ids), g))
		}
		dx[2] = du
	}
	return dx, nil
}

// gScatterUnique reports whether a scatter node's indices are constant and
// never address the same data element twice (so every update survives).
// It needs the static shape of data; any doubt answers false.
func gScatterUnique(e GradEmitter, n *graph.Node, x, ind string) bool {
	c := gConst(e, ind)
	t, ok := e.Type(x)
	if c == nil || !ok || !t.Static() || !c.DType().IsInt() {
		return false
	}
	ds, is := tensor.Shape(t.Shape), c.Shape()
	iv := c.Int64s()
	seen := map[string]bool{}
	norm := func(v int64, d int) (int64, bool) {
		if v < -int64(d) || v >= int64(d) {
			return 0, false
		}
		if v < 0 {
			v += int64(d)
		}
		return v, true
	}
	switch n.Op {
	case "ScatterElements":
		if len(ds) != len(is) || len(ds) == 0 {
			return false
		}
		axis := int(n.Attrs.Int("axis", 0))
		if axis < 0 {
			axis += len(ds)
		}
		if axis < 0 || axis >= len(ds) {
			return false
		}
		ist := is.Strides()
		for p, v := range iv {
			k, ok := norm(v, ds[axis])
			if !ok {
				return false
			}
			// The target is p with its axis coordinate replaced by k.
			rest := p - ((p/ist[axis])%is[axis])*ist[axis]
			key := fmt.Sprint(rest, ",", k)
			if seen[key] {
				return false
			}
			seen[key] = true
		}
		return true
	case "ScatterND":
		if len(is) == 0 {
			return false
		}
		kk := is[len(is)-1]
		if kk == 0 || kk > len(ds) {
			return kk == 0 && tensor.Shape(is[:len(is)-1]).Size() <= 1
		}
		for t := 0; t*kk < len(iv); t++ {
			key := ""
			for j := 0; j < kk; j++ {
				v, ok := norm(iv[t*kk+j], ds[j])
				if !ok {
					return false
				}
				key += fmt.Sprint(v, ",")
			}
			if seen[key] {
				return false
			}
			seen[key] = true
		}
		return true
	}
	return false
}
