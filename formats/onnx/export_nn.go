package onnx

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Export rules of the neural-network ops: the Softmax family's private
// 2-D coercion, normalizations, activations added after opset 13 (written
// as their formulas for older opsets), pools, Resize and GridSample.

func init() {
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		RegisterExport(ExportRule{Op: op, Standardize: nnxCoerce2D})
	}
	// BatchNormalization-9's inference form is kiln's; 14 only added
	// training_mode (and 15 more types).
	RegisterExport(ExportRule{Op: "BatchNormalization", Since: 9, Features: []Feature{AttrFeature("training_mode", int64(0), 14)}})
	for _, op := range []string{"RNN", "GRU", "LSTM"} {
		RegisterExport(ExportRule{Op: op, Since: 7, Features: []Feature{AttrFeature("layout", int64(0), 14)}})
	}
	RegisterExport(ExportRule{Op: "GroupNormalization",
		Features:    []Feature{AttrFeature("stash_type", int64(1), 21)},
		Standardize: nnxGroupNormPerGroup,
		Lowest:      func(c *ExportContext, n *graph.Node) int { return rankKnown(c, n.Input(0), 13) },
		Down:        nnxGroupNormDown,
	})
	RegisterExport(ExportRule{Op: "HardSwish", Lowest: always(13), Down: nnxHardSwish})
	RegisterExport(ExportRule{Op: "Mish", Lowest: always(13), Down: nnxMish})
	RegisterExport(ExportRule{Op: "Gelu", Lowest: func(c *ExportContext, n *graph.Node) int { return floatKnown(c, n.Input(0), 13) }, Down: nnxGelu})
	RegisterExport(ExportRule{Op: "Swish", Lowest: func(c *ExportContext, n *graph.Node) int { return floatKnown(c, n.Input(0), 13) }, Down: nnxSwish})
	RegisterExport(ExportRule{Op: "AveragePool", Features: []Feature{AttrFeature("dilations", int64(1), 19)}})
	RegisterExport(ExportRule{Op: "LpPool", Features: []Feature{AttrFeature("ceil_mode", int64(0), 18), AttrFeature("dilations", int64(1), 18)}})
	RegisterExport(ExportRule{Op: "Resize", Since: 13,
		Features: []Feature{
			AttrFeature("antialias", int64(0), 18),
			AttrFeature("axes", nil, 18),
			AttrFeature("keep_aspect_ratio_policy", "stretch", 18),
			{Attr: "coordinate_transformation_mode", Value: "half_pixel_symmetric", Since: 19},
		},
		Lowest: nnxResizeLowest,
		Down:   nnxResizeAxes,
	})
	RegisterExport(ExportRule{Op: "GridSample",
		Lowest: func(c *ExportContext, n *graph.Node) int {
			if c.Rank(n.Input(0)) == 4 {
				return 16
			}
			return 0
		},
		Down: func(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
			switch n.Attrs.String("mode", "linear") {
			case "linear":
				n.Attrs["mode"] = "bilinear"
			case "cubic":
				n.Attrs["mode"] = "bicubic"
			}
			return []*graph.Node{n}, nil
		},
	})
	// RoiAlign-10 behaved as coordinate_transformation_mode
	// output_half_pixel, which RoiAlign-16 added.
	RegisterExport(ExportRule{Op: "RoiAlign",
		Lowest: func(c *ExportContext, n *graph.Node) int {
			if n.Attrs.String("coordinate_transformation_mode", "half_pixel") == "output_half_pixel" {
				return 10
			}
			return 0
		},
		Down: func(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
			delete(n.Attrs, "coordinate_transformation_mode")
			return []*graph.Node{n}, nil
		},
	})
}

func always(v int) func(*ExportContext, *graph.Node) int {
	return func(*ExportContext, *graph.Node) int { return v }
}

// rankKnown returns v when the value's rank is known, else 0.
func rankKnown(c *ExportContext, name string, v int) int {
	if c.Rank(name) >= 0 {
		return v
	}
	return 0
}

// floatKnown returns v when the value's float element type is known, else 0.
func floatKnown(c *ExportContext, name string, v int) int {
	if t, ok := c.Type(name); ok && t.DType.IsFloat() {
		return v
	}
	return 0
}

// scalarOf adds a scalar constant of the value's element type.
func scalarOf(c *ExportContext, like string, v float64) (string, error) {
	t, ok := c.Type(like)
	if !ok || !t.DType.IsFloat() {
		return "", fmt.Errorf("element type of %q unknown: %w", like, ErrUnsupported)
	}
	return c.Const("c", tensor.FromFloat64s(t.DType, tensor.Shape{}, []float64{v})), nil
}

