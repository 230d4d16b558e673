package onnx

// ONNX mappings of the newer single-purpose ops: gated activations,
// cache updates, linear attention, FlexAttention, TreeEnsemble, image
// decoding and Gradient. Each was introduced at the opset below and has
// one version so far.

func init() {
	RegisterOps(20, "ImageDecoder")
	RegisterOps(24, "TensorScatter")
	RegisterOps(27, "LinearAttention", "CausalConvWithState")
	RegisterOps(28, "SwiGLU")
	RegisterOp(OpMapping{Domain: "ai.onnx.preview", OpType: "FlexAttention", MinOpset: 1})
	RegisterOp(OpMapping{Domain: "ai.onnx.ml", OpType: "TreeEnsemble", MinOpset: 5})
}
