package layer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Every expected value below is worked out by hand from Keras's formula
// for the layer (quoted in each layer's doc comment).

func coreIn1(shape Shape, dims []int, v ...float32) []coreIn {
	return []coreIn{{shape: shape, val: coreF(dims, v...)}}
}

func TestActivationLayers(t *testing.T) {
	cases := []struct {
		class, config string
		v             Version
		x, want       []float32
	}{
		{"Activation", `{"name": "a", "activation": "relu"}`, Version{}, []float32{-1, 2}, []float32{0, 2}},
		{"Activation", `{"name": "a", "activation": "linear"}`, Version{}, []float32{-1, 2}, []float32{-1, 2}},
		// Keras 2 hard_sigmoid: clip(0.2x + 0.5, 0, 1)
		{"Activation", `{"name": "a", "activation": "hard_sigmoid"}`, Version{Major: 2}, []float32{1, -5}, []float32{0.7, 0}},
		{"ReLU", `{"name": "r", "max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}`, Version{}, []float32{-1, 3, 8}, []float32{0, 3, 6}},
		// pos = x*(x>1) clipped to [0, 5]; neg = 0.1*relu(1-x); y = pos - neg
		{"ReLU", `{"name": "r", "max_value": 5, "negative_slope": 0.1, "threshold": 1}`, Version{}, []float32{-1, 0.5, 1, 3, 10}, []float32{-0.2, -0.05, 0, 3, 5}},
		{"ReLU", `{"name": "r", "negative_slope": 0.5}`, Version{}, []float32{-2, 2}, []float32{-1, 2}},
		{"LeakyReLU", `{"name": "l", "alpha": 0.1}`, Version{Major: 2}, []float32{-2, 3}, []float32{-0.2, 3}},
		{"LeakyReLU", `{"name": "l", "negative_slope": 0.5}`, Version{Major: 3}, []float32{-2, 3}, []float32{-1, 3}},
		{"LeakyReLU", `{"name": "l"}`, Version{}, []float32{-2, 3}, []float32{-0.6, 3}},
		// alpha*(e^-1 - 1)
		{"ELU", `{"name": "e", "alpha": 2.0}`, Version{}, []float32{-1, 1}, []float32{float32(2 * (math.Exp(-1) - 1)), 1}},
		{"ELU", `{"name": "e"}`, Version{}, []float32{-1, 1}, []float32{float32(math.Exp(-1) - 1), 1}},
		{"ThresholdedReLU", `{"name": "t", "theta": 1.0}`, Version{}, []float32{0.5, 1, 2}, []float32{0, 0, 2}},
		// softmax([0, ln 3]) = [1/4, 3/4]
		{"Softmax", `{"name": "s", "axis": -1}`, Version{}, []float32{0, float32(math.Log(3))}, []float32{0.25, 0.75}},
		{"Dropout", `{"name": "d", "rate": 0.5}`, Version{}, []float32{1, 2}, []float32{1, 2}},
		{"Dropout", `{"name": "d", "p": 0.5}`, Version{Major: 1}, []float32{1, 2}, []float32{1, 2}},
		{"GaussianNoise", `{"name": "g", "stddev": 0.3}`, Version{}, []float32{1, 2}, []float32{1, 2}},
		{"GaussianDropout", `{"name": "g", "rate": 0.3}`, Version{}, []float32{1, 2}, []float32{1, 2}},
		{"AlphaDropout", `{"name": "g", "rate": 0.3}`, Version{}, []float32{1, 2}, []float32{1, 2}},
		{"ActivityRegularization", `{"name": "g", "l1": 0.3}`, Version{}, []float32{1, 2}, []float32{1, 2}},
		{"UnitNormalization", `{"name": "u"}`, Version{}, []float32{3, 4}, []float32{0.6, 0.8}},
		{"Rescaling", `{"name": "r", "scale": 0.5, "offset": -1.0}`, Version{}, []float32{2, 4}, []float32{0, 1}},
	}
	for _, c := range cases {
		t.Run(c.class+c.config, func(t *testing.T) {
			n := len(c.x)
			l := coreNew(t, c.class, c.config, c.v)
			out, _ := coreRunV(t, l, c.v, coreIn1(Shape{-1, n}, []int{1, n}, c.x...))
			coreCheck(t, c.class, out[0], []int{1, n}, c.want...)
		})
	}
}