// nnxCoerce2D writes a pre-13 Softmax (input coerced to 2-D at axis) as
// Flatten(axis) -> op(axis=1) -> Reshape(Shape(x)).
func nnxCoerce2D(c *ExportContext, n *graph.Node) ([]*graph.Node, error) {
	if n.Attrs.Int("kiln_coerce_2d", 0) == 0 {
		delete(n.Attrs, "kiln_coerce_2d")
		return nil, nil
	}
	delete(n.Attrs, "kiln_coerce_2d")
	x, y := n.Input(0), n.Outputs[0]
	flat := c.Node("Flatten", graph.Attrs{"axis": n.Attrs.Int("axis", 1)}, []string{x})
	shape := c.Node("Shape", nil, []string{x})
	n.Attrs["axis"] = int64(1)
	n2d := c.Fresh("softmax2d")
	n.Inputs = []string{flat.Outputs[0]}
	n.Outputs = []string{n2d}
	back := c.Node("Reshape", nil, []string{n2d, shape.Outputs[0]}, y)
	return []*graph.Node{flat, shape, n, back}, nil
}

// nnxGroupNormPerGroup writes GroupNormalization-18's per-group scale and
// bias (kiln_per_group) as GroupNormalization-21's per-channel ones, by
// repeating each group's value C/G times; both must be constants.
func nnxGroupNormPerGroup(c *ExportContext, n *graph.Node) ([]*graph.Node, error) {
	if n.Attrs.Int("kiln_per_group", 0) == 0 {
		delete(n.Attrs, "kiln_per_group")
		return nil, nil
	}
	delete(n.Attrs, "kiln_per_group")
	t, ok := c.Type(n.Input(0))
	G := int(n.Attrs.Int("num_groups", 0))
	if !ok || t.Unranked || len(t.Shape) < 2 || t.Shape[1] < 1 || G < 1 || t.Shape[1]%G != 0 {
		return nil, fmt.Errorf("onnx: export: node %s: per-group scale needs a known channel count: %w", n.Describe(), ErrUnsupported)
	}
	C := t.Shape[1]
	for i := 1; i <= 2; i++ {
		v := c.ConstValue(n.Input(i))
		if v == nil || v.Len() != G {
			return nil, fmt.Errorf("onnx: export: node %s: per-group scale and bias must be constants: %w", n.Describe(), ErrUnsupported)
		}
		src := v.Float64s()
		dst := make([]float64, C)
		for j := range dst {
			dst[j] = src[j/(C/G)]
		}
		n.Inputs[i] = c.Const("per_channel", tensor.FromFloat64s(v.DType(), tensor.Shape{C}, dst))
	}
	return []*graph.Node{n}, nil
}

// nnxGroupNormDown writes GroupNormalization-21 for opsets before 18 as
// Reshape [N, G, -1] -> InstanceNormalization (unit scale, zero bias) ->
// Reshape back -> per-channel scale and bias.
func nnxGroupNormDown(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	x := n.Input(0)
	r := c.Rank(x)
	t, _ := c.Type(x)
	if r < 2 || !t.DType.IsFloat() {
		return nil, fmt.Errorf("input rank or type unknown: %w", ErrUnsupported)
	}
	G := int(n.Attrs.Int("num_groups", 0))
	ones := make([]float64, G)
	for i := range ones {
		ones[i] = 1
	}
	shape3 := c.Ints("shape", 0, int64(G), -1)
	rs := c.Node("Reshape", nil, []string{x, shape3})
	in := c.Node("InstanceNormalization", graph.Attrs{"epsilon": n.Attrs.Float("epsilon", 1e-5)},
		[]string{rs.Outputs[0], c.Const("ones", tensor.FromFloat64s(t.DType, tensor.Shape{G}, ones)), c.Const("zeros", tensor.New(t.DType, G))})
	shp := c.Node("Shape", nil, []string{x})
	back := c.Node("Reshape", nil, []string{in.Outputs[0], shp.Outputs[0]})
	cs := []int64{-1}
	for i := 2; i < r; i++ {
		cs = append(cs, 1)
	}
	chShape := c.Ints("channel_shape", cs...)
	sc := c.Node("Reshape", nil, []string{n.Input(1), chShape})
	bi := c.Node("Reshape", nil, []string{n.Input(2), chShape})
	mul := c.Node("Mul", nil, []string{back.Outputs[0], sc.Outputs[0]})
	add := c.Node("Add", nil, []string{mul.Outputs[0], bi.Outputs[0]}, n.Outputs[0])
	return []*graph.Node{rs, in, shp, back, sc, bi, mul, add}, nil
}

// nnxHardSwish: x * HardSigmoid(x; alpha 1/6, beta 0.5) (the definition in
// HardSwish-14).
func nnxHardSwish(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	hs := c.Node("HardSigmoid", graph.Attrs{"alpha": float32(1.0 / 6), "beta": float32(0.5)}, []string{n.Input(0)})
	mul := c.Node("Mul", nil, []string{n.Input(0), hs.Outputs[0]}, n.Outputs[0])
	return []*graph.Node{hs, mul}, nil
}

