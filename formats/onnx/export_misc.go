package onnx

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
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
	RegisterExport(ExportRule{Domain: "kiln", Op: "Scan8", Standardize: func(c *ExportContext, n *graph.Node) ([]*graph.Node, error) {
		return nil, exportErr(n, "opset-8 Scan (batch axis and sequence_lens) has no form in opset 13 and later")
	}})
}

func exportErr(n *graph.Node, why string) error {
	return fmt.Errorf("onnx: export: node %s: %s: %w", n.Describe(), why, ErrUnsupported)
}
