package onnx

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Export rules of the shape, layout and indexing ops: attributes and
// inputs added after opset 13, and the rewrites that express Shape's
// start/end, Split's num_outputs and Pad's axes in the opset-13 forms.
func init() {
	RegisterExport(ExportRule{Op: "Reshape", Features: []Feature{AttrFeature("allowzero", int64(0), 14)}})
	RegisterExport(ExportRule{Op: "Shape",
		Features: []Feature{AttrFeature("start", int64(0), 15), AttrFeature("end", nil, 15)},
		Lowest:   always(13),
		Down:     shxShapeSlice,
	})
	RegisterExport(ExportRule{Op: "Split",
		Features: []Feature{AttrFeature("num_outputs", nil, 18)},
		Lowest:   shxSplitLowest,
		Down:     shxSplitSizes,
	})
	RegisterExport(ExportRule{Op: "Pad",
		Features: []Feature{InputFeature(3, 18), {Attr: "mode", Value: "wrap", Since: 19}},
		Lowest:   shxPadLowest,
		Down:     shxPadAxes,
	})
	for _, op := range []string{"ScatterElements", "ScatterND"} {
		RegisterExport(ExportRule{Op: op, Features: []Feature{
			{Attr: "reduction", Value: "add", Since: 16},
			{Attr: "reduction", Value: "mul", Since: 16},
			{Attr: "reduction", Value: "max", Since: 18},
			{Attr: "reduction", Value: "min", Since: 18},
			AttrFeature("reduction", "none", 16),
		}})
	}
}

// shxShapeSlice writes Shape-15's start/end as Shape -> Slice.
func shxShapeSlice(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	start := n.Attrs.Int("start", 0)
	end := n.Attrs.Int("end", math.MaxInt64)
	delete(n.Attrs, "start")
	delete(n.Attrs, "end")
	full := c.Fresh("shape")
	y := n.Outputs[0]
	n.Outputs = []string{full}
	sl := c.Node("Slice", nil, []string{full, c.Ints("start", start), c.Ints("end", end), c.Ints("axes", 0)}, y)
	return []*graph.Node{n, sl}, nil
}

// shxSplitDim is the size of the split axis, or -1.
func shxSplitDim(c *ExportContext, n *graph.Node) int {
	t, ok := c.Type(n.Input(0))
	if !ok || t.Unranked {
		return -1
	}
	ax := int(n.Attrs.Int("axis", 0))
	if ax < 0 {
		ax += len(t.Shape)
	}
	if ax < 0 || ax >= len(t.Shape) {
		return -1
	}
	return t.Shape[ax]
}

func shxSplitLowest(c *ExportContext, n *graph.Node) int {
	if n.Input(1) != "" || shxSplitDim(c, n) >= 0 || int(n.Attrs.Int("num_outputs", 0)) == len(n.Outputs) {
		return 13
	}
	return 0
}

// shxSplitSizes writes Split-18's num_outputs as Split-13: an equal split
// when it divides the axis (or the axis is unknown and the outputs are the
// num_outputs chunks), else explicit sizes with a smaller last chunk.
func shxSplitSizes(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	k := int(n.Attrs.Int("num_outputs", 0))
	delete(n.Attrs, "num_outputs")
	if n.Input(1) != "" {
		return []*graph.Node{n}, nil
	}
	d := shxSplitDim(c, n)
	if d < 0 || (k > 0 && d%k == 0) {
		if k != len(n.Outputs) {
			return nil, fmt.Errorf("num_outputs %d with %d outputs: %w", k, len(n.Outputs), ErrUnsupported)
		}
		return []*graph.Node{n}, nil
	}
	chunk := (d + k - 1) / k
	sizes := make([]int64, len(n.Outputs))
	left := d
	for i := range sizes {
		sizes[i] = int64(min(chunk, left))
		left -= int(sizes[i])
	}
	n.Inputs = []string{n.Input(0), c.Ints("split", sizes...)}
	return []*graph.Node{n}, nil
}

func shxPadLowest(c *ExportContext, n *graph.Node) int {
	if n.Attrs.String("mode", "constant") == "wrap" {
		return 0
	}
	if n.Input(3) == "" {
		return 13
	}
	if c.ConstValue(n.Input(3)) != nil && c.ConstValue(n.Input(1)) != nil && c.Rank(n.Input(0)) >= 0 {
		return 13
	}
	return 0
}

// shxPadAxes expands pads given for some axes (Pad-18's axes input) to
// every axis.
func shxPadAxes(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	if n.Input(3) == "" {
		return []*graph.Node{n}, nil
	}
	r := c.Rank(n.Input(0))
	axes := c.ConstValue(n.Input(3)).Int64s()
	pads := c.ConstValue(n.Input(1)).Int64s()
	full := make([]int64, 2*r)
	for j, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		full[a], full[int(a)+r] = pads[j], pads[j+len(axes)]
	}
	n.Inputs = n.Inputs[:3]
	n.Inputs[1] = c.Const("pads", tensor.FromInt64s(tensor.Shape{len(full)}, full))
	return []*graph.Node{n}, nil
}
