package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

// kf is a constant float vector input (Resize's roi and scales).
func kf(v ...float64) in { return in{vals: v, shape: []int{len(v)}, konst: true} }

// none is an omitted optional input.
var none = in{none: true}

func TestGradResize(t *testing.T) {
	at := func(kv ...any) graph.Attrs {
		a := graph.Attrs{}
		for i := 0; i < len(kv); i += 2 {
			a[kv[i].(string)] = kv[i+1]
		}
		return a
	}
	runCases(t, []opCase{
		{name: "Nearest2DAsymmetricFloor", op: "Resize", attrs: at("mode", "nearest", "coordinate_transformation_mode", "asymmetric", "nearest_mode", "floor"),
			ins: []in{f(1, 2, 3, 4), none, kf(1, 1, 2, 1.5)}},
		{name: "Nearest2DHalfPixelDown", op: "Resize", attrs: at("mode", "nearest"),
			ins: []in{f(2, 1, 5, 6), none, kf(1, 1, 0.6, 0.5)}},
		{name: "Nearest1DAlignCornersCeil", op: "Resize", attrs: at("mode", "nearest", "coordinate_transformation_mode", "align_corners", "nearest_mode", "round_prefer_ceil"),
			ins: []in{f(2, 3, 4), none, none, ints(2, 3, 9)}},
		{name: "Nearest2DSizesAxes", op: "Resize", attrs: at("mode", "nearest", "axes", []int64{2, 3}, "coordinate_transformation_mode", "pytorch_half_pixel"),
			ins: []in{f(1, 2, 3, 3), none, none, ints(7, 2)}},
		{name: "Linear1DHalfPixelUp", op: "Resize", attrs: at("mode", "linear"),
			ins: []in{f(2, 3, 5), none, kf(1, 1, 2.5)}},
		{name: "Linear1DAsymmetricDown", op: "Resize", attrs: at("mode", "linear", "coordinate_transformation_mode", "asymmetric"),
			ins: []in{f(1, 2, 8), none, kf(1, 1, 0.5)}},
		{name: "Linear2DAlignCornersSizes", op: "Resize", attrs: at("mode", "linear", "coordinate_transformation_mode", "align_corners"),
			ins: []in{f(1, 2, 3, 4), none, none, ints(1, 2, 5, 7)}},
		{name: "Linear2DPytorchHalfPixelToOne", op: "Resize", attrs: at("mode", "linear", "coordinate_transformation_mode", "pytorch_half_pixel"),
			ins: []in{f(2, 1, 4, 3), none, none, ints(2, 1, 1, 6)}},
		{name: "Linear2DHalfPixelMixed", op: "Resize", attrs: at("mode", "linear"),
			ins: []in{f(1, 3, 4, 6), none, kf(1, 1, 1.75, 0.5)}},
		{name: "Linear2DAntialias", op: "Resize", attrs: at("mode", "linear", "antialias", int64(1)),
			ins: []in{f(1, 1, 6, 7), none, kf(1, 1, 0.5, 0.6)}},
		{name: "Cubic2DExcludeOutside", op: "Resize", attrs: at("mode", "cubic", "exclude_outside", int64(1), "cubic_coeff_a", float32(-0.5)),
			ins: []in{f(1, 2, 4, 4), none, kf(1, 1, 1.5, 2)}},
		{name: "TFCropAndResize", op: "Resize", attrs: at("mode", "linear", "coordinate_transformation_mode", "tf_crop_and_resize", "extrapolation_value", float32(0.5)),
			ins: []in{f(1, 1, 4, 5), kf(0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3), none, ints(1, 1, 3, 6)}},
	})
}
