package onnx

// Mappings of the random-number generators. Each operator has two
// versions (RandomUniform, RandomNormal and their *Like forms: 1 and 22;
// Bernoulli: 15 and 22; Multinomial: 7 and 22) that differ only in the
// element types allowed (22 added bfloat16), so one row covers every
// version.
func init() {
	RegisterOps(1, "RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike")
	RegisterOps(7, "Multinomial")
	RegisterOps(15, "Bernoulli")
}
