package onnx

// ONNX mappings of the quantization, string, signal, ai.onnx.ml and
// training ops.

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
}
