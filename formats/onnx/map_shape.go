package onnx

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Mappings of the shape, layout and indexing operators. kiln's ops follow
// the newest ONNX signatures; the rows with MaxOpset rewrite older forms
// (attributes that later became inputs, changed defaults).
func init() {
	RegisterOps(1, "Transpose", "Gather", "Shape", "Size", "Flatten", "DepthToSpace",
		"SpaceToDepth", "ArgMax", "ArgMin")
	RegisterOps(8, "Expand")
	RegisterOps(9, "ConstantOfShape", "OneHot", "NonZero", "Compress", "EyeLike")
	RegisterOps(10, "ReverseSequence")
	RegisterOps(11, "GatherElements", "GatherND", "ScatterElements", "ScatterND", "Range",
		"Unique", "CumSum")
	RegisterOps(14, "Trilu")
	RegisterOps(18, "CenterCropPad")
	RegisterOps(26, "CumProd")

	// Reshape-1 read the shape from an attribute (and had consumed_inputs).
	RegisterOp(OpMapping{OpType: "Reshape", MinOpset: 1, MaxOpset: 4, Convert: func(c *Converter, n *graph.Node) error {
		delete(n.Attrs, "consumed_inputs")
		c.AttrToInput(n, "shape", 1)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "Reshape", MinOpset: 5})

	// Slice before 10 took starts, ends and axes as attributes (no steps).
	RegisterOp(OpMapping{OpType: "Slice", MinOpset: 1, MaxOpset: 9, Convert: func(c *Converter, n *graph.Node) error {
		c.AttrToInput(n, "starts", 1)
		c.AttrToInput(n, "ends", 2)
		c.AttrToInput(n, "axes", 3)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "Slice", MinOpset: 10})

	// Scatter (opsets 9-10, deprecated since 11) is ScatterElements.
	RegisterOp(OpMapping{OpType: "Scatter", MinOpset: 9, Op: "ScatterElements"})

	// Concat-1's axis was optional with default 1.
	RegisterOp(OpMapping{OpType: "Concat", MinOpset: 1, MaxOpset: 3, Convert: func(c *Converter, n *graph.Node) error {
		if !n.Attrs.Has("axis") {
			n.Attrs["axis"] = int64(1)
		}
		return nil
	}})
	RegisterOp(OpMapping{OpType: "Concat", MinOpset: 4})

	// Split's sizes were an attribute before 13 (opset 1 also allowed an input).
	RegisterOp(OpMapping{OpType: "Split", MinOpset: 1, MaxOpset: 12, Convert: func(c *Converter, n *graph.Node) error {
		c.AttrToInput(n, "split", 1)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "Split", MinOpset: 13})

	// Pad before 11 took pads (Pad-1: paddings) and value as attributes.
	RegisterOp(OpMapping{OpType: "Pad", MinOpset: 1, MaxOpset: 10, Convert: func(c *Converter, n *graph.Node) error {
		if v, ok := n.Attrs["paddings"]; ok {
			delete(n.Attrs, "paddings")
			n.Attrs["pads"] = v
		}
		if !n.Attrs.Has("pads") {
			return fmt.Errorf("Pad needs the pads attribute")
		}
		c.AttrToInput(n, "pads", 1)
		c.AttrToInput(n, "value", 2)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "Pad", MinOpset: 11})

	// Tile-1 had inputs (input, tiles, axis) repeating along a single axis.
	RegisterOp(OpMapping{OpType: "Tile", MinOpset: 1, MaxOpset: 5, Convert: func(c *Converter, n *graph.Node) error {
		return fmt.Errorf("Tile-1 (tiles and axis inputs): %w", ErrUnsupported)
	}})
	RegisterOp(OpMapping{OpType: "Tile", MinOpset: 6})

	// Squeeze and Unsqueeze took axes as an attribute before 13.
	for _, op := range []string{"Squeeze", "Unsqueeze"} {
		RegisterOp(OpMapping{OpType: op, MinOpset: 1, MaxOpset: 12, Convert: func(c *Converter, n *graph.Node) error {
			c.AttrToInput(n, "axes", 1)
			return nil
		}})
		RegisterOp(OpMapping{OpType: op, MinOpset: 13})
	}

	// TopK took k as an attribute before 10.
	RegisterOp(OpMapping{OpType: "TopK", MinOpset: 1, MaxOpset: 9, Convert: func(c *Converter, n *graph.Node) error {
		c.AttrToInput(n, "k", 1)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "TopK", MinOpset: 10})
}
