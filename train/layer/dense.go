package layer

import (
	"encoding/json"
	"fmt"
)

// Dense is keras.layers.Dense: y = activation(x · kernel + bias), applied to
// the last axis of an input of any rank >= 2. Weights, in Keras's order:
// kernel (in, units) and, with use_bias, bias (units,).
//
// Keras 1 wrote output_dim for units and bias for use_bias (its W and b are
// the same arrays); Keras 1's TimeDistributedDense is defined with the
// TimeDistributed wrapper. Initializers,
// regularizers and constraints only matter for training and are ignored.
// A Keras 3 quantized dtype policy is refused.
type Dense struct {
	Base
	Units      int        `json:"units"`
	Activation Activation `json:"activation"`
	UseBias    coreBool   `json:"use_bias"`
}

func init() {
	Register("Dense", func() Layer { return &Dense{} })
}

// DecodeConfig reads Keras 1, 2 and 3 configs.
func (l *Dense) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Dense
	l.UseBias = true
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	var k1 struct {
		OutputDim *int      `json:"output_dim"`
		Bias      *coreBool `json:"bias"`
	}
	if err := coreDecode(raw, &k1); err != nil {
		return err
	}
	if k1.OutputDim != nil && l.Units == 0 {
		l.Units = *k1.OutputDim
	}
	if k1.Bias != nil {
		l.UseBias = *k1.Bias
	}
	if l.Units <= 0 {
		return fmt.Errorf("units is %d, want a positive number", l.Units)
	}
	if err := l.Activation.Check(); err != nil {
		return err
	}
	return coreCheckDType(raw)
}

// Build creates kernel (in, units) and bias (units,).
func (l *Dense) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if len(x) < 2 || x[len(x)-1] < 0 {
		return nil, coreErr(l, fmt.Errorf("input shape %v needs a known last dimension", x))
	}
	if !l.Built {
		l.AddWeight("kernel", []int{x[len(x)-1], l.Units}, true)
		if l.UseBias {
			l.AddWeight("bias", []int{l.Units}, true)
		}
		l.Built = true
	}
	out := x.Clone()
	out[len(out)-1] = l.Units
	return []Shape{out}, nil
}

// Lower emits MatMul, Add and the activation. The mask passes through.
func (l *Dense) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	y := b.Op("MatMul", nil, x.Name, b.Param(l.W[0]))
	if l.UseBias {
		y = b.Op("Add", nil, y, b.Param(l.W[1]))
	}
	y, err = l.Activation.Lower(b, y)
	if err != nil {
		return nil, coreErr(l, err)
	}
	out := x
	out.Name = y
	out.Shape = x.Shape.Clone()
	out.Shape[len(out.Shape)-1] = l.Units
	return []Tensor{out}, nil
}
