package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ActivationLayer is keras.layers.Activation: applies a named activation
// (see Activation) elementwise. The mask passes through.
type ActivationLayer struct {
	Base
	Activation Activation `json:"activation"`
}

// ReLU is keras.layers.ReLU:
//
//	f(x) = max_value                          for x >= max_value
//	f(x) = x                                  for threshold <= x < max_value
//	f(x) = negative_slope * (x - threshold)   otherwise
//
// max_value null means no upper bound.
type ReLU struct {
	Base
	MaxValue      *float64 `json:"max_value"`
	NegativeSlope float64  `json:"negative_slope"`
	Threshold     float64  `json:"threshold"`
}

// LeakyReLU is keras.layers.LeakyReLU: f(x) = x for x >= 0, slope*x
// otherwise. Keras 1 and 2 call the slope alpha (default 0.3); Keras 3 calls
// it negative_slope (default 0.3) and still reads alpha.
type LeakyReLU struct {
	Base
	Alpha float64 `json:"-"`
}

// PReLU is keras.layers.PReLU: f(x) = x for x >= 0, alpha*x otherwise, with
// a learned alpha of the input's shape without the batch axis, of size 1
// along shared_axes (1-based, as Keras counts them). Weight: alpha.
type PReLU struct {
	Base
	SharedAxes coreAxes `json:"shared_axes"`
}

// ELU is keras.layers.ELU: f(x) = x for x > 0, alpha*(exp(x)-1) otherwise
// (alpha default 1).
type ELU struct {
	Base
	Alpha float64 `json:"alpha"`
}

// ThresholdedReLU is keras.layers.ThresholdedReLU (Keras 2): f(x) = x for
// x > theta, 0 otherwise (theta default 1).
type ThresholdedReLU struct {
	Base
	Theta float64 `json:"theta"`
}

// Softmax is keras.layers.Softmax: exp(x) / sum(exp(x)) along axis (an int
// or, in Keras 3, a list of axes; default -1).
type Softmax struct {
	Base
	Axis coreAxes `json:"axis"`
}

func init() {
	Register("Activation", func() Layer { return &ActivationLayer{} })
	Register("ReLU", func() Layer { return &ReLU{} })
	Register("LeakyReLU", func() Layer { return &LeakyReLU{} })
	Register("PReLU", func() Layer { return &PReLU{} })
	Register("ELU", func() Layer { return &ELU{} })
	Register("ThresholdedReLU", func() Layer { return &ThresholdedReLU{} })
	Register("Softmax", func() Layer { return &Softmax{} })
}

// DecodeConfig checks the activation name.
func (l *ActivationLayer) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain ActivationLayer
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	return l.Activation.Check()
}

// DecodeConfig reads alpha (Keras 1/2) or negative_slope (Keras 3).
func (l *LeakyReLU) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	var c struct {
		Base
		Alpha         *float64 `json:"alpha"`
		NegativeSlope *float64 `json:"negative_slope"`
	}
	if err := coreDecode(raw, &c); err != nil {
		return err
	}
	l.Base = c.Base
	l.Alpha = 0.3
	switch {
	case c.NegativeSlope != nil:
		l.Alpha = *c.NegativeSlope
	case c.Alpha != nil:
		l.Alpha = *c.Alpha
	}
	return nil
}

// DecodeConfig defaults alpha to 1.
func (l *ELU) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain ELU
	l.Alpha = 1
	return coreDecode(raw, (*plain)(l))
}

// DecodeConfig defaults theta to 1.
func (l *ThresholdedReLU) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain ThresholdedReLU
	l.Theta = 1
	return coreDecode(raw, (*plain)(l))
}

// DecodeConfig defaults axis to -1.
func (l *Softmax) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Softmax
	l.Axis = coreAxes{-1}
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if len(l.Axis) == 0 {
		l.Axis = coreAxes{-1}
	}
	return nil
}

// coreSameShape is Build for layers whose output has the input's shape.
func coreSameShape(l Layer, in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	BaseOf(l).Built = true
	return []Shape{x.Clone()}, nil
}

// coreElementwise lowers a same-shape layer by f, keeping the mask.
func coreElementwise(l Layer, in []Tensor, f func(x string) (string, error)) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	y, err := f(x.Name)
	if err != nil {
		return nil, coreErr(l, err)
	}
	out := x
	out.Name = y
	return []Tensor{out}, nil
}

