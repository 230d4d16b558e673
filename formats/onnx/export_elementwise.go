package onnx

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Export rules of the elementwise family: Cast's saturate (opset 19),
// CastLike (15) written as Cast when the target type is known, the
// quantizers' later attributes, and kiln's private BroadcastAxis (the
// opset < 7 broadcasting) as an Unsqueeze of B.
func init() {
	RegisterExport(ExportRule{Op: "Cast", Features: []Feature{AttrFeature("saturate", int64(1), 19), AttrFeature("round_mode", "up", 25)}})
	RegisterExport(ExportRule{Op: "CastLike",
		Features: []Feature{AttrFeature("saturate", int64(1), 19), AttrFeature("round_mode", "up", 25)},
		Lowest: func(c *ExportContext, n *graph.Node) int {
			if t, ok := c.Type(n.Input(1)); ok && t.DType != 0 {
				if AttrFeature("saturate", int64(1), 19).used(n) {
					return 19
				}
				return 13
			}
			return 0
		},
		Down: func(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error) {
			t, _ := c.Type(n.Input(1))
			attrs := n.Attrs.Clone()
			attrs["to"] = int64(t.DType)
			if opset < 19 {
				delete(attrs, "saturate")
			}
			return []*graph.Node{c.Node("Cast", attrs, []string{n.Input(0)}, n.Outputs[0])}, nil
		},
	})
	// Element types added after opset 13.
	small := []tensor.DType{tensor.Int8, tensor.Int16, tensor.Uint8, tensor.Uint16}
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		RegisterExport(ExportRule{Op: op, Types: []TypeFeature{TypesSince(14, small...)}})
	}
	RegisterExport(ExportRule{Op: "Relu", Types: []TypeFeature{TypesSince(14, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64)}})
	RegisterExport(ExportRule{Op: "Equal", Types: []TypeFeature{TypesSince(19, tensor.String)}})
	RegisterExport(ExportRule{Op: "IsInf", Types: []TypeFeature{TypesSince(20, tensor.Float16, tensor.BFloat16)}})
	RegisterExport(ExportRule{Op: "Where", Types: []TypeFeature{TypesSince(16, tensor.BFloat16)}})
	RegisterExport(ExportRule{Op: "QLinearMatMul", Types: []TypeFeature{TypesSince(21, tensor.Float16, tensor.BFloat16)}})
	RegisterExport(ExportRule{Op: "QuantizeLinear", Types: []TypeFeature{TypesSince(21, tensor.Int16, tensor.Uint16)}, Features: []Feature{
		AttrFeature("saturate", int64(1), 19), AttrFeature("block_size", int64(0), 21),
		AttrFeature("output_dtype", int64(0), 21), AttrFeature("precision", int64(0), 25)}})
	RegisterExport(ExportRule{Op: "DequantizeLinear", Types: []TypeFeature{TypesSince(21, tensor.Int16, tensor.Uint16)}, Features: []Feature{
		AttrFeature("block_size", int64(0), 21), AttrFeature("output_dtype", int64(0), 23)}})
	RegisterExport(ExportRule{Domain: "kiln", Op: "BroadcastAxis", Standardize: ewxBroadcastAxis})
}

// ewxBroadcastAxis writes BroadcastAxis(A, B; axis) as Unsqueeze(B) with
// trailing axes, so that numpy broadcasting aligns B at axis of A.
func ewxBroadcastAxis(c *ExportContext, n *graph.Node) ([]*graph.Node, error) {
	ra, rb := c.Rank(n.Input(0)), c.Rank(n.Input(1))
	if ra < 0 || rb < 0 {
		return nil, exportErr(n, "the ranks of both inputs must be known to write opset-6 broadcasting")
	}
	axis := int(n.Attrs.Int("axis", int64(ra-rb)))
	if axis < 0 {
		axis += ra
	}
	pad := ra - axis - rb
	if pad < 0 || axis < 0 {
		return nil, exportErr(n, "B does not fit A at the axis")
	}
	if pad == 0 {
		return []*graph.Node{c.Node("Identity", nil, []string{n.Input(1)}, n.Outputs[0])}, nil
	}
	axes := make([]int64, pad)
	for i := range axes {
		axes[i] = int64(rb + i)
	}
	return []*graph.Node{c.Node("Unsqueeze", nil, []string{n.Input(1), c.Ints("axes", axes...)}, n.Outputs[0])}, nil
}
