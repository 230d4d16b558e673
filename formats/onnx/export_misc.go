package onnx

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Export rules of the signal and control ops.
func init() {
	// DFT-17 took axis as an attribute.
	RegisterExport(ExportRule{Op: "DFT",
		Lowest: func(c *ExportContext, n *graph.Node) int {
			if n.Input(2) == "" || c.ConstValue(n.Input(2)) != nil {
				return 17
			}
			return 0
		},
		Down: func(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
			axis := int64(-2)
			if v := c.ConstValue(n.Input(2)); v != nil {
				axis = v.Int64s()[0]
			}
			n.Attrs["axis"] = axis
			if len(n.Inputs) > 2 {
				n.Inputs = n.Inputs[:2]
			}
			return []*graph.Node{n}, nil
		},
	})
	RegisterExport(ExportRule{Domain: "kiln", Op: "Scan8", Standardize: mxScan8})
	RegisterExport(ExportRule{Op: "CumSum", Types: []TypeFeature{{Input: 0, DTypes: []tensor.DType{tensor.Float16, tensor.BFloat16}, Since: 14}}})
	// OptionalHasElement and OptionalGetElement take a plain tensor or
	// sequence (and HasElement no input at all) from opset 18.
	for _, op := range []string{"OptionalHasElement", "OptionalGetElement"} {
		RegisterExport(ExportRule{Op: op, Need: func(c *ExportContext, n *graph.Node) int {
			if n.Input(0) == "" {
				return 18
			}
			if t, ok := c.Type(n.Input(0)); ok && t.Kind != graph.KindOptional {
				return 18
			}
			return 0
		}})
	}
}

// mxScan8 writes an opset-8 Scan whose batch is statically 1 and that has
// no sequence_lens as a current Scan over the batch entry: the batch axis
// is squeezed from every state and scan input and restored on every
// output. Other Scan-8 nodes have no opset-13 form short of a Loop over the
// batch, and fail.
func mxScan8(c *ExportContext, n *graph.Node) ([]*graph.Node, error) {
	if n.Input(0) != "" {
		return nil, exportErr(n, "opset-8 Scan with sequence_lens has no form in opset 13 and later")
	}
	for _, in := range n.Inputs[1:] {
		t, ok := c.Type(in)
		if !ok || t.Unranked || len(t.Shape) == 0 || t.Shape[0] != 1 {
			return nil, exportErr(n, "opset-8 Scan has a form in opset 13 and later only when its batch size is statically 1")
		}
	}
	var out []*graph.Node
	axis0 := c.Ints("axes", 0)
	scan := &graph.Node{Name: n.Name, Op: "Scan", Attrs: graph.Attrs{}, Meta: n.Meta}
	for k, v := range n.Attrs {
		switch k {
		case "directions":
			scan.Attrs["scan_input_directions"] = v
		default:
			scan.Attrs[k] = v
		}
	}
	for _, in := range n.Inputs[1:] {
		sq := c.Node("Squeeze", nil, []string{in, axis0})
		out = append(out, sq)
		scan.Inputs = append(scan.Inputs, sq.Outputs[0])
	}
	var post []*graph.Node
	for _, o := range n.Outputs {
		if o == "" {
			scan.Outputs = append(scan.Outputs, "")
			continue
		}
		tmp := c.Fresh("unbatched")
		scan.Outputs = append(scan.Outputs, tmp)
		post = append(post, c.Node("Unsqueeze", nil, []string{tmp, axis0}, o))
	}
	out = append(out, scan)
	return append(out, post...), nil
}

func exportErr(n *graph.Node, why string) error {
	return fmt.Errorf("onnx: export: node %s: %s: %w", n.Describe(), why, ErrUnsupported)
}
