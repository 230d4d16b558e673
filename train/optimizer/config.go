package optimizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnknown marks an optimizer or schedule class kiln does not implement.
var ErrUnknown = errors.New("unknown optimizer")

// Get returns an optimizer with Keras's defaults by its Keras name
// ("adam", "Adam", "sgd", "rmsprop", ...).
func Get(name string) (Optimizer, error) {
	return FromConfig(json.RawMessage(fmt.Sprintf(`{"class_name": %q, "config": {}}`, name)))
}

// FromConfig decodes an optimizer as Keras serialises it: a name; a Keras 2
// training_config optimizer_config {"class_name": "Custom>Adam", "config":
// {...}} (tf.keras 2.11/2.12's registered names, legacy "lr" and "decay"
// included; decay d becomes InverseTimeDecay(lr, 1, d)); or a Keras 3
// compile_config optimizer {"module": "keras.optimizers", "class_name":
// "Adam", "config": {...}} whose learning_rate may be a serialised schedule.
// use_ema and gradient accumulation are refused; loss_scale_factor is
// ignored.
func FromConfig(raw json.RawMessage) (Optimizer, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		raw = json.RawMessage(fmt.Sprintf(`{"class_name": %q, "config": {}}`, name))
	}
	var obj struct {
		ClassName string                     `json:"class_name"`
		Config    map[string]json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("optimizer: config: %w", err)
	}
	cls := obj.ClassName
	cls = strings.TrimPrefix(cls, "Custom>")
	cls = strings.TrimPrefix(cls, "keras.optimizers.")
	cfg := obj.Config
	num := func(key string, d float64) (float64, error) {
		v, ok := cfg[key]
		if !ok || string(v) == "null" {
			return d, nil
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return 0, fmt.Errorf("optimizer: %s: %s: %s is not a number", cls, key, v)
		}
		return f, nil
	}
	flag := func(key string) bool {
		var b bool
		json.Unmarshal(cfg[key], &b)
		return b
	}
	var o Options
	var err error
	var firstErr error
	get := func(key string, d float64) float64 {
		f, e := num(key, d)
		if e != nil && firstErr == nil {
			firstErr = e
		}
		return f
	}
	if flag("use_ema") {
		return nil, fmt.Errorf("optimizer: %s with use_ema: %w", cls, ErrUnknown)
	}
	if get("gradient_accumulation_steps", 0) > 1 {
		return nil, fmt.Errorf("optimizer: %s with gradient_accumulation_steps: %w", cls, ErrUnknown)
	}
	lrRaw, ok := cfg["learning_rate"]
	if !ok {
		lrRaw = cfg["lr"]
	}
	if len(lrRaw) > 0 && lrRaw[0] == '{' {
		if o.Schedule, err = ScheduleFromConfig(lrRaw); err != nil {
			return nil, err
		}
	} else if len(lrRaw) > 0 && string(lrRaw) != "null" {
		if err := json.Unmarshal(lrRaw, &o.LearningRate); err != nil {
			return nil, fmt.Errorf("optimizer: %s: learning_rate %s: %w", cls, lrRaw, err)
		}
	}
	o.ClipNorm = get("clipnorm", 0)
	o.ClipValue = get("clipvalue", 0)
	o.GlobalClipNorm = get("global_clipnorm", 0)
	o.WeightDecay = get("weight_decay", 0)
	if d := get("decay", 0); d != 0 && o.Schedule == nil {
		lr := o.LearningRate
		o.Schedule = InverseTimeDecay{InitialLearningRate: lr, DecaySteps: 1, DecayRate: d}
	}
	var opt Optimizer
	switch strings.ToLower(cls) {
	case "sgd":
		opt = NewSGD(SGD{Options: o, Momentum: get("momentum", 0), Nesterov: flag("nesterov")})
	case "adam":
		opt = NewAdam(Adam{Options: o, Beta1: get("beta_1", 0.9), Beta2: get("beta_2", 0.999), Epsilon: get("epsilon", 1e-7), AMSGrad: flag("amsgrad")})
	case "adamw":
		o.WeightDecay = get("weight_decay", 0.004)
		opt = NewAdamW(Adam{Options: o, Beta1: get("beta_1", 0.9), Beta2: get("beta_2", 0.999), Epsilon: get("epsilon", 1e-7), AMSGrad: flag("amsgrad")})
	case "rmsprop":
		rho := get("rho", 0.9)
		opt = NewRMSprop(RMSprop{Options: o, Rho: rho, ZeroRho: rho == 0, Momentum: get("momentum", 0), Epsilon: get("epsilon", 1e-7), Centered: flag("centered")})
	case "adagrad":
		opt = NewAdagrad(Adagrad{Options: o, InitialAccumulatorValue: get("initial_accumulator_value", 0.1), Epsilon: get("epsilon", 1e-7)})
	case "adadelta":
		opt = NewAdadelta(Adadelta{Options: o, Rho: get("rho", 0.95), Epsilon: get("epsilon", 1e-7)})
	case "adamax":
		opt = NewAdamax(Adamax{Options: o, Beta1: get("beta_1", 0.9), Beta2: get("beta_2", 0.999), Epsilon: get("epsilon", 1e-7)})
	case "nadam":
		opt = NewNadam(Nadam{Options: o, Beta1: get("beta_1", 0.9), Beta2: get("beta_2", 0.999), Epsilon: get("epsilon", 1e-7)})
	default:
		return nil, fmt.Errorf("optimizer: class %q: %w (kiln implements SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam)", obj.ClassName, ErrUnknown)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return opt, nil
}

// ScheduleFromConfig decodes a serialised learning-rate schedule
// ({"class_name": "ExponentialDecay", "config": {...}}, Keras 2 or 3).
func ScheduleFromConfig(raw json.RawMessage) (Schedule, error) {
	var obj struct {
		ClassName string `json:"class_name"`
		Config    struct {
			InitialLearningRate float64   `json:"initial_learning_rate"`
			DecaySteps          float64   `json:"decay_steps"`
			DecayRate           float64   `json:"decay_rate"`
			Staircase           bool      `json:"staircase"`
			Boundaries          []float64 `json:"boundaries"`
			Values              []float64 `json:"values"`
			Alpha               float64   `json:"alpha"`
			WarmupTarget        *float64  `json:"warmup_target"`
			WarmupSteps         float64   `json:"warmup_steps"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("optimizer: schedule: %w", err)
	}
	c := obj.Config
	var s Schedule
	switch strings.TrimPrefix(obj.ClassName, "Custom>") {
	case "ExponentialDecay":
		s = ExponentialDecay{c.InitialLearningRate, c.DecaySteps, c.DecayRate, c.Staircase}
	case "InverseTimeDecay":
		s = InverseTimeDecay{c.InitialLearningRate, c.DecaySteps, c.DecayRate, c.Staircase}
	case "PiecewiseConstantDecay":
		s = PiecewiseConstantDecay{c.Boundaries, c.Values}
	case "CosineDecay":
		cd := CosineDecay{InitialLearningRate: c.InitialLearningRate, DecaySteps: c.DecaySteps, Alpha: c.Alpha, WarmupSteps: c.WarmupSteps}
		if c.WarmupTarget != nil {
			cd.WarmupTarget = *c.WarmupTarget
		}
		s = cd
	default:
		return nil, fmt.Errorf("optimizer: learning-rate schedule %q: %w", obj.ClassName, ErrUnknown)
	}
	return s, checkSchedule(s)
}
