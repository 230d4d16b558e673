package onnx

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Export rules of the reductions: every reduction but ReduceSum took its
// axes as an attribute before opset 18 (ReduceSum before 13). A constant
// axes input goes back into the attribute.
func init() {
	for _, op := range []string{"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"} {
		r := ExportRule{Op: op, Lowest: rdxLowest, Down: rdxAxesToAttr}
		if op == "ReduceMax" || op == "ReduceMin" {
			// Bool inputs (any / all) arrived in opset 20; before it they
			// go through uint8.
			r.Need = func(c *ExportContext, n *graph.Node) int {
				if t, ok := c.Type(n.Input(0)); ok && t.DType == tensor.Bool {
					return 20
				}
				return 0
			}
		}
		RegisterExport(r)
	}
	RegisterExport(ExportRule{Op: "Attention", Features: []Feature{InputFeature(6, 24)}})
}

func rdxLowest(c *ExportContext, n *graph.Node) int {
	if n.Input(1) == "" || c.ConstValue(n.Input(1)) != nil {
		return 13
	}
	return 0
}

// rdxAxesToAttr moves a constant axes input into the opset-13 attribute.
// With no axes, noop_with_empty_axes = 1 made the reduction an identity.
func rdxAxesToAttr(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
	if t, ok := c.Type(n.Input(0)); ok && t.DType == tensor.Bool && opset < 20 {
		// max/min over {0, 1} is any/all.
		in := c.Node("Cast", graph.Attrs{"to": int64(tensor.Uint8)}, []string{n.Input(0)})
		y := n.Outputs[0]
		n.Inputs[0] = in.Outputs[0]
		n.Outputs = []string{c.Fresh("reduced")}
		out := c.Node("Cast", graph.Attrs{"to": int64(tensor.Bool)}, []string{n.Outputs[0]}, y)
		if opset >= 18 {
			return []*graph.Node{in, n, out}, nil
		}
		mid, err := rdxAxesToAttr(c, n, opset)
		if err != nil {
			return nil, err
		}
		return append(append([]*graph.Node{in}, mid...), out), nil
	}
	if opset >= 18 {
		return []*graph.Node{n}, nil
	}
	noop := n.Attrs.Int("noop_with_empty_axes", 0) != 0
	delete(n.Attrs, "noop_with_empty_axes")
	if n.Input(1) == "" {
		if noop {
			return []*graph.Node{c.Node("Identity", nil, []string{n.Input(0)}, n.Outputs[0])}, nil
		}
		n.Inputs = n.Inputs[:1]
		return []*graph.Node{n}, nil
	}
	v := c.ConstValue(n.Input(1))
	if v == nil {
		return nil, fmt.Errorf("axes input is not a constant: %w", ErrUnsupported)
	}
	axes := v.Int64s()
	if len(axes) == 0 {
		if noop {
			return []*graph.Node{c.Node("Identity", nil, []string{n.Input(0)}, n.Outputs[0])}, nil
		}
	} else {
		n.Attrs["axes"] = append([]int64(nil), axes...)
	}
	n.Inputs = n.Inputs[:1]
	return []*graph.Node{n}, nil
}
