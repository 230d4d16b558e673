package conformance

import "strings"

// skips lists the tests kiln declares it does not run, with the reason.
// Every entry names a feature whose expected output cannot be reproduced
// by any implementation other than the one that generated it.
var skips = []struct{ prefix, why string }{
	{"test_bernoulli", "expected values come from NumPy's random generator; output is random by definition"},
	{"test_training_dropout_default", "random dropout mask from NumPy's generator"},
	{"test_training_dropout_mask", "random dropout mask from NumPy's generator"},
	{"test_training_dropout", "random dropout mask from NumPy's generator"},
}

func skipReason(name string) (string, bool) {
	if strings.Contains(name, "zero_ratio") {
		return "", false
	}
	for _, s := range skips {
		if strings.HasPrefix(name, s.prefix) {
			return s.why, true
		}
	}
	return "", false
}

// tolerances overrides the default rtol/atol for tests where ONNX's own
// reference backend test (onnx/test/backend_reference_test.py) passes wider
// ones, because the stored outputs carry the float32 round-off of NumPy's
// FFT (about 2e-7 where the exact value is 0).
var tolerances = map[string][2]float64{ // name: {rtol, atol}
	"test_dft":                    {DefaultRTol, 1e-6},
	"test_dft_axis":               {DefaultRTol, 1e-6},
	"test_dft_axis_opset19":       {DefaultRTol, 1e-6},
	"test_dft_inverse":            {DefaultRTol, 1e-6},
	"test_dft_inverse_opset19":    {DefaultRTol, 1e-6},
	"test_dft_opset19":            {DefaultRTol, 1e-6},
	"test_celu_bfloat16_expanded": {1e-2, 1e-2},
}