// coreRunV is coreRun with the builder's Keras version set.
func coreRunV(t *testing.T, l Layer, v Version, ins []coreIn, weights ...[]float32) ([]*tensor.Tensor, []Tensor) {
	t.Helper()
	old := coreTestVersion
	coreTestVersion = v
	defer func() { coreTestVersion = old }()
	return coreRun(t, l, ins, weights...)
}

func TestSpatialDropoutKeepsMask(t *testing.T) {
	for _, c := range []string{"SpatialDropout1D", "Dropout"} {
		l := coreNew(t, c, `{"name": "sd", "rate": 0.2}`)
		out, _ := coreRun(t, l, []coreIn{{shape: Shape{-1, 2, 1}, val: coreF([]int{1, 2, 1}, 5, 6), mask: tensor.From(tensor.Shape{1, 2}, []bool{true, false})}})
		coreCheck(t, c, out[0], []int{1, 2, 1}, 5, 6)
		coreCheckBools(t, c+" mask", out[1], true, false)
	}
}

func TestSoftmaxAxes(t *testing.T) {
	// softmax over axes 1 and 2 of [[0, ln 3], [0, 0]]: exp = [1, 3, 1, 1] / 6
	l := coreNew(t, "Softmax", `{"name": "s", "axis": [1, 2]}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, 0, float32(math.Log(3)), 0, 0))
	coreCheck(t, "Softmax", out[0], []int{1, 2, 2}, 1.0/6, 0.5, 1.0/6, 1.0/6)
}

func TestPReLUSharedAxes(t *testing.T) {
	l := coreNew(t, "PReLU", `{"name": "p", "shared_axes": [1]}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, -1, -2, 3, -4), []float32{0.1, 0.5})
	coreCheck(t, "PReLU", out[0], []int{1, 2, 2}, -0.1, -1, 3, -2)
	if fmt.Sprint(l.Weights()[0].Shape) != "[1 2]" {
		t.Errorf("alpha shape %v, want [1 2]", l.Weights()[0].Shape)
	}
}

func TestFlatten(t *testing.T) {
	// Input [C=2, H=1, W=2] channels_first: c0 = [1, 2], c1 = [3, 4]. Keras
	// moves channels last: (h0, w0) = [1, 3], (h0, w1) = [2, 4].
	l := coreNew(t, "Flatten", `{"name": "f", "data_format": "channels_first"}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2, 1, 2}, []int{1, 2, 1, 2}, 1, 2, 3, 4))
	coreCheck(t, "Flatten channels_first", out[0], []int{1, 4}, 1, 3, 2, 4)
	l = coreNew(t, "Flatten", `{"name": "f"}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 1, 2}, []int{1, 2, 1, 2}, 1, 2, 3, 4))
	coreCheck(t, "Flatten", out[0], []int{1, 4}, 1, 2, 3, 4)
}

