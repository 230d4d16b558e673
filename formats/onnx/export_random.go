package onnx

import "github.com/kiln-ml/kiln/ops/tensor"

// Export rules of the random-number generators: bfloat16, as an output
// dtype attribute or as the input's type, is valid ONNX only from the
// operators' version 22.
func init() {
	bf16 := int64(tensor.BFloat16)
	for _, op := range []string{"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Bernoulli"} {
		RegisterExport(ExportRule{Op: op,
			Features: []Feature{{Attr: "dtype", Input: -1, Value: bf16, Since: 22}},
			Types:    []TypeFeature{TypesSince(22, tensor.BFloat16)},
		})
	}
	RegisterExport(ExportRule{Op: "Multinomial", Types: []TypeFeature{TypesSince(22, tensor.BFloat16)}})
}
