package onnx

import "github.com/kiln-ml/kiln/ops/graph"

// Mappings for reductions, recurrent ops, losses, attention and detection ops.
func init() {
	// Reductions: axes moved from an attribute to input 1 in ReduceSum-13 and
	// in the other reductions at opset 18.
	rdAxesToInput := func(c *Converter, n *graph.Node) error {
		c.AttrToInput(n, "axes", 1)
		return nil
	}
	RegisterOp(OpMapping{OpType: "ReduceSum", MinOpset: 1, MaxOpset: 12, Convert: rdAxesToInput})
	RegisterOps(13, "ReduceSum")
	for _, op := range []string{"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"} {
		RegisterOp(OpMapping{OpType: op, MinOpset: 1, MaxOpset: 17, Convert: rdAxesToInput})
		RegisterOps(18, op)
	}
}