func TestReshapePermuteRepeat(t *testing.T) {
	l := coreNew(t, "Reshape", `{"name": "r", "target_shape": [-1, 2]}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 6}, []int{1, 6}, 0, 1, 2, 3, 4, 5))
	coreCheck(t, "Reshape", out[0], []int{1, 3, 2}, 0, 1, 2, 3, 4, 5)

	l = coreNew(t, "Permute", `{"name": "p", "dims": [2, 1]}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 3}, []int{1, 2, 3}, 0, 1, 2, 3, 4, 5))
	coreCheck(t, "Permute", out[0], []int{1, 3, 2}, 0, 3, 1, 4, 2, 5)

	l = coreNew(t, "RepeatVector", `{"name": "rv", "n": 3}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 1, 2))
	coreCheck(t, "RepeatVector", out[0], []int{1, 3, 2}, 1, 2, 1, 2, 1, 2)

	if _, err := coreNew(t, "Reshape", `{"name": "r", "target_shape": [4]}`).Build([]Shape{{-1, 6}}); err == nil {
		t.Error("Reshape of 6 values to 4 did not fail")
	}
}

func TestMasking(t *testing.T) {
	// mask_value 5: a step is kept when any feature differs from 5.
	l := coreNew(t, "Masking", `{"name": "m", "mask_value": 5.0}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 3, 2}, []int{1, 3, 2}, 5, 5, 1, 5, 0, 0))
	coreCheck(t, "Masking", out[0], []int{1, 3, 2}, 0, 0, 1, 5, 0, 0)
	coreCheckBools(t, "Masking mask", out[1], false, true, true)
}

func TestEmbedding(t *testing.T) {
	for _, cfg := range []string{
		`{"name": "e", "input_dim": 3, "output_dim": 2, "mask_zero": true}`,
		// Keras 1 spells it the same, with extra fields.
		`{"name": "e", "input_dim": 3, "output_dim": 2, "mask_zero": true, "init": "uniform", "W_regularizer": null, "dropout": 0.0, "input_length": 3}`,
	} {
		l := coreNew(t, "Embedding", cfg)
		out, _ := coreRun(t, l, coreIn1(Shape{-1, 3}, []int{1, 3}, 2, 0, 1), []float32{0, 0, 1, 2, 3, 4})
		coreCheck(t, "Embedding", out[0], []int{1, 3, 2}, 3, 4, 0, 0, 1, 2)
		coreCheckBools(t, "Embedding mask", out[1], true, false, true)
	}
	l := coreNew(t, "Embedding", `{"name": "e", "input_dim": 3, "output_dim": 2}`)
	_, outs := coreRun(t, l, coreIn1(Shape{-1, 3}, []int{1, 3}, 2, 0, 1), []float32{0, 0, 1, 2, 3, 4})
	if outs[0].Mask != "" {
		t.Error("Embedding without mask_zero made a mask")
	}
}

func TestNormalizationLayer(t *testing.T) {
	// (x - mean) / sqrt(var): (3-1)/2 = 1, (8-2)/3 = 2.
	l := coreNew(t, "Normalization", `{"name": "n", "axis": -1}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 3, 8), []float32{1, 2}, []float32{4, 9}, []float32{0})
	coreCheck(t, "Normalization", out[0], []int{1, 2}, 1, 2)
	// invert: mean + x * sqrt(var)
	l = coreNew(t, "Normalization", `{"name": "n", "axis": [1], "invert": true}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 1, 2), []float32{1, 2}, []float32{4, 9}, []float32{0})
	coreCheck(t, "Normalization invert", out[0], []int{1, 2}, 3, 8)
	// Keras's documented example: mean=3, variance=2 on [1, 2, 3].
	l = coreNew(t, "Normalization", `{"name": "n", "mean": 3.0, "variance": 2.0}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 1}, []int{3, 1}, 1, 2, 3))
	coreCheck(t, "Normalization constants", out[0], []int{3, 1}, -1.4142135, -0.70710677, 0)
	// Per-channel constants on an image, kept axis 3.
	l = coreNew(t, "Normalization", `{"name": "n", "axis": [3], "mean": [1.0, 2.0], "variance": [1.0, 4.0]}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 1, 2, 2}, []int{1, 1, 2, 2}, 1, 2, 3, 6))
	coreCheck(t, "Normalization per channel", out[0], []int{1, 1, 2, 2}, 0, 0, 2, 2)
	// Weights saved in the broadcast shape are accepted.
	l = coreNew(t, "Normalization", `{"name": "n", "axis": -1}`)
	if _, err := l.Build([]Shape{{-1, 2}}); err != nil {
		t.Fatal(err)
	}
	if len(l.Weights()) != 3 || l.Weights()[2].Name != "count" {
		t.Fatalf("weights %v", l.Weights())
	}
}

