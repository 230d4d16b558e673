package onnx

// ONNX mappings of the quantization, string, signal, ai.onnx.ml and
// training ops.

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	// Quantization. QuantizeLinear and DequantizeLinear gained axis (13),
	// float8 and saturate (19), blocking and output_dtype (21), more types
	// (23-25) and precision (25); each addition defaults to the older
	// behaviour, so every version maps unchanged.
	RegisterOps(10, "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
		"MatMulInteger", "ConvInteger")
	RegisterOps(11, "DynamicQuantizeLinear")

	// Strings.
	RegisterOps(10, "StringNormalizer")
	RegisterOps(20, "StringConcat", "StringSplit", "RegexFullMatch")

	// Signal processing. DFT-17 took axis as an attribute (default 1);
	// DFT-20 takes it as input 2 (default -2), so the old form always
	// gets an explicit axis input.
	RegisterOp(OpMapping{OpType: "DFT", MinOpset: 17, MaxOpset: 19, Convert: miDFT17})
	RegisterOps(20, "DFT")
	RegisterOps(17, "STFT", "HannWindow", "HammingWindow", "BlackmanWindow", "MelWeightMatrix")
	RegisterOps(26, "BitCast")
	RegisterOps(9, "TfIdfVectorizer")

	// ai.onnx.ml. LabelEncoder-1 (classes_strings), -2 (keys/values
	// lists) and -4 (tensor attributes) are all read by the one kernel.
	for _, op := range []string{"LabelEncoder", "Binarizer", "ArrayFeatureExtractor"} {
		RegisterOp(OpMapping{Domain: "ai.onnx.ml", OpType: op, MinOpset: 1})
	}

	// Training (ai.onnx.preview.training).
	for _, op := range []string{"Adagrad", "Momentum", "Adam"} {
		RegisterOp(OpMapping{Domain: "ai.onnx.preview.training", OpType: op, MinOpset: 1})
	}
}

// miDFT17 moves DFT-17's axis attribute into DFT-20's axis input.
func miDFT17(c *Converter, n *graph.Node) error {
	axis := n.Attrs.Int("axis", 1)
	delete(n.Attrs, "axis")
	for len(n.Inputs) < 3 {
		n.Inputs = append(n.Inputs, "")
	}
	n.Inputs[2] = c.Const(tensor.Scalar(axis))
	return nil
}
