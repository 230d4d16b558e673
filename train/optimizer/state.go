package optimizer

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Config returns the optimizer's Keras config: the arguments Keras 3's
// optimizer.get_config() lists (name, learning_rate, weight_decay,
// clipnorm, global_clipnorm, clipvalue, use_ema, ema_momentum,
// ema_overwrite_frequency, loss_scale_factor,
// gradient_accumulation_steps, then the optimizer's own), with a
// schedule serialised as Keras serialises it. FromConfig reads it back.
func Config(o Optimizer, keras3 bool) (map[string]any, error) {
	op, ok := o.(*opt)
	if !ok {
		return nil, fmt.Errorf("optimizer: %s: cannot serialise an optimizer kiln did not create", o.Name())
	}
	opts := op.Opts
	nilIf0 := func(v float64) any {
		if v == 0 {
			return nil
		}
		return v
	}
	c := map[string]any{
		"name":                    strings.ToLower(op.Name()),
		"weight_decay":            nilIf0(opts.WeightDecay),
		"clipnorm":                nilIf0(opts.ClipNorm),
		"global_clipnorm":         nilIf0(opts.GlobalClipNorm),
		"clipvalue":               nilIf0(opts.ClipValue),
		"use_ema":                 false,
		"ema_momentum":            0.99,
		"ema_overwrite_frequency": nil,
	}
	if keras3 {
		c["loss_scale_factor"] = nil
		c["gradient_accumulation_steps"] = nil
	} else {
		c["jit_compile"] = false
		c["is_legacy_optimizer"] = false
	}
	if opts.Schedule != nil {
		s, err := scheduleConfig(opts.Schedule, keras3)
		if err != nil {
			return nil, err
		}
		c["learning_rate"] = s
	} else {
		c["learning_rate"] = opts.LearningRate
	}
	switch r := op.r.(type) {
	case *sgd:
		c["momentum"], c["nesterov"] = r.c.Momentum, r.c.Nesterov
	case *adam:
		c["beta_1"], c["beta_2"], c["epsilon"], c["amsgrad"] = r.c.Beta1, r.c.Beta2, r.c.Epsilon, r.c.AMSGrad
	case *rmsprop:
		c["rho"], c["momentum"], c["epsilon"], c["centered"] = r.c.Rho, r.c.Momentum, r.c.Epsilon, r.c.Centered
	case *adagrad:
		c["initial_accumulator_value"], c["epsilon"] = r.c.InitialAccumulatorValue, r.c.Epsilon
	case *adadelta:
		c["rho"], c["epsilon"] = r.c.Rho, r.c.Epsilon
	case *adamax:
		c["beta_1"], c["beta_2"], c["epsilon"] = r.c.Beta1, r.c.Beta2, r.c.Epsilon
	case *nadam:
		c["beta_1"], c["beta_2"], c["epsilon"] = r.c.Beta1, r.c.Beta2, r.c.Epsilon
	default:
		return nil, fmt.Errorf("optimizer: %s: no config", o.Name())
	}
	return c, nil
}

// Serialize returns the optimizer as Keras writes it: in Keras 3
// {"module": "keras.optimizers", "class_name", "config", "registered_name"},
// in a tf.keras 2 training_config's optimizer_config {"class_name":
// "Custom>Adam", "config"} as tf.keras 2.11 and later write it.
func Serialize(o Optimizer, keras3 bool) (map[string]any, error) {
	c, err := Config(o, keras3)
	if err != nil {
		return nil, err
	}
	if !keras3 {
		// tf.keras 2.11+ registers its optimizers as "Custom>Adam" and
		// names them by class.
		c["name"] = o.Name()
		return map[string]any{"class_name": "Custom>" + o.Name(), "config": c}, nil
	}
	return map[string]any{"module": "keras.optimizers", "class_name": o.Name(), "config": c, "registered_name": nil}, nil
}