func TestMergeLayers(t *testing.T) {
	a := coreF([]int{1, 2}, 1, 3)
	b := coreF([]int{1, 2}, 3, 5)
	c := coreF([]int{1, 2}, 2, 0)
	in3 := []coreIn{{shape: Shape{-1, 2}, val: a}, {shape: Shape{-1, 2}, val: b}, {shape: Shape{-1, 2}, val: c}}
	for _, tc := range []struct {
		class string
		n     int
		want  []float32
	}{
		{"Add", 3, []float32{6, 8}},
		{"Subtract", 2, []float32{-2, -2}},
		{"Multiply", 3, []float32{6, 0}},
		{"Average", 2, []float32{2, 4}},
		{"Maximum", 3, []float32{3, 5}},
		{"Minimum", 3, []float32{1, 0}},
	} {
		l := coreNew(t, tc.class, `{"name": "m"}`)
		out, _ := coreRun(t, l, in3[:tc.n])
		coreCheck(t, tc.class, out[0], []int{1, 2}, tc.want...)
	}
	if _, err := coreNew(t, "Subtract", `{"name": "s"}`).Build([]Shape{{-1, 2}, {-1, 2}, {-1, 2}}); err == nil {
		t.Error("Subtract of three inputs did not fail")
	}
	// Masks combine with AND.
	m1 := tensor.From(tensor.Shape{1, 2}, []bool{true, true})
	m2 := tensor.From(tensor.Shape{1, 2}, []bool{false, true})
	l := coreNew(t, "Add", `{"name": "m"}`)
	out, _ := coreRun(t, l, []coreIn{{shape: Shape{-1, 2, 1}, val: coreF([]int{1, 2, 1}, 1, 2), mask: m1}, {shape: Shape{-1, 2, 1}, val: coreF([]int{1, 2, 1}, 1, 2), mask: m2}})
	coreCheck(t, "Add masked", out[0], []int{1, 2, 1}, 2, 4)
	coreCheckBools(t, "Add mask", out[1], false, true)
}

func TestConcatenate(t *testing.T) {
	l := coreNew(t, "Concatenate", `{"name": "c"}`)
	out, _ := coreRun(t, l, []coreIn{{shape: Shape{-1, 2}, val: coreF([]int{1, 2}, 1, 2)}, {shape: Shape{-1, 1}, val: coreF([]int{1, 1}, 3)}})
	coreCheck(t, "Concatenate", out[0], []int{1, 3}, 1, 2, 3)
	// Along time, with a mask on one input: the other's steps are kept.
	l = coreNew(t, "Concatenate", `{"name": "c", "axis": 1}`)
	out, _ = coreRun(t, l, []coreIn{
		{shape: Shape{-1, 2, 1}, val: coreF([]int{1, 2, 1}, 1, 2), mask: tensor.From(tensor.Shape{1, 2}, []bool{false, true})},
		{shape: Shape{-1, 1, 1}, val: coreF([]int{1, 1, 1}, 3)},
	})
	coreCheck(t, "Concatenate time", out[0], []int{1, 3, 1}, 1, 2, 3)
	coreCheckBools(t, "Concatenate mask", out[1], false, true, true)
}

