package layer

// Layer classes kiln refuses at load time, each with what the user can do.
// Registering a Go implementation with Register replaces the refusal.

const (
	corePythonAdvice = "the layer holds Python code kiln cannot run; rewrite it as built-in Keras layers and re-save the model, or register a Go layer with layer.Register"
	coreTFOpAdvice   = "the layer wraps a raw TensorFlow op recorded by tf.keras from a TensorFlow function call, which kiln cannot run; express it with built-in Keras layers (or a Lambda replaced by one) and re-save the model, or register a Go layer with layer.Register"
	coreQKerasAdvice = "QKeras quantized layers are custom classes, not Keras built-ins; rebuild the model with plain Keras layers (Dense, Conv2D, Activation) holding the quantized weights from qkeras.utils.model_save_quantized_weights and re-save it, or register a Go layer with layer.Register"
	coreHGQAdvice    = "HGQ (high-granularity quantization) layers are custom classes, not Keras built-ins; convert the model with HGQ's own export (to a proxy model or hls4ml), or register a Go layer with layer.Register"
	coreCustomAdvice = "register a Go implementation with layer.Register, or replace it with built-in layers and re-save the model"
)

func init() {
	Reject("Lambda", corePythonAdvice)
	for _, c := range []string{"TensorFlowOpLayer", "TFOpLambda", "SlicingOpLambda"} {
		Reject(c, coreTFOpAdvice)
	}
	for _, c := range []string{"QDense", "QActivation", "QConv1D", "QConv2D", "QConv2DTranspose",
		"QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D", "QBatchNormalization",
		"QConv2DBatchnorm", "QDepthwiseConv2DBatchnorm", "QAveragePooling2D",
		"QGlobalAveragePooling2D", "QSimpleRNN", "QLSTM", "QGRU", "QBidirectional", "QAdaptiveActivation"} {
		Reject(c, coreQKerasAdvice)
	}
	for _, c := range []string{"FixedPointQuantizer", "HQuantize", "HDense", "HConv1D", "HConv2D",
		"HActivation", "HAdd", "HBatchNormalization", "HDenseBatchNorm", "HConv2DBatchNorm",
		"HMaxPooling2D", "HAveragePooling2D", "HFlatten", "PDropout", "Signature", "PFlatten",
		"PReshape", "PConcatenate", "PMaxPooling2D", "PAveragePooling2D"} {
		Reject(c, coreHGQAdvice)
	}
	Reject("GarNet", "GarNet is a custom layer from hls4ml's contrib code, not a Keras built-in; "+coreCustomAdvice)
	Reject("GarNetStack", "GarNetStack is a custom layer from hls4ml's contrib code, not a Keras built-in; "+coreCustomAdvice)
	Reject("L1Distance", "L1Distance (a siamese network's |a - b|) is a custom layer class from the model's own Python code, not a Keras built-in; "+coreCustomAdvice)
}
