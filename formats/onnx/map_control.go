package onnx

import "github.com/kiln-ml/kiln/ops/graph"

// Control flow, sequence and optional operators. Their later versions only
// widened the accepted types (sequences and optionals as loop-carried
// values, more element types) or, for OptionalHasElement and
// OptionalGetElement at opset 18, accepted plain tensors and sequences; each
// newer form is a superset of the older ones, so one row per operator covers
// every version. Scan is the exception: Scan-8 carries a batch axis and a
// sequence_lens input, so it becomes kiln's own Scan8 op.
func init() {
	RegisterOps(1, "If", "Loop")
	RegisterOps(9, "Scan")
	RegisterOp(OpMapping{OpType: "Scan", MinOpset: 8, MaxOpset: 8, Convert: cfScan8})
	RegisterOps(11, "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase",
		"SequenceAt", "SequenceLength", "SplitToSequence", "ConcatFromSequence")
	RegisterOps(17, "SequenceMap")
	RegisterOps(15, "Optional", "OptionalHasElement", "OptionalGetElement")
}

// cfScan8 turns an opset-8 Scan into kiln's Scan8 op (domain "kiln"). The
// mapping keeps Op empty so the importer checks the ONNX name, then this
// rename moves the node to the kiln domain.
func cfScan8(c *Converter, n *graph.Node) error {
	n.Op = "Scan8"
	n.Domain = "kiln"
	return nil
}