func TestDot(t *testing.T) {
	in := func(x, y []float32, s Shape, dims []int) []coreIn {
		return []coreIn{{shape: s, val: coreF(dims, x...)}, {shape: s, val: coreF(dims, y...)}}
	}
	l := coreNew(t, "Dot", `{"name": "d", "axes": 1}`)
	out, _ := coreRun(t, l, in([]float32{1, 2}, []float32{3, 4}, Shape{-1, 2}, []int{1, 2}))
	coreCheck(t, "Dot", out[0], []int{1, 1}, 11)
	// cosine: [3, 4]·[4, 3] / 25
	l = coreNew(t, "Dot", `{"name": "d", "axes": -1, "normalize": true}`)
	out, _ = coreRun(t, l, in([]float32{3, 4}, []float32{4, 3}, Shape{-1, 2}, []int{1, 2}))
	coreCheck(t, "Dot normalize", out[0], []int{1, 1}, 0.96)
	// out[i][j] = sum_k x[i][k] y[j][k] with x = I: y transposed.
	l = coreNew(t, "Dot", `{"name": "d", "axes": [2, 2]}`)
	out, _ = coreRun(t, l, in([]float32{1, 0, 0, 1}, []float32{1, 2, 3, 4}, Shape{-1, 2, 2}, []int{1, 2, 2}))
	coreCheck(t, "Dot 3D", out[0], []int{1, 2, 2}, 1, 3, 2, 4)
}

func TestKeras1Merge(t *testing.T) {
	x := coreIn{shape: Shape{-1, 2}, val: coreF([]int{1, 2}, 1, 0)}
	y := coreIn{shape: Shape{-1, 2}, val: coreF([]int{1, 2}, 1, 1)}
	for _, tc := range []struct {
		cfg   string
		shape []int
		want  []float32
	}{
		{`{"name": "m", "mode": "sum", "concat_axis": -1, "dot_axes": -1, "mode_type": "raw", "arguments": {}}`, []int{1, 2}, []float32{2, 1}},
		{`{"name": "m", "mode": "concat", "concat_axis": 1}`, []int{1, 4}, []float32{1, 0, 1, 1}},
		{`{"name": "m", "mode": "mul"}`, []int{1, 2}, []float32{1, 0}},
		{`{"name": "m", "mode": "ave"}`, []int{1, 2}, []float32{1, 0.5}},
		{`{"name": "m", "mode": "max"}`, []int{1, 2}, []float32{1, 1}},
		{`{"name": "m", "mode": "dot", "dot_axes": -1}`, []int{1, 1}, []float32{1}},
		// cos: 1 / sqrt(1 * 2)
		{`{"name": "m", "mode": "cos", "dot_axes": [1, 1]}`, []int{1, 1}, []float32{float32(1 / math.Sqrt(2))}},
	} {
		l := coreNew(t, "Merge", tc.cfg, Version{Major: 1})
		out, _ := coreRun(t, l, []coreIn{x, y})
		coreCheck(t, "Merge "+tc.cfg, out[0], tc.shape, tc.want...)
	}
	_, err := New("Merge", json.RawMessage(`{"name": "m", "mode": "lambda_mode"}`), nil)
	coreWantUnsupported(t, err)
	_, err = New("Merge", json.RawMessage(`{"name": "m", "mode": "sum", "layers": [{"class_name": "Sequential", "config": []}]}`), nil)
	coreWantUnsupported(t, err)
}

