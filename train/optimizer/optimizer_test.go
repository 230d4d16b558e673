package optimizer

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// minimize runs steps updates of var (start value v0) on loss var^2/2,
// whose gradient is var, as the Keras documentation examples do.
func minimize(t *testing.T, o Optimizer, v0 float32, steps int) float32 {
	t.Helper()
	w := tensor.From(tensor.Shape{1}, []float32{v0})
	if err := o.Build([]*tensor.Tensor{w}); err != nil {
		t.Fatal(err)
	}
	for range steps {
		g := tensor.From(tensor.Shape{1}, []float32{w.F32()[0]})
		if err := o.Apply([]*tensor.Tensor{g}); err != nil {
			t.Fatal(err)
		}
	}
	return w.F32()[0]
}

// TestKerasDocExamples uses the usage examples of the Keras optimizer
// documentation (keras.io/api/optimizers).
func TestKerasDocExamples(t *testing.T) {
	cases := []struct {
		name  string
		o     Optimizer
		v0    float32
		steps int
		want  float64
		tol   float64
	}{
		{"SGD", NewSGD(SGD{Options: Options{LearningRate: 0.1}}), 1, 1, 0.9, 1e-7},
		{"SGD momentum 1 step", NewSGD(SGD{Options: Options{LearningRate: 0.1}, Momentum: 0.9}), 1, 1, 0.9, 1e-7},
		{"SGD momentum 2 steps", NewSGD(SGD{Options: Options{LearningRate: 0.1}, Momentum: 0.9}), 1, 2, 0.72, 1e-6}, // m = -0.1, then -0.18
		{"Nadam", NewNadam(Nadam{Options: Options{LearningRate: 0.2}}), 10, 1, 9.8, 0.05},
		{"Adam", NewAdam(Adam{Options: Options{LearningRate: 0.1}}), 1, 1, 0.9, 1e-5},
	}
	for _, c := range cases {
		got := minimize(t, c.o, c.v0, c.steps)
		if math.Abs(float64(got)-c.want) > c.tol {
			t.Errorf("%s: %v, Keras docs %v", c.name, got, c.want)
		}
	}
}

// TestAdamRule checks one Adam step by the Keras formula worked out by
// hand: with m = 0.1 g, v = 0.001 g^2 and t = 1, alpha = lr sqrt(0.001)/0.1,
// the step is lr * g/(|g| + eps/sqrt(0.001)).
func TestAdamRule(t *testing.T) {
	got := minimize(t, NewAdam(Adam{}), 2, 1)
	want := 2 - 0.001*2/(2+1e-7/math.Sqrt(0.001))
	if math.Abs(float64(got)-want) > 1e-7 {
		t.Errorf("Adam: %v, want %v", got, want)
	}
}

func TestClipping(t *testing.T) {
	o := NewSGD(SGD{Options: Options{LearningRate: 1, ClipNorm: 1}})
	w := tensor.From(tensor.Shape{2}, []float32{0, 0})
	o.Build([]*tensor.Tensor{w})
	o.Apply([]*tensor.Tensor{tensor.From(tensor.Shape{2}, []float32{3, 4})})
	if d := w.F32(); math.Abs(float64(d[0])+0.6) > 1e-6 || math.Abs(float64(d[1])+0.8) > 1e-6 {
		t.Errorf("clipnorm: %v, want [-0.6 -0.8]", d)
	}
	o = NewSGD(SGD{Options: Options{LearningRate: 1, ClipValue: 0.5}})
	w = tensor.From(tensor.Shape{2}, []float32{0, 0})
	o.Build([]*tensor.Tensor{w})
	o.Apply([]*tensor.Tensor{tensor.From(tensor.Shape{2}, []float32{3, -0.25})})
	if d := w.F32(); d[0] != -0.5 || d[1] != 0.25 {
		t.Errorf("clipvalue: %v", d)
	}
}

func TestSchedules(t *testing.T) {
	e := ExponentialDecay{0.1, 10, 0.5, true}
	if e.At(25) != 0.025 {
		t.Errorf("ExponentialDecay staircase at 25: %v", e.At(25))
	}
	p := PiecewiseConstantDecay{[]float64{10, 20}, []float64{1, 0.5, 0.1}}
	if p.At(10) != 1 || p.At(11) != 0.5 || p.At(21) != 0.1 {
		t.Error("PiecewiseConstantDecay boundaries")
	}
	c := CosineDecay{InitialLearningRate: 1, DecaySteps: 10}
	if math.Abs(c.At(5)-0.5) > 1e-12 || c.At(20) != 0 {
		t.Errorf("CosineDecay: %v %v", c.At(5), c.At(20))
	}
}

func TestFromConfig(t *testing.T) {
	o, err := FromConfig([]byte(`{"class_name": "Custom>Adam", "config": {"name": "Adam", "learning_rate": 0.0010000000474974513, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false, "jit_compile": false, "is_legacy_optimizer": false, "clipnorm": null}}`))
	if err != nil || o.Name() != "Adam" || o.LearningRate() != 0.0010000000474974513 {
		t.Fatalf("%v %v", o, err)
	}
	o, err = FromConfig([]byte(`{"module": "keras.optimizers", "class_name": "SGD", "config": {"learning_rate": {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}}}}`))
	if err != nil || o.LearningRate() != 0.1 {
		t.Fatalf("schedule: %v %v", o, err)
	}
	if _, err := Get("ftrl"); err == nil {
		t.Error("Ftrl accepted")
	}
}