// Build returns the input shape.
func (l *ActivationLayer) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower applies the activation (an Identity node for linear).
func (l *ActivationLayer) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		if l.Activation.IsLinear() {
			return b.Op("Identity", nil, x), nil
		}
		return l.Activation.Lower(b, x)
	})
}

// Build returns the input shape.
func (l *ReLU) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower follows Keras's relu(x, negative_slope, max_value, threshold):
//
//	pos = x * (x > threshold)   (relu(x) when threshold is 0)
//	pos = clip(pos, 0, max_value) when max_value is set
//	y   = pos - negative_slope * relu(threshold - x)
//
// with LeakyRelu for the plain leaky case. At x == threshold this gives 0,
// as Keras computes (its docstring says x).
func (l *ReLU) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		if l.NegativeSlope != 0 && l.MaxValue == nil && l.Threshold == 0 {
			return b.Op("LeakyRelu", graph.Attrs{"alpha": float32(l.NegativeSlope)}, x), nil
		}
		var pos string
		if l.Threshold != 0 {
			th := b.Scalar(float32(l.Threshold))
			pos = b.Op("Mul", nil, x, b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, b.Op("Greater", nil, x, th)))
		} else {
			pos = b.Op("Relu", nil, x)
		}
		if l.MaxValue != nil {
			pos = b.Op("Clip", nil, pos, b.Scalar(0), b.Scalar(float32(*l.MaxValue)))
		}
		if l.NegativeSlope == 0 {
			return pos, nil
		}
		negIn := b.Op("Neg", nil, x)
		if l.Threshold != 0 {
			negIn = b.Op("Add", nil, negIn, b.Scalar(float32(l.Threshold)))
		}
		neg := b.Op("Mul", nil, b.Scalar(float32(l.NegativeSlope)), b.Op("Relu", nil, negIn))
		return b.Op("Sub", nil, pos, neg), nil
	})
}

// Build returns the input shape.
func (l *LeakyReLU) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower emits LeakyRelu.
func (l *LeakyReLU) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		return b.Op("LeakyRelu", graph.Attrs{"alpha": float32(l.Alpha)}, x), nil
	})
}

// Build creates alpha of shape input[1:] with 1 along shared_axes.
func (l *PReLU) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if !l.Built {
		shape := append([]int(nil), x[1:]...)
		for _, a := range l.SharedAxes {
			if a < 1 || a > len(shape) {
				return nil, coreErr(l, fmt.Errorf("shared_axes %v out of range for input %v", []int(l.SharedAxes), x))
			}
			shape[a-1] = 1
		}
		for _, d := range shape {
			if d < 0 {
				return nil, coreErr(l, fmt.Errorf("input %v has an unknown dimension that is not in shared_axes", x))
			}
		}
		l.AddWeight("alpha", shape, true)
		l.Built = true
	}
	return []Shape{x.Clone()}, nil
}

// Lower emits PRelu with alpha broadcast over the batch.
func (l *PReLU) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		return b.Op("PRelu", nil, x, b.Param(l.W[0])), nil
	})
}

// Build returns the input shape.
func (l *ELU) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower emits Elu.
func (l *ELU) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		return b.Op("Elu", graph.Attrs{"alpha": float32(l.Alpha)}, x), nil
	})
}

// Build returns the input shape.
func (l *ThresholdedReLU) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower emits ThresholdedRelu.
func (l *ThresholdedReLU) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		return b.Op("ThresholdedRelu", graph.Attrs{"alpha": float32(l.Theta)}, x), nil
	})
}

// Build returns the input shape.
func (l *Softmax) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if _, err := coreNormAxes(l.Axis, len(x), false); err != nil {
		return nil, coreErr(l, err)
	}
	return coreSameShape(l, in)
}

// Lower emits Softmax for one axis; for several axes it computes
// exp(x - max) / sum(exp(x - max)) over them.
func (l *Softmax) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		axes, err := coreNormAxes(l.Axis, len(in[0].Shape), false)
		if err != nil {
			return "", err
		}
		if len(axes) == 1 {
			return b.Op("Softmax", coreAttrsAxis(axes[0]), x), nil
		}
		ax := b.Ints(coreDims(axes)...)
		m := b.Op("ReduceMax", graph.Attrs{"keepdims": int64(1)}, x, ax)
		e := b.Op("Exp", nil, b.Op("Sub", nil, x, m))
		s := b.Op("ReduceSum", graph.Attrs{"keepdims": int64(1)}, e, ax)
		return b.Op("Div", nil, e, s), nil
	})
}