func TestBatchNormalization(t *testing.T) {
	// (3-1)/sqrt(3+1)*2 + 0 = 2 and (2-0)/sqrt(0+1)*1 + 1 = 3, eps 1.
	l := coreNew(t, "BatchNormalization", `{"name": "bn", "axis": -1, "epsilon": 1.0, "center": true, "scale": true}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 3, 2),
		[]float32{2, 1}, []float32{0, 1}, []float32{1, 0}, []float32{3, 0})
	coreCheck(t, "BatchNormalization", out[0], []int{1, 2}, 2, 3)
	ws := l.Weights()
	if ws[0].Name != "gamma" || ws[1].Name != "beta" || ws[2].Name != "moving_mean" || ws[3].Name != "moving_variance" || ws[2].Trainable {
		t.Errorf("weights %s %s %s %s", ws[0].Name, ws[1].Name, ws[2].Name, ws[3].Name)
	}
	// No gamma or beta; channels_first axis 1 on [C=2, W=2].
	l = coreNew(t, "BatchNormalization", `{"name": "bn", "axis": 1, "epsilon": 0.0, "center": false, "scale": false}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, 1, 3, 10, 14),
		[]float32{1, 10}, []float32{4, 16})
	coreCheck(t, "BatchNormalization axis 1", out[0], []int{1, 2, 2}, 0, 1, 0, 1)
	if len(l.Weights()) != 2 {
		t.Errorf("center/scale false: %d weights", len(l.Weights()))
	}
	// Keras 1 (mode 0) always has gamma and beta.
	l = coreNew(t, "BatchNormalization", `{"name": "bn", "mode": 0, "axis": -1, "epsilon": 0.0, "momentum": 0.99}`, Version{Major: 1})
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 1}, []int{1, 1}, 5), []float32{2}, []float32{1}, []float32{1}, []float32{4})
	coreCheck(t, "BatchNormalization Keras 1", out[0], []int{1, 1}, 5)
	// Some tf.keras files write "scale": 1.
	l = coreNew(t, "BatchNormalization", `{"name": "bn", "axis": [3], "epsilon": 0.001, "center": true, "scale": 1}`)
	if _, err := l.Build([]Shape{{-1, 2, 2, 3}}); err != nil || len(l.Weights()) != 4 || fmt.Sprint(l.Weights()[0].Shape) != "[3]" {
		t.Errorf("scale 1: err %v, %d weights", err, len(l.Weights()))
	}
	_, err := New("BatchNormalization", json.RawMessage(`{"name": "bn", "mode": 2}`), &DecodeContext{Version: Version{Major: 1}})
	coreWantUnsupported(t, err)
}

