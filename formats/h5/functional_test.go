package h5

import (
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// A functional model built in Go (two inputs, a shared layer, a merge, two
// outputs) saves as .h5 (both dialects) and .keras and reads back with the
// same weights and outputs.
func TestSaveGoFunctionalModel(t *testing.T) {
	a := train.Input("left", layer.Shape{-1, 6})
	b := train.Input("right", layer.Shape{-1, 6})
	shared := layer.MustMake("Dense", layer.Config{"units": 4, "activation": "relu"})
	ha, hb := train.Apply(shared, a), train.Apply(shared, b)
	diff := train.Apply(layer.MustMake("Subtract", nil), ha, hb)
	score := train.Apply(layer.MustMake("Dense", layer.Config{"units": 1, "activation": "sigmoid", "name": "score"}), diff)
	both := train.Apply(layer.MustMake("Concatenate", nil), ha, hb)
	m, err := train.NewFunctional("siamese", []*train.Symbol{a, b}, []*train.Symbol{score, both})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(11)
	x := []*tensor.Tensor{
		tensor.From(tensor.Shape{3, 6}, []float32{1, 2, 3, 4, 5, 6, -1, 0, 1, 0, -1, 0, 0.5, 0.25, 0, 0, 1, 1}),
		tensor.From(tensor.Shape{3, 6}, []float32{6, 5, 4, 3, 2, 1, 0, 0, 0, 1, 1, 1, -2, 2, -2, 2, 0, 1}),
	}
	want, err := m.Predict(x, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		file string
		opts SaveOptions
	}{{"m.keras", SaveOptions{}}, {"m3.h5", SaveOptions{}}, {"m2.h5", SaveOptions{Dialect: train.Keras2}}} {
		path := filepath.Join(dir, c.file)
		if err := Save(m, path, c.opts); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		back, err := Load(path, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if n := len(back.Calls("dense")); n != 2 {
			t.Errorf("%s: the shared layer has %d calls, want 2", c.file, n)
		}
		w0, w1 := m.Weights(), back.Weights()
		if len(w0) != len(w1) {
			t.Fatalf("%s: %d weights, want %d", c.file, len(w1), len(w0))
		}
		for i := range w0 {
			if !sameF32(w0[i].Value, w1[i].Value) {
				t.Errorf("%s: weight %s differs", c.file, w0[i].Name)
			}
		}
		got, err := back.Predict(x, 0)
		if err != nil {
			t.Fatal(err)
		}
		for o := range want {
			if !sameF32(got[o], want[o]) {
				t.Errorf("%s: output %d differs after reloading", c.file, o)
			}
		}
	}
}

func sameF32(a, b *tensor.Tensor) bool {
	if !a.Shape().Equal(b.Shape()) {
		return false
	}
	x, y := a.F32(), b.F32()
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
