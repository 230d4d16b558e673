package metric

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

func f(shape []int, v ...float32) *tensor.Tensor { return tensor.From(tensor.Shape(shape), v) }

// TestKerasDocExamples uses the standalone-usage examples of the Keras
// metrics documentation (keras.io/api/metrics).
func TestKerasDocExamples(t *testing.T) {
	cases := []struct {
		m      Metric
		yt, yp *tensor.Tensor
		want   float64
	}{
		{BinaryAccuracy("a", 0.5), f([]int{4, 1}, 1, 1, 0, 0), f([]int{4, 1}, 0.98, 1, 0, 0.6), 0.75},
		{CategoricalAccuracy("a"), f([]int{2, 3}, 0, 0, 1, 0, 1, 0), f([]int{2, 3}, 0.1, 0.9, 0.8, 0.05, 0.95, 0), 0.5},
		{SparseCategoricalAccuracy("a"), f([]int{2, 1}, 2, 1), f([]int{2, 3}, 0.1, 0.6, 0.3, 0.05, 0.95, 0), 0.5},
		{Precision("p"), f([]int{4}, 0, 1, 1, 1), f([]int{4}, 1, 0, 1, 1), 2.0 / 3},
		{Recall("r"), f([]int{4}, 0, 1, 1, 1), f([]int{4}, 1, 0, 1, 1), 2.0 / 3},
		{AUC("auc"), f([]int{4}, 0, 0, 1, 1), f([]int{4}, 0, 0.5, 0.3, 0.9), 0.75},
		{MeanAbsoluteError("mae"), f([]int{2, 2}, 0, 1, 0, 0), f([]int{2, 2}, 1, 1, 0, 0), 0.25},
		{MeanSquaredError("mse"), f([]int{2, 2}, 0, 1, 0, 0), f([]int{2, 2}, 1, 1, 0, 0), 0.25},
	}
	for _, c := range cases {
		c.m.Reset()
		if err := c.m.Update(c.yt, c.yp, nil); err != nil {
			t.Fatal(err)
		}
		if got := c.m.Result(); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%T %s: %v, Keras docs %v", c.m, c.m.Name(), got, c.want)
		}
	}
}

func TestAccuracyResolution(t *testing.T) {
	for _, c := range []struct {
		yt, yp []int
		want   string
	}{
		{[]int{-1, 1}, []int{-1, 1}, "binary"},
		{[]int{-1}, []int{-1, 10}, "sparse"},
		{[]int{-1, 1}, []int{-1, 10}, "sparse"},
		{[]int{-1, 10}, []int{-1, 10}, "categorical"},
	} {
		m, err := Get("accuracy", c.yt, c.yp)
		if err != nil {
			t.Fatal(err)
		}
		// Tell them apart on a batch where they disagree.
		yp := f([]int{1, 2}, 0.4, 0.6)
		var got string
		switch {
		case c.want == "binary":
			m.Update(f([]int{1, 1}, 1), f([]int{1, 1}, 0.6), nil)
			got = map[bool]string{true: "binary"}[m.Result() == 1]
		case c.want == "sparse":
			m.Update(f([]int{1}, 1), yp, nil)
			got = map[bool]string{true: "sparse"}[m.Result() == 1]
		default:
			m.Update(f([]int{1, 2}, 0, 1), yp, nil)
			got = map[bool]string{true: "categorical"}[m.Result() == 1]
		}
		if got != c.want {
			t.Errorf("accuracy for %v/%v: not %s", c.yt, c.yp, c.want)
		}
	}
}
