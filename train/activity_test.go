package train_test

import (
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

// Activity regularizers add their penalty on the layer's output to the
// loss, as Keras 3 does (not divided by the batch size), both from a
// layer's activity_regularizer and from an ActivityRegularization layer.
func TestActivityRegularizerLoss(t *testing.T) {
	x := tensor.From(tensor.Shape{2, 2}, []float32{1, 2, -1, 0.5})
	y := tensor.From(tensor.Shape{2, 2}, []float32{0, 1, 1, 0})
	for _, c := range []struct {
		name   string
		layers []layer.Layer
		l1, l2 float64
	}{
		{"Dense activity_regularizer", []layer.Layer{layer.MustMake("Dense", layer.Config{"units": 2, "use_bias": false,
			"activity_regularizer": map[string]any{"class_name": "L2", "config": map[string]any{"l2": 0.1}}})}, 0, 0.1},
		{"ActivityRegularization", []layer.Layer{layer.MustMake("Dense", layer.Config{"units": 2, "use_bias": false}),
			layer.MustMake("ActivityRegularization", layer.Config{"l1": 0.05, "l2": 0.02})}, 0.05, 0.02},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := train.NewSequential("m", layer.Shape{-1, 2}, c.layers...)
			if err != nil {
				t.Fatal(err)
			}
			w := m.Layers()[0].Weights()[0].Value.F32()
			copy(w, []float32{0.5, -1, 2, 0.25})
			if err := m.Compile(optimizer.NewSGD(optimizer.SGD{}), loss.MeanSquaredError(), nil); err != nil {
				t.Fatal(err)
			}
			logs, err := m.TestOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil)
			if err != nil {
				t.Fatal(err)
			}
			// out = x W; loss = mean over rows of the row MSE + penalty.
			var mse, a1, a2 float64
			xs, ys := x.F32(), y.F32()
			for r := range 2 {
				for j := range 2 {
					o := float64(xs[r*2])*float64(w[j]) + float64(xs[r*2+1])*float64(w[2+j])
					d := o - float64(ys[r*2+j])
					mse += d * d / 4
					a1 += math.Abs(o)
					a2 += o * o
				}
			}
			want := mse + c.l1*a1 + c.l2*a2
			if got := logs["loss"]; math.Abs(got-want) > 1e-5*want {
				t.Errorf("loss %v, want %v", got, want)
			}
			cfg, err := m.KerasConfig(train.Keras3)
			if err != nil {
				t.Fatal(err)
			}
			back, err := train.FromKerasConfig(cfg, layer.Version{Major: 3})
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range back.Layers() {
				if got, want := string(layer.BaseOf(l).Activity) != "", len(layer.BaseOf(m.Layers()[i]).Activity) > 0; got != want {
					t.Errorf("layer %s: activity regularizer lost in the config round trip:\n%s", l.Name(), cfg)
				}
			}
			if strings.Count(string(cfg), "activity_regularizer") > 1 {
				t.Errorf("config repeats activity_regularizer:\n%s", cfg)
			}
		})
	}
}

// Plain metrics ignore sample weights and weighted_metrics use them, as in
// Keras; a name in both is reported as weighted_<name>.
func TestWeightedMetrics(t *testing.T) {
	m, err := train.NewSequential("m", layer.Shape{-1, 2}, layer.MustMake("Dense", layer.Config{"units": 2, "use_bias": false}))
	if err != nil {
		t.Fatal(err)
	}
	copy(m.Layers()[0].Weights()[0].Value.F32(), []float32{1, 0, 0, 1}) // identity: predicts x
	if err := m.Compile(optimizer.NewSGD(optimizer.SGD{}), loss.MeanSquaredError(), []string{"accuracy"},
		train.CompileOptions{WeightedMetrics: []string{"accuracy", "mae"}}); err != nil {
		t.Fatal(err)
	}
	x := tensor.From(tensor.Shape{4, 2}, []float32{1, 0, 0, 1, 1, 0, 0, 1})
	y := tensor.From(tensor.Shape{4, 2}, []float32{1, 0, 0, 1, 0, 1, 1, 0})
	logs, err := m.TestOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, []float32{1, 1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.MetricsNames(), " "); got != "loss accuracy weighted_accuracy mae" {
		t.Errorf("metric names %q", got)
	}
	for k, want := range map[string]float64{"accuracy": 0.5, "weighted_accuracy": 1, "mae": 0} {
		if got, ok := logs[k]; !ok || math.Abs(got-want) > 1e-6 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	cfg, err := m.CompileConfig(train.Keras3)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `"weighted_metrics":["accuracy","mae"]`) {
		t.Errorf("compile config lacks the weighted metrics: %s", cfg)
	}
}