func scheduleConfig(s Schedule, keras3 bool) (map[string]any, error) {
	var c map[string]any
	switch v := s.(type) {
	case ExponentialDecay:
		c = map[string]any{"initial_learning_rate": v.InitialLearningRate, "decay_steps": v.DecaySteps, "decay_rate": v.DecayRate, "staircase": v.Staircase}
	case InverseTimeDecay:
		c = map[string]any{"initial_learning_rate": v.InitialLearningRate, "decay_steps": v.DecaySteps, "decay_rate": v.DecayRate, "staircase": v.Staircase}
	case PiecewiseConstantDecay:
		c = map[string]any{"boundaries": v.Boundaries, "values": v.Values}
	case CosineDecay:
		c = map[string]any{"initial_learning_rate": v.InitialLearningRate, "decay_steps": v.DecaySteps, "alpha": v.Alpha, "warmup_target": nil, "warmup_steps": v.WarmupSteps}
		if v.WarmupTarget != 0 {
			c["warmup_target"] = v.WarmupTarget
		}
	default:
		return nil, fmt.Errorf("optimizer: schedule %s cannot be serialised", s.Name())
	}
	c["name"] = s.Name()
	if !keras3 {
		return map[string]any{"class_name": s.Name(), "config": c}, nil
	}
	return map[string]any{"module": "keras.optimizers.schedules", "class_name": s.Name(), "config": c, "registered_name": nil}, nil
}

// Variable is one optimizer variable as Keras lists it in
// optimizer.variables.
type Variable struct {
	// Name is the variable's Keras 3 name: "iteration", "learning_rate",
	// "u_product" (Nadam), or "<weight path with _>_<slot>".
	Name string
	// Var is the index of the weight a slot belongs to (-1 for the
	// optimizer's own variables).
	Var int
	// Value is the variable (int64 scalar for iteration, float32
	// otherwise). For slots it is the optimizer's live tensor.
	Value *tensor.Tensor
}

// Variables returns the state of a built optimizer in Keras 3's
// optimizer.variables order: iteration (int64), learning_rate (float32;
// the current rate when it is a schedule), Nadam's u_product, then the
// slots in Slots() order. Keras 3 saves exactly this list (in a .keras
// archive's optimizer/vars/<i>, and in a legacy .h5 file's
// optimizer_weights) and restores it by position.
func Variables(o Optimizer) []Variable {
	vs := []Variable{
		{Name: "iteration", Var: -1, Value: tensor.FromInt64s(tensor.Shape{}, []int64{o.Iterations()})},
		{Name: "learning_rate", Var: -1, Value: tensor.From(tensor.Shape{}, []float32{float32(o.LearningRate())})},
	}
	if op, ok := o.(*opt); ok {
		if n, ok := op.r.(*nadam); ok {
			vs = append(vs, Variable{Name: "u_product", Var: -1, Value: tensor.From(tensor.Shape{}, []float32{n.uProduct})})
		}
	}
	for _, s := range o.Slots() {
		vs = append(vs, Variable{Name: s.Name, Var: s.Var, Value: s.Value})
	}
	return vs
}

// SetVariables restores the state of a built optimizer from values in
// Variables order. With keras2 the list has no learning_rate (tf.keras
// 2.11+ optimizers list iteration, then their slots). The learning rate is
// restored only when it is a constant. Shapes are checked before anything
// changes; integer and float values are accepted for every variable.
func SetVariables(o Optimizer, vals []*tensor.Tensor, keras2 bool) error {
	want := Variables(o)
	if keras2 {
		want = append(want[:1:1], want[2:]...)
	}
	if len(vals) != len(want) {
		return fmt.Errorf("optimizer: %s has %d variables, the saved state %d", o.Name(), len(want), len(vals))
	}
	for i, w := range want {
		if vals[i] == nil || !vals[i].Shape().Equal(w.Value.Shape()) {
			return fmt.Errorf("optimizer: %s: variable %d (%s) has shape %v, the saved value %v", o.Name(), i, w.Name, w.Value.Shape(), shapeOf(vals[i]))
		}
	}
	for i, w := range want {
		f := vals[i].Float64s()
		switch w.Name {
		case "iteration":
			o.SetIterations(int64(f[0] + 0.5))
		case "learning_rate":
			if o.Options().Schedule == nil && float32(o.LearningRate()) != float32(f[0]) {
				if err := o.SetLearningRate(float64(float32(f[0]))); err != nil {
					return err
				}
			}
		case "u_product":
			o.(*opt).r.(*nadam).uProduct = float32(f[0])
		default:
			d := w.Value.F32()
			for j := range d {
				d[j] = float32(f[j])
			}
		}
	}
	return nil
}

func shapeOf(t *tensor.Tensor) any {
	if t == nil {
		return "missing"
	}
	return t.Shape()
}