// nnxMish: x * tanh(softplus(x)) (Mish-18's definition).
func nnxMish(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	sp := c.Node("Softplus", nil, []string{n.Input(0)})
	th := c.Node("Tanh", nil, []string{sp.Outputs[0]})
	mul := c.Node("Mul", nil, []string{n.Input(0), th.Outputs[0]}, n.Outputs[0])
	return []*graph.Node{sp, th, mul}, nil
}

// nnxGelu: 0.5 x (1 + erf(x / sqrt 2)), or with approximate "tanh"
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Gelu-20's definition).
func nnxGelu(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	x := n.Input(0)
	k := func(v float64) string { s, _ := scalarOf(c, x, v); return s }
	if _, err := scalarOf(c, x, 0); err != nil {
		return nil, err
	}
	var out []*graph.Node
	add := func(nd *graph.Node) string { out = append(out, nd); return nd.Outputs[0] }
	var inner string
	if n.Attrs.String("approximate", "none") == "tanh" {
		x3 := add(c.Node("Mul", nil, []string{x, add(c.Node("Mul", nil, []string{x, x}))}))
		s := add(c.Node("Add", nil, []string{x, add(c.Node("Mul", nil, []string{x3, k(0.044715)}))}))
		inner = add(c.Node("Tanh", nil, []string{add(c.Node("Mul", nil, []string{s, k(math.Sqrt(2 / math.Pi))}))}))
	} else {
		inner = add(c.Node("Erf", nil, []string{add(c.Node("Mul", nil, []string{x, k(1 / math.Sqrt2)}))}))
	}
	onePlus := add(c.Node("Add", nil, []string{inner, k(1)}))
	half := add(c.Node("Mul", nil, []string{x, k(0.5)}))
	out = append(out, c.Node("Mul", nil, []string{half, onePlus}, n.Outputs[0]))
	return out, nil
}

// nnxSwish: x * sigmoid(alpha x) (Swish-24's definition).
func nnxSwish(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	x := n.Input(0)
	var out []*graph.Node
	arg := x
	if a := n.Attrs.Float("alpha", 1); a != 1 {
		k, err := scalarOf(c, x, float64(a))
		if err != nil {
			return nil, err
		}
		m := c.Node("Mul", nil, []string{x, k})
		out = append(out, m)
		arg = m.Outputs[0]
	}
	sg := c.Node("Sigmoid", nil, []string{arg})
	out = append(out, sg, c.Node("Mul", nil, []string{x, sg.Outputs[0]}, n.Outputs[0]))
	return out, nil
}

// nnxResizeLowest: Resize's axes attribute can be expanded for opset 13
// when the roi, scales or sizes inputs are constants and the rank known;
// the other opset-18/19 features cannot be.
func nnxResizeLowest(c *ExportContext, n *graph.Node) int {
	if !n.Attrs.Has("axes") {
		return 0
	}
	for _, f := range []Feature{AttrFeature("antialias", int64(0), 18), AttrFeature("keep_aspect_ratio_policy", "stretch", 18)} {
		if f.used(n) {
			return 0
		}
	}
	if n.Attrs.String("coordinate_transformation_mode", "") == "half_pixel_symmetric" || c.Rank(n.Input(0)) < 0 {
		return 0
	}
	for i := 1; i <= 3; i++ {
		if n.Input(i) != "" && c.ConstValue(n.Input(i)) == nil {
			return 0
		}
	}
	return 13
}

// nnxResizeAxes expands roi, scales and sizes given for some axes to every
// axis (identity elsewhere) and drops Resize-18's attributes.
func nnxResizeAxes(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	r := c.Rank(n.Input(0))
	axes := n.Attrs.Ints("axes")
	for i := range axes {
		if axes[i] < 0 {
			axes[i] += int64(r)
		}
	}
	delete(n.Attrs, "axes")
	delete(n.Attrs, "antialias")
	delete(n.Attrs, "keep_aspect_ratio_policy")
	xt, _ := c.Type(n.Input(0))
	for i := 1; i <= 3; i++ {
		v := c.ConstValue(n.Input(i))
		if v == nil {
			continue
		}
		src := v.Float64s()
		var full []float64
		switch i {
		case 1: // roi: starts then ends
			full = make([]float64, 2*r)
			for j := 0; j < r; j++ {
				full[r+j] = 1
			}
			for j, a := range axes {
				full[a], full[int(a)+r] = src[j], src[j+len(axes)]
			}
		case 2:
			full = make([]float64, r)
			for j := range full {
				full[j] = 1
			}
			for j, a := range axes {
				full[a] = src[j]
			}
		case 3:
			if !xt.Static() {
				return nil, fmt.Errorf("sizes for some axes need a static input shape: %w", ErrUnsupported)
			}
			full = make([]float64, r)
			for j := range full {
				full[j] = float64(xt.Shape[j])
			}
			for j, a := range axes {
				full[a] = src[j]
			}
		}
		n.Inputs[i] = c.Const("resize_full", tensor.FromFloat64s(v.DType(), tensor.Shape{len(full)}, full))
	}
	return []*graph.Node{n}, nil
}
