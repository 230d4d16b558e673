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

	// Recurrent ops: opset 1 had an output_sequence attribute that only said
	// whether Y is wanted (an absent output says the same); layout (opset 14)
	// defaults to the old behaviour.
	for _, op := range []string{"RNN", "GRU", "LSTM"} {
		RegisterOp(OpMapping{OpType: op, MinOpset: 1, Convert: func(c *Converter, n *graph.Node) error {
			delete(n.Attrs, "output_sequence")
			return nil
		}})
	}

	// Losses: later versions only widened the element types.
	RegisterOps(12, "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss")

	// Attention-24 added the optional nonpad_kv_seqlen input.
	RegisterOps(23, "Attention")

	RegisterOps(23, "RotaryEmbedding")
	// Det-22 and NonMaxSuppression-11 only widened types / clarified text.
	RegisterOps(11, "Det")
	RegisterOps(10, "NonMaxSuppression")
}