func TestLayerNormalization(t *testing.T) {
	// [1, 3]: mean 2, var 1 -> [-1, 1] * gamma [2, 3] + beta [1, 1].
	l := coreNew(t, "LayerNormalization", `{"name": "ln", "axis": -1, "epsilon": 0.0}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 1, 3), []float32{2, 3}, []float32{1, 1})
	coreCheck(t, "LayerNormalization", out[0], []int{1, 2}, -1, 4)
	// Axes [2, 1] (out of order): gamma is indexed [w][h].
	l = coreNew(t, "LayerNormalization", `{"name": "ln", "axis": [2, 1], "epsilon": 0.0, "center": false}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, 1, 3, 1, 3), []float32{1, 2, 3, 4})
	coreCheck(t, "LayerNormalization axes [2, 1]", out[0], []int{1, 2, 2}, -1, 3, -2, 4)
	// Axes [1, 2] in order, over the whole sample.
	l = coreNew(t, "LayerNormalization", `{"name": "ln", "axis": [1, 2], "epsilon": 0.0}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, 1, 3, 1, 3), []float32{1, 2, 3, 4}, []float32{0, 0, 0, 1})
	coreCheck(t, "LayerNormalization axes [1, 2]", out[0], []int{1, 2, 2}, -1, 2, -3, 5)
	// Keras 3 rms_scaling: x / sqrt(var) * gamma, var 1.
	l = coreNew(t, "LayerNormalization", `{"name": "ln", "axis": -1, "epsilon": 0.0, "rms_scaling": true}`, Version{Major: 3})
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 1, 3), []float32{2, 1})
	coreCheck(t, "LayerNormalization rms", out[0], []int{1, 2}, 2, 3)
}

func TestGroupNormalization(t *testing.T) {
	// Groups [1, 3] and [10, 14] normalize to [-1, 1] each; gamma [1, 2, 3, 4].
	l := coreNew(t, "GroupNormalization", `{"name": "gn", "groups": 2, "epsilon": 0.0}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 4}, []int{1, 4}, 1, 3, 10, 14), []float32{1, 2, 3, 4}, []float32{0, 0, 0, 0})
	coreCheck(t, "GroupNormalization", out[0], []int{1, 4}, -1, 2, -3, 4)
	// One group over time and channels: [0, 2, 0, 2] -> [-1, 1, -1, 1] + beta.
	l = coreNew(t, "GroupNormalization", `{"name": "gn", "groups": 1, "epsilon": 0.0, "scale": false}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, 0, 2, 0, 2), []float32{1, 0})
	coreCheck(t, "GroupNormalization spatial", out[0], []int{1, 2, 2}, 0, 1, 0, 1)
}

func TestEinsumDense(t *testing.T) {
	// The Dense case: x [[1, 2]], kernel [[1, 0, 1], [0, 1, 1]], bias [1, 1, 1].
	l := coreNew(t, "EinsumDense", `{"name": "ed", "equation": "ab,bc->ac", "output_shape": 3, "bias_axes": "c", "activation": "linear"}`)
	out, _ := coreRun(t, l, coreIn1(Shape{-1, 2}, []int{1, 2}, 1, 2), []float32{1, 0, 1, 0, 1, 1}, []float32{1, 1, 1})
	coreCheck(t, "EinsumDense", out[0], []int{1, 3}, 2, 3, 4)
	// Left-elided: applied per time step, no bias.
	l = coreNew(t, "EinsumDense", `{"name": "ed", "equation": "...b,bc->...c", "output_shape": 1, "bias_axes": null}`)
	out, _ = coreRun(t, l, coreIn1(Shape{-1, 2, 2}, []int{1, 2, 2}, 1, 2, 3, 4), []float32{1, 10})
	coreCheck(t, "EinsumDense ...", out[0], []int{1, 2, 1}, 21, 43)
	// Keras's documented shapes.
	for _, tc := range []struct {
		cfg          string
		in           Shape
		kernel, bias string
		out          string
	}{
		{`{"name": "e", "equation": "abc,cd->abd", "output_shape": [null, 64], "bias_axes": "d"}`, Shape{-1, 32, 128}, "[128 64]", "[64]", "(None, 32, 64)"},
		{`{"name": "e", "equation": "abc,cde->abde", "output_shape": [null, 8, 16], "bias_axes": "de"}`, Shape{-1, 32, 128}, "[128 8 16]", "[8 16]", "(None, 32, 8, 16)"},
		{`{"name": "e", "equation": "ab...,bc->ac...", "output_shape": 5, "bias_axes": "c"}`, Shape{-1, 3, 4}, "[3 5]", "[5 1]", "(None, 5, 4)"},
	} {
		l := coreNew(t, "EinsumDense", tc.cfg)
		shapes, err := l.Build([]Shape{tc.in})
		if err != nil {
			t.Fatal(err)
		}
		ws := l.Weights()
		if fmt.Sprint(ws[0].Shape) != tc.kernel || fmt.Sprint(ws[1].Shape) != tc.bias || shapes[0].String() != tc.out {
			t.Errorf("%s: kernel %v bias %v out %v, want %s %s %s", tc.cfg, ws[0].Shape, ws[1].Shape, shapes[0], tc.kernel, tc.bias, tc.out)
		}
	}
}

func TestRejectedClasses(t *testing.T) {
	for _, c := range []string{"Lambda", "TensorFlowOpLayer", "TFOpLambda", "SlicingOpLambda", "QDense", "QActivation", "QConv2D", "GarNet", "L1Distance", "FixedPointQuantizer"} {
		_, err := New(c, json.RawMessage(`{"name": "x"}`), nil)
		coreWantUnsupported(t, err)
		if !strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), "layer.Register") {
			t.Errorf("%s: error %q does not name the class and the way out", c, err)
		}
	}
	_, err := New("Lambda", json.RawMessage(`{"name": "x"}`), nil)
	if !strings.Contains(err.Error(), "Python code") {
		t.Errorf("Lambda advice: %v", err)
	}
	_, err = New("Activation", json.RawMessage(`{"name": "x", "activation": "binary_tanh"}`), nil)
	coreWantUnsupported(t, err)
}

func TestSharedLayerBuildsOnce(t *testing.T) {
	l := coreNew(t, "Dense", `{"name": "d", "units": 2}`)
	for i := 0; i < 2; i++ {
		if _, err := l.Build([]Shape{{-1, 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Weights()) != 2 {
		t.Errorf("building twice gave %d weights", len(l.Weights()))
	}
}
