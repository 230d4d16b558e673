package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of the shape and indexing ops. Movement ops move the
// gradient back (Reshape to the input's run-time shape, Transpose by the
// inverse permutation); selections scatter it (kiln:SliceGrad,
// kiln:GatherGrad); broadcasts sum it (kiln:SumToShape).

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
	// Pad (constant mode, non-negative pads): the gradient is the slice of
	// dY that holds the input.
	RegisterGrad("", "Pad", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		if m := n.Attrs.String("mode", "constant"); m != "constant" {
			return nil, Unsupported(n, "gradient of Pad in %s mode", m)
		}
		x, pads := n.Inputs[0], n.Inputs[1]
		if c := gConst(e, pads); c != nil {
			for _, v := range c.Int64s() {
				if v < 0 {
					return nil, Unsupported(n, "gradient of Pad with negative pads %v", c.Int64s())
				}
			}
		}
		two := e.Op("Reshape", nil, pads, gInts(e, 2, -1))
		begin := e.Op("Gather", graph.Attrs{"axis": int64(0)}, two, e.Const(scalarI64(0)))
		size := gShape(e, x)
		axes := n.Input(3)
		if axes != "" {
			size = e.Op("Gather", graph.Attrs{"axis": int64(0)}, size, axes)
		}
		end := gAdd(e, begin, size)
		ins := []string{dy[0], begin, end}
		if axes != "" {
			ins = append(ins, axes)
		}
		dx := make([]string, len(n.Inputs))
		dx[0] = e.Op("Slice", nil, ins...)
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			// The pad value's gradient: everything outside the slice.
			total := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, dy[0])
			inner := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, dx[0])
			dx[2] = e.Op("Reshape", nil, gSub(e, total, inner), gShape(e, n.Inputs[2]))
		}
		return dx, nil
	})
}
