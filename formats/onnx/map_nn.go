package onnx

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Mappings of the neural-network ops (MatMul, Conv, pools, normalizations,
// Softmax family, Resize, GridSample, ...). kiln implements the newest ONNX
// definition of each; the rows below rewrite older opset forms into it.

func init() {
	RegisterOps(1, "MatMul", "Conv", "ConvTranspose", "MaxPool", "AveragePool",
		"GlobalAveragePool", "GlobalMaxPool", "LpNormalization", "LRN")
	RegisterOps(9, "MaxUnpool", "MeanVarianceNormalization")
	RegisterOps(12, "Einsum")
	RegisterOps(17, "LayerNormalization")
	RegisterOps(23, "RMSNormalization")

	// Gemm 1-6 carried a "broadcast" flag; C broadcasting is always on now.
	RegisterOp(OpMapping{OpType: "Gemm", MinOpset: 1, Convert: nnDropAttrs("broadcast")})

	// LpPool-1 and GlobalLpPool-1 had a float p; later versions an int.
	RegisterOp(OpMapping{OpType: "LpPool", MinOpset: 1, MaxOpset: 1, Convert: nnFloatPToInt})
	RegisterOp(OpMapping{OpType: "LpPool", MinOpset: 2})
	RegisterOp(OpMapping{OpType: "GlobalLpPool", MinOpset: 1, MaxOpset: 1, Convert: nnFloatPToInt})
	RegisterOp(OpMapping{OpType: "GlobalLpPool", MinOpset: 2})

	// BatchNormalization before 14: is_test/spatial/consumed_inputs
	// attributes and (before 14) training-only outputs that an inference
	// graph does not use; kiln keeps the inference output.
	RegisterOp(OpMapping{OpType: "BatchNormalization", MinOpset: 1, MaxOpset: 13, Convert: func(c *Converter, n *graph.Node) error {
		for _, a := range []string{"is_test", "spatial", "consumed_inputs"} {
			delete(n.Attrs, a)
		}
		if len(n.Outputs) > 1 {
			n.Outputs = n.Outputs[:1]
		}
		return nil
	}})
	RegisterOp(OpMapping{OpType: "BatchNormalization", MinOpset: 14})
	RegisterOp(OpMapping{OpType: "InstanceNormalization", MinOpset: 1, Convert: nnDropAttrs("consumed_inputs")})

	// GroupNormalization-18 has scale and bias per group.
	RegisterOp(OpMapping{OpType: "GroupNormalization", MinOpset: 18, MaxOpset: 20, Convert: func(c *Converter, n *graph.Node) error {
		n.Attrs["kiln_per_group"] = int64(1)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "GroupNormalization", MinOpset: 21})

	// Softmax, LogSoftmax, Hardmax before 13: default axis 1 and the input
	// coerced to 2-D at axis.
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		RegisterOp(OpMapping{OpType: op, MinOpset: 1, MaxOpset: 12, Convert: func(c *Converter, n *graph.Node) error {
			if n.Attrs == nil {
				n.Attrs = graph.Attrs{}
			}
			if !n.Attrs.Has("axis") {
				n.Attrs["axis"] = int64(1)
			}
			n.Attrs["kiln_coerce_2d"] = int64(1)
			return nil
		}})
		RegisterOp(OpMapping{OpType: op, MinOpset: 13})
	}
}

func nnDropAttrs(names ...string) func(c *Converter, n *graph.Node) error {
	return func(c *Converter, n *graph.Node) error {
		for _, a := range names {
			delete(n.Attrs, a)
		}
		return nil
	}
}

func nnFloatPToInt(c *Converter, n *graph.Node) error {
	if v, ok := n.Attrs["p"].(float32); ok {
		n.Attrs["p"] = int64(v)
	}
	return nil
}

func init() {
	RegisterOp(OpMapping{OpType: "Resize", MinOpset: 11})
	// Resize-10: inputs X, scales; asymmetric coordinates, nearest rounds down.
	RegisterOp(OpMapping{OpType: "Resize", MinOpset: 10, MaxOpset: 10, Convert: func(c *Converter, n *graph.Node) error {
		nnUpsampleToResize(n)
		if len(n.Inputs) > 1 {
			n.Inputs = []string{n.Inputs[0], "", n.Inputs[1]}
		}
		return nil
	}})
	// Upsample-7/8: scales attribute; Upsample-9: scales input. Both map
	// to Resize with asymmetric coordinates (nearest = repetition).
	RegisterOp(OpMapping{OpType: "Upsample", MinOpset: 7, MaxOpset: 8, Op: "Resize", Convert: func(c *Converter, n *graph.Node) error {
		nnUpsampleToResize(n)
		n.Inputs = n.Inputs[:1]
		c.AttrToInput(n, "scales", 2)
		return nil
	}})
	RegisterOp(OpMapping{OpType: "Upsample", MinOpset: 9, MaxOpset: 9, Op: "Resize", Convert: func(c *Converter, n *graph.Node) error {
		nnUpsampleToResize(n)
		if len(n.Inputs) > 1 {
			n.Inputs = []string{n.Inputs[0], "", n.Inputs[1]}
		}
		return nil
	}})
	// Upsample-1 (experimental): height_scale and width_scale on NCHW.
	RegisterOp(OpMapping{OpType: "Upsample", MinOpset: 1, MaxOpset: 6, Op: "Resize", Convert: func(c *Converter, n *graph.Node) error {
		h, w := n.Attrs.Float("height_scale", 1), n.Attrs.Float("width_scale", 1)
		delete(n.Attrs, "height_scale")
		delete(n.Attrs, "width_scale")
		nnUpsampleToResize(n)
		n.Attrs["scales"] = []float32{1, 1, h, w}
		n.Inputs = n.Inputs[:1]
		c.AttrToInput(n, "scales", 2)
		return nil
	}})
}

func nnUpsampleToResize(n *graph.Node) {
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	if m := n.Attrs.String("mode", "nearest"); m == "bilinear" || m == "trilinear" {
		n.Attrs["mode"] = "linear"
	}
	n.Attrs["coordinate_transformation_mode"] = "asymmetric"
	n.Attrs["nearest_mode"] = "floor"
}

func init() {
	RegisterOps(18, "Col2Im")
	RegisterOps(19, "DeformConv")
	RegisterOps(20, "AffineGrid")
	RegisterOp(OpMapping{OpType: "GridSample", MinOpset: 20})
	// GridSample-16 spelled the modes bilinear and bicubic and was 2-D only.
	RegisterOp(OpMapping{OpType: "GridSample", MinOpset: 16, MaxOpset: 19, Convert: func(c *Converter, n *graph.Node) error {
		switch n.Attrs.String("mode", "bilinear") {
		case "bilinear":
			n.Attrs["mode"] = "linear"
		case "bicubic":
			n.Attrs["mode"] = "cubic"
		}
		return nil
	}})
	RegisterOp(OpMapping{OpType: "RoiAlign", MinOpset: 16})
	// RoiAlign-10 had no coordinate_transformation_mode and behaved as
	// output_half_pixel.
	RegisterOp(OpMapping{OpType: "RoiAlign", MinOpset: 10, MaxOpset: 15, Convert: func(c *Converter, n *graph.Node) error {
		if n.Attrs == nil {
			n.Attrs = graph.Attrs{}
		}
		n.Attrs["coordinate_transformation_mode"] = "output_half_pixel"
		return nil
	}})
}
