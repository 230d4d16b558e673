package optimizer

import (
	"fmt"
	"math"
)

// Schedule is a Keras learning-rate schedule: the rate at a step (the
// optimizer's iterations before the update).
type Schedule interface {
	Name() string
	At(step int64) float64
}

// ExponentialDecay is keras.optimizers.schedules.ExponentialDecay:
// lr * rate^(step/decay_steps), the exponent floored when Staircase.
type ExponentialDecay struct {
	InitialLearningRate float64
	DecaySteps          float64
	DecayRate           float64
	Staircase           bool
}

func (s ExponentialDecay) Name() string { return "ExponentialDecay" }

// At returns the rate at step.
func (s ExponentialDecay) At(step int64) float64 {
	p := float64(step) / s.DecaySteps
	if s.Staircase {
		p = math.Floor(p)
	}
	return s.InitialLearningRate * math.Pow(s.DecayRate, p)
}

// InverseTimeDecay is keras.optimizers.schedules.InverseTimeDecay:
// lr / (1 + rate * step/decay_steps), the ratio floored when Staircase.
type InverseTimeDecay struct {
	InitialLearningRate float64
	DecaySteps          float64
	DecayRate           float64
	Staircase           bool
}

func (s InverseTimeDecay) Name() string { return "InverseTimeDecay" }

// At returns the rate at step.
func (s InverseTimeDecay) At(step int64) float64 {
	p := float64(step) / s.DecaySteps
	if s.Staircase {
		p = math.Floor(p)
	}
	return s.InitialLearningRate / (1 + s.DecayRate*p)
}

// PiecewiseConstantDecay is keras.optimizers.schedules.PiecewiseConstantDecay:
// Values[0] while step <= Boundaries[0], Values[i] while
// Boundaries[i-1] < step <= Boundaries[i], and the last value after.
type PiecewiseConstantDecay struct {
	Boundaries []float64
	Values     []float64
}

func (s PiecewiseConstantDecay) Name() string { return "PiecewiseConstantDecay" }

// At returns the rate at step.
func (s PiecewiseConstantDecay) At(step int64) float64 {
	x := float64(step)
	for i, b := range s.Boundaries {
		if x <= b {
			return s.Values[i]
		}
	}
	return s.Values[len(s.Values)-1]
}

// CosineDecay is keras.optimizers.schedules.CosineDecay: with optional
// linear warmup from the initial rate to WarmupTarget over WarmupSteps,
// then lr * ((1 - Alpha) * 0.5 (1 + cos(pi min(s, D)/D)) + Alpha), where lr
// is WarmupTarget when warming up and s counts from the warmup's end.
type CosineDecay struct {
	InitialLearningRate float64
	DecaySteps          float64
	Alpha               float64
	WarmupTarget        float64 // 0: no warmup
	WarmupSteps         float64
}

func (s CosineDecay) Name() string { return "CosineDecay" }

// At returns the rate at step.
func (s CosineDecay) At(step int64) float64 {
	x := float64(step)
	lr := s.InitialLearningRate
	if s.WarmupTarget != 0 {
		if x < s.WarmupSteps {
			return s.InitialLearningRate + (s.WarmupTarget-s.InitialLearningRate)*x/s.WarmupSteps
		}
		lr = s.WarmupTarget
		x -= s.WarmupSteps
	}
	x = math.Min(x, s.DecaySteps)
	cos := 0.5 * (1 + math.Cos(math.Pi*x/s.DecaySteps))
	return lr * ((1-s.Alpha)*cos + s.Alpha)
}

func checkSchedule(s Schedule) error {
	switch v := s.(type) {
	case PiecewiseConstantDecay:
		if len(v.Values) != len(v.Boundaries)+1 {
			return fmt.Errorf("optimizer: PiecewiseConstantDecay has %d boundaries and %d values; it needs one value more than boundaries", len(v.Boundaries), len(v.Values))
		}
	case ExponentialDecay:
		if v.DecaySteps <= 0 {
			return fmt.Errorf("optimizer: ExponentialDecay decay_steps must be positive")
		}
	case InverseTimeDecay:
		if v.DecaySteps <= 0 {
			return fmt.Errorf("optimizer: InverseTimeDecay decay_steps must be positive")
		}
	case CosineDecay:
		if v.DecaySteps <= 0 {
			return fmt.Errorf("optimizer: CosineDecay decay_steps must be positive")
		}
	}
	return nil
}
