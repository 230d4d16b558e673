package train_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

// twoTower is a functional model with two inputs, a layer shared between
// them, a merge layer and two outputs.
func twoTower(t *testing.T) (*train.Model, layer.Layer) {
	t.Helper()
	a := train.Input("a", layer.Shape{-1, 4})
	b := train.Input("b", layer.Shape{-1, 4})
	shared := layer.MustMake("Dense", layer.Config{"units": 3, "activation": "tanh"})
	ha, hb := train.Apply(shared, a), train.Apply(shared, b)
	cat := train.Apply(layer.MustMake("Concatenate", nil), ha, hb)
	y1 := train.Apply(layer.MustMake("Dense", layer.Config{"units": 2}), cat)
	y2 := train.Apply(layer.MustMake("Add", nil), ha, hb)
	if got := y2.Shape(); got.String() != (layer.Shape{-1, 3}).String() {
		t.Fatalf("Add output shape %v, want [-1 3]", got)
	}
	m, err := train.NewFunctional("towers", []*train.Symbol{a, b}, []*train.Symbol{y1, y2})
	if err != nil {
		t.Fatal(err)
	}
	return m, shared
}

func TestFunctionalSharedLayerMultiIO(t *testing.T) {
	m, shared := twoTower(t)
	var names []string
	for _, l := range m.Layers() {
		names = append(names, l.Name())
	}
	if got, want := strings.Join(names, " "), "a b dense concatenate dense_1 add"; got != want {
		t.Errorf("layers %q, want %q", got, want)
	}
	if n := len(m.Calls(shared.Name())); n != 2 {
		t.Errorf("shared layer has %d calls, want 2", n)
	}
	// 4*3+3 shared, 6*2+2 head: the shared weights count once.
	if n := m.CountParams(); n != 15+14 {
		t.Errorf("%d params, want 29", n)
	}
	m.InitWeights(3)
	xa := tensor.From(tensor.Shape{2, 4}, []float32{1, 0, -1, 2, 0.5, 0.5, 0.5, 0.5})
	xb := tensor.From(tensor.Shape{2, 4}, []float32{0, 1, 0, -1, 2, -2, 1, 0})
	out, err := m.Predict([]*tensor.Tensor{xa, xb}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Output 2 is tanh(xa W + c) + tanh(xb W + c), computed here from the
	// shared weights.
	w, c := shared.Weights()[0].Value.F32(), shared.Weights()[1].Value.F32()
	dense := func(x []float32, r int) []float64 {
		h := make([]float64, 3)
		for j := range 3 {
			s := float64(c[j])
			for i := range 4 {
				s += float64(x[r*4+i]) * float64(w[i*3+j])
			}
			h[j] = math.Tanh(s)
		}
		return h
	}
	got := out[1].F32()
	for r := range 2 {
		ha, hb := dense(xa.F32(), r), dense(xb.F32(), r)
		for j := range 3 {
			if d := math.Abs(float64(got[r*3+j]) - (ha[j] + hb[j])); d > 1e-6 {
				t.Fatalf("output 2 [%d,%d] = %v, want %v", r, j, got[r*3+j], ha[j]+hb[j])
			}
		}
	}
	// Training updates the shared weights through both calls and both
	// outputs.
	if err := m.Compile(optimizer.NewSGD(optimizer.SGD{Options: optimizer.Options{LearningRate: 0.1}}), loss.MeanSquaredError(), nil); err != nil {
		t.Fatal(err)
	}
	y1 := tensor.From(tensor.Shape{2, 2}, []float32{1, -1, 0, 0.5})
	y2 := tensor.From(tensor.Shape{2, 3}, []float32{0.5, 0, -0.5, 1, 0, 0})
	first, err := m.TrainOnBatch([]*tensor.Tensor{xa, xb}, []*tensor.Tensor{y1, y2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var last train.Logs
	for range 30 {
		if last, err = m.TrainOnBatch([]*tensor.Tensor{xa, xb}, []*tensor.Tensor{y1, y2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !(last["loss"] < first["loss"]/2) {
		t.Errorf("loss %v after 30 steps, %v at first", last["loss"], first["loss"])
	}
}

// The model writes a Keras 3 config that reads back to the same model.
func TestFunctionalConfigRoundTrip(t *testing.T) {
	m, _ := twoTower(t)
	m.InitWeights(5)
	cfg, err := m.KerasConfig(train.Keras3)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"class_name":"Functional"`, `"class_name":"Concatenate"`, `"input_layers":[["a",0,0],["b",0,0]]`, `"output_layers":[["dense_1",0,0],["add",0,0]]`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
	back, err := train.FromKerasConfig(cfg, layer.Version{Major: 3})
	if err != nil {
		t.Fatal(err)
	}
	src, dst := m.Weights(), back.Weights()
	if len(src) != len(dst) {
		t.Fatalf("%d weights after reading the config back, want %d", len(dst), len(src))
	}
	for i := range src {
		dst[i].Value.CopyFrom(src[i].Value)
	}
	x := []*tensor.Tensor{tensor.From(tensor.Shape{1, 4}, []float32{1, 2, 3, 4}), tensor.From(tensor.Shape{1, 4}, []float32{-1, 0, 1, 0})}
	a, err := m.Predict(x, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := back.Predict(x, 0)
	if err != nil {
		t.Fatal(err)
	}
	for o := range a {
		for i, v := range a[o].F32() {
			if b[o].F32()[i] != v {
				t.Fatalf("output %d differs after the round trip", o)
			}
		}
	}
}

func TestFunctionalErrors(t *testing.T) {
	x := train.Input("x", layer.Shape{-1, 4, 4, 1})
	other := train.Input("other", layer.Shape{-1, 3})
	dense := train.Apply(layer.MustMake("Dense", layer.Config{"units": 2, "name": "fc"}), other)
	bad := train.Apply(layer.MustMake("Concatenate", layer.Config{"name": "cat"}), x, dense)
	cases := []struct {
		name    string
		in, out []*train.Symbol
		want    string
	}{
		{"shapes", []*train.Symbol{x, other}, []*train.Symbol{bad}, `layer "cat" (Concatenate)`},
		{"disconnected", []*train.Symbol{x}, []*train.Symbol{dense}, `depends on input "other"`},
		{"no outputs", []*train.Symbol{x}, nil, "at least one input and one output"},
		{"input not from Input", []*train.Symbol{dense}, []*train.Symbol{dense}, "not a symbol made by Input"},
	}
	for _, c := range cases {
		_, err := train.NewFunctional("m", c.in, c.out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %s", c.name, err, c.want)
		}
	}
	if err := bad.Err(); err == nil {
		t.Error("the symbol of a failed call has no error")
	}
	// Two layers may not share a name.
	a := train.Input("a", layer.Shape{-1, 3})
	h := train.Apply(layer.MustMake("Dense", layer.Config{"units": 3, "name": "d"}), a)
	h = train.Apply(layer.MustMake("Dense", layer.Config{"units": 3, "name": "d"}), h)
	if _, err := train.NewFunctional("m", []*train.Symbol{a}, []*train.Symbol{h}); err == nil || !strings.Contains(err.Error(), `two layers named "d"`) {
		t.Errorf("duplicate names: %v", err)
	}
	if _, err := layer.Make("NoSuchLayer", nil); !errors.Is(err, layer.ErrUnsupported) {
		t.Errorf("unknown class: %v", err)
	}
}

// Unnamed layers take Keras's default names.
func TestDefaultLayerNames(t *testing.T) {
	m, err := train.NewSequential("", layer.Shape{-1, 8, 8, 1},
		layer.MustMake("Conv2D", layer.Config{"filters": 2, "kernel_size": 3}),
		layer.MustMake("MaxPooling2D", nil),
		layer.MustMake("ReLU", nil),
		layer.MustMake("Conv2D", layer.Config{"filters": 2, "kernel_size": 1}),
		layer.MustMake("GlobalAveragePooling2D", nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range m.Layers() {
		names = append(names, l.Name())
	}
	if got, want := strings.Join(names, " "), "conv2d max_pooling2d re_lu conv2d_1 global_average_pooling2d"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
}
