package onnx

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Mappings of the elementwise family: unary math, activations, broadcasting
// binary and variadic ops, Cast/CastLike, Identity, Dropout and Constant.
// Later versions of these ops only added element types, so one row covers
// every version from the first whose meaning matches kiln's op; older
// versions get rows whose Convert rewrites them.

// ewDropConsumed removes opset 1's consumed_inputs attribute, a memory
// optimisation hint with no effect on the result.
func ewDropConsumed(c *Converter, n *graph.Node) error {
	delete(n.Attrs, "consumed_inputs")
	return nil
}

// ewLegacyBroadcast rewrites an opset < 7 binary op into numpy broadcasting.
// Then, with broadcast = 1, B's shape had to match a contiguous run of A's
// dimensions starting at attribute axis (default: A's trailing
// dimensions); a kiln BroadcastAxis node pads B's shape with trailing 1s so
// that numpy broadcasting gives the same result. With broadcast = 0 the
// shapes had to be equal, which numpy broadcasting also accepts.
func ewLegacyBroadcast(c *Converter, n *graph.Node) error {
	delete(n.Attrs, "consumed_inputs")
	bc := n.Attrs.Int("broadcast", 0)
	axis, hasAxis := n.Attrs["axis"]
	delete(n.Attrs, "broadcast")
	delete(n.Attrs, "axis")
	if bc == 0 || !hasAxis || len(n.Inputs) != 2 {
		return nil
	}
	out := c.NewName("broadcast_axis")
	c.Emit(&graph.Node{
		Name:    out,
		Op:      "BroadcastAxis",
		Domain:  "kiln",
		Inputs:  []string{n.Inputs[0], n.Inputs[1]},
		Outputs: []string{out},
		Attrs:   graph.Attrs{"axis": axis},
		Meta:    graph.Meta{Source: "onnx", ONNXName: n.Meta.ONNXName, ONNXOp: n.Meta.ONNXOp, Opset: n.Meta.Opset},
	})
	n.Inputs[1] = out
	return nil
}

// ewPReluChannel rewrites PRelu-1/PRelu-6, whose slope is per channel,
// into numpy broadcasting by reshaping the slope to start at axis 1.
func ewPReluChannel(c *Converter, n *graph.Node) error {
	delete(n.Attrs, "consumed_inputs")
	n.Attrs["broadcast"] = int64(1)
	n.Attrs["axis"] = int64(1)
	return ewLegacyBroadcast(c, n)
}

// ewClipAttrs moves Clip-1/Clip-6's min and max attributes to inputs.
func ewClipAttrs(c *Converter, n *graph.Node) error {
	delete(n.Attrs, "consumed_inputs")
	c.AttrToInput(n, "min", 1)
	c.AttrToInput(n, "max", 2)
	return nil
}

// ewCastNames maps Cast-1's string "to" attribute to element types.
var ewCastNames = map[string]tensor.DType{
	"FLOAT": tensor.Float32, "UINT8": tensor.Uint8, "INT8": tensor.Int8,
	"UINT16": tensor.Uint16, "INT16": tensor.Int16, "INT32": tensor.Int32,
	"INT64": tensor.Int64, "STRING": tensor.String, "BOOL": tensor.Bool,
	"FLOAT16": tensor.Float16, "DOUBLE": tensor.Float64, "UINT32": tensor.Uint32,
	"UINT64": tensor.Uint64, "BFLOAT16": tensor.BFloat16,
}

// ewCastString converts Cast-1's "to" (a type name string) to Cast-6's
// data type number.
func ewCastString(c *Converter, n *graph.Node) error {
	s, ok := n.Attrs["to"].(string)
	if !ok {
		return nil
	}
	dt, ok := ewCastNames[strings.ToUpper(s)]
	if !ok {
		return fmt.Errorf("Cast to %q: %w", s, ErrUnsupported)
	}
	n.Attrs["to"] = int64(dt)
	return nil
}

// ewLegacyDropout rewrites Dropout before opset 12, whose ratio (and, before
// opset 7, is_test) were attributes and which always ran in inference in
// kiln: the attributes are dropped, so the node is an identity. Before
// opset 10 the mask had the data's element type rather than bool, so a
// CastLike of the bool mask to the data's type produces it.
func ewLegacyDropout(c *Converter, n *graph.Node) error {
	for _, a := range []string{"consumed_inputs", "is_test", "ratio", "seed"} {
		delete(n.Attrs, a)
	}
	if c.Opset >= 10 || len(n.Outputs) < 2 || n.Outputs[1] == "" {
		return nil
	}
	mask := c.NewName("dropout_mask")
	c.Emit(&graph.Node{
		Name:    n.Name,
		Op:      "Dropout",
		Inputs:  []string{n.Inputs[0]},
		Outputs: []string{n.Outputs[0], mask},
		Attrs:   graph.Attrs{},
		Meta:    n.Meta,
	})
	n.Name += "_mask"
	n.Op = "CastLike"
	n.Inputs = []string{mask, n.Inputs[0]}
	n.Outputs = []string{n.Outputs[1]}
	return nil
}

func init() {
	// Unchanged in meaning since their first version (opset 1 forms only
	// add consumed_inputs).
	for _, op := range []string{
		"Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Ceil", "Floor",
		"Relu", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "Sigmoid",
		"Tanh", "Max", "Min", "Sum", "Mean",
	} {
		RegisterOp(OpMapping{OpType: op, MinOpset: 1, MaxOpset: 5, Convert: ewDropConsumed})
		RegisterOps(6, op)
	}
	RegisterOps(1, "Not", "Softplus", "Softsign", "Identity", "Constant")
	RegisterOps(7, "Sin", "Cos", "Tan", "Asin", "Acos", "Atan")
	RegisterOps(9, "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf", "IsNaN", "Sign", "Shrink", "Where")
	RegisterOps(10, "IsInf", "Mod", "ThresholdedRelu")
	RegisterOps(11, "Round", "BitShift")
	RegisterOps(12, "Celu", "LessOrEqual", "GreaterOrEqual")
	RegisterOps(14, "HardSwish")
	RegisterOps(15, "CastLike")
	RegisterOps(18, "Mish", "BitwiseNot", "BitwiseAnd", "BitwiseOr", "BitwiseXor")
	RegisterOps(20, "Gelu")
	RegisterOps(24, "Swish")

	// PRelu before opset 7 applies a 1-D slope per channel (axis 1), the
	// Caffe2 convention; from opset 7 the slope broadcasts numpy-style.
	RegisterOp(OpMapping{OpType: "PRelu", MinOpset: 1, MaxOpset: 6, Convert: ewPReluChannel})
	RegisterOps(7, "PRelu")

	// Binary ops with opset < 7 limited broadcasting (broadcast, axis).
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less", "Greater"} {
		RegisterOp(OpMapping{OpType: op, MinOpset: 1, MaxOpset: 6, Convert: ewLegacyBroadcast})
		RegisterOps(7, op)
	}

	RegisterOp(OpMapping{OpType: "Clip", MinOpset: 1, MaxOpset: 10, Convert: ewClipAttrs})
	RegisterOps(11, "Clip")
	RegisterOp(OpMapping{OpType: "Cast", MinOpset: 1, MaxOpset: 5, Convert: ewCastString})
	RegisterOps(6, "Cast")
	RegisterOp(OpMapping{OpType: "Dropout", MinOpset: 1, MaxOpset: 11, Convert: ewLegacyDropout})
	RegisterOps(12, "Dropout")
}
