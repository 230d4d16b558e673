package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of the shape and indexing ops. Movement ops move the
// gradient back (Reshape to the input's run-time shape, Transpose by the
// inverse permutation, DepthToSpace by SpaceToDepth); selections scatter it
// (kiln:SliceGrad, kiln:GatherGrad, kiln:PadGrad); broadcasts sum it
// (kiln:SumToShape).

func init() {
	for _, op := range []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze"} {
		RegisterGrad("", op, func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
			dx := make([]string, len(n.Inputs))
			dx[0] = e.Op("Reshape", nil, dy[0], gShape(e, n.Inputs[0]))
			return dx, nil
		})
	}
	RegisterGrad("", "Transpose", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		p := n.Attrs.Ints("perm")
		if p == nil { // reversing the axes is its own inverse
			return []string{e.Op("Transpose", nil, dy[0])}, nil
		}
		return []string{e.Op("Transpose", graph.Attrs{"perm": gInvPerm(p)}, dy[0])}, nil
	})
	RegisterGrad("", "Expand", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gSumTo(e, dy[0], n.Inputs[0]), ""}, nil
	})
	RegisterGrad("", "Concat", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		axis := n.Attrs.Int("axis", 0)
		sizes := make([]string, len(n.Inputs))
		for i, x := range n.Inputs {
			sizes[i] = e.Op("Gather", graph.Attrs{"axis": int64(0)}, gShape(e, x), gInts(e, axis))
		}
		split := e.Op("Concat", graph.Attrs{"axis": int64(0)}, sizes...)
		return e.OpN("", "Split", graph.Attrs{"axis": axis}, len(n.Inputs), dy[0], split), nil
	})
	RegisterGrad("", "Split", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		parts := make([]string, len(n.Outputs))
		for i := range n.Outputs {
			parts[i] = gDy(e, n, dy, i)
		}
		dx := make([]string, len(n.Inputs))
		dx[0] = e.Op("Concat", graph.Attrs{"axis": n.Attrs.Int("axis", 0)}, parts...)
		return dx, nil
	})
	RegisterGrad("", "Slice", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		ins := []string{dy[0], gShape(e, n.Inputs[0])}
		ins = append(ins, n.Inputs[1:]...)
		dx := make([]string, len(n.Inputs))
		dx[0] = e.OpN("kiln", "SliceGrad", nil, 1, ins...)[0]
		return dx, nil
	})
	RegisterGrad("", "Gather", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, ind := n.Inputs[0], n.Inputs[1]
		dx := e.OpN("kiln", "GatherGrad", graph.Attrs{"axis": n.Attrs.Int("axis", 0)}, 1, dy[0], ind, gShape(e, x))[0]
		return []string{dx, ""}, nil
	})
	RegisterGrad("", "Trilu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		ins := append([]string{dy[0]}, n.Inputs[1:]...)
		dx := make([]string, len(n.Inputs))
		dx[0] = e.Op("Trilu", n.Attrs.Clone(), ins...)
		return dx, nil
	})
	// Tile: view dY as [r0, d0, r1, d1, ...] and sum over the repeats.
	RegisterGrad("", "Tile", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, reps := n.Inputs[0], n.Inputs[1]
		r, err := gNeedRank(e, n, x)
		if err != nil {
			return nil, err
		}
		xs := gShape(e, x)
		var dims []string
		axes := make([]int64, r)
		for i := 0; i < r; i++ {
			lo, hi := gInts(e, int64(i)), gInts(e, int64(i+1))
			dims = append(dims, e.Op("Slice", nil, reps, lo, hi), e.Op("Slice", nil, xs, lo, hi))
			axes[i] = int64(2 * i)
		}
		v := e.Op("Reshape", nil, dy[0], e.Op("Concat", graph.Attrs{"axis": int64(0)}, dims...))
		return []string{e.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, v, gInts(e, axes...)), ""}, nil
	})
	// Pad: in constant mode with constant non-negative pads, X's gradient
	// is the slice of dY that holds X; otherwise (reflect, edge, wrap,
	// cropping pads, pads known only at run time) kiln:PadGrad adds every
	// dY element onto the X element it was copied from. The pad value gets
	// the sum of dY over the padded positions.
	RegisterGrad("", "Pad", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		mode := n.Attrs.String("mode", "constant")
		switch mode {
		case "constant", "reflect", "edge", "wrap":
		default:
			return nil, Unsupported(n, "gradient of Pad in %q mode", mode)
		}
		x, pads := n.Inputs[0], n.Inputs[1]
		axes := n.Input(3)
		dx := make([]string, len(n.Inputs))
		if mode == "constant" && gNonNegConst(e, pads) {
			two := e.Op("Reshape", nil, pads, gInts(e, 2, -1))
			begin := e.Op("Gather", graph.Attrs{"axis": int64(0)}, two, e.Const(scalarI64(0)))
			size := gShape(e, x)
			if axes != "" {
				size = e.Op("Gather", graph.Attrs{"axis": int64(0)}, size, axes)
			}
			ins := []string{dy[0], begin, gAdd(e, begin, size)}
			if axes != "" {
				ins = append(ins, axes)
			}
			dx[0] = e.Op("Slice", nil, ins...)
		} else {
			ins := []string{dy[0], gShape(e, x), pads}
			if axes != "" {
				ins = append(ins, axes)
			}
			dx[0] = e.OpN("kiln", "PadGrad", graph.Attrs{"mode": mode}, 1, ins...)[0]
		}
		if v := n.Input(2); v != "" && mode == "constant" && gNeeds(e, v) {
			// The pad value's gradient: everything that did not come from X.
			total := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, dy[0])
			inner := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, dx[0])
			dx[2] = e.Op("Reshape", nil, gSub(e, total, inner), gShape(e, v))
		}
		return dx, nil
	})
	// DepthToSpace and SpaceToDepth permute elements, so their gradients
	// are the inverse permutations: SpaceToDepth undoes DCR DepthToSpace
	// and vice versa; CRD is undone by the inverse reshape and transpose.
	RegisterGrad("", "DepthToSpace", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		b := n.Attrs.Int("blocksize", 0)
		if b <= 0 {
			return nil, gErr(n, "blocksize must be positive, got %d", b)
		}
		x := n.Inputs[0]
		switch mode := n.Attrs.String("mode", "DCR"); mode {
		case "DCR":
			return []string{e.Op("SpaceToDepth", graph.Attrs{"blocksize": b}, dy[0])}, nil
		case "CRD":
			s := gShape(e, x)
			dim := func(i int64) string { return e.Op("Slice", nil, s, gInts(e, i), gInts(e, i+1)) }
			c := e.Op("Div", nil, dim(1), gInts(e, b*b))
			view := e.Op("Concat", graph.Attrs{"axis": int64(0)}, dim(0), c, dim(2), gInts(e, b), dim(3), gInts(e, b))
			// dY viewed as [N, c, H, b, W, b] back to [N, c, b, b, H, W].
			t := e.Op("Transpose", graph.Attrs{"perm": []int64{0, 1, 3, 5, 2, 4}}, e.Op("Reshape", nil, dy[0], view))
			return []string{e.Op("Reshape", nil, t, s)}, nil
		default:
			return nil, gErr(n, "unknown DepthToSpace mode %q (want DCR or CRD)", mode)
		}
	})
	RegisterGrad("", "SpaceToDepth", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		b := n.Attrs.Int("blocksize", 0)
		if b <= 0 {
			return nil, gErr(n, "blocksize must be positive, got %d", b)
		}
		return []string{e.Op("DepthToSpace", graph.Attrs{"blocksize": b, "mode": "DCR"}, dy[0])}, nil
	})
	// CumSum: y = L·x along the axis with L (strictly, when exclusive)
	// lower triangular, so dx = Lᵀ·dy: the cumulative sum of dY run the
	// other way, with the same exclusive setting.
	RegisterGrad("", "CumSum", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		axis := n.Input(1)
		if axis == "" {
			return nil, gErr(n, "CumSum needs its axis input")
		}
		rev := int64(1)
		if n.Attrs.Int("reverse", 0) != 0 {
			rev = 0
		}
		attrs := graph.Attrs{"exclusive": n.Attrs.Int("exclusive", 0), "reverse": rev}
		return []string{e.Op("CumSum", attrs, dy[0], axis), ""}, nil
	})
}

// gNonNegConst reports whether name is a compile-time constant of
// non-negative integers.
func gNonNegConst(e GradEmitter, name string) bool {
	c := gConst(e, name)
	if c == nil || !c.DType().IsInt() {
		return false
	}
	for _, v := range c.Int64s() {
		if v < 0 {
			return false
		}
	}
	return true
}
