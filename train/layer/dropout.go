package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Dropout is keras.layers.Dropout and the other regularization layers that
// are the identity at inference: SpatialDropout1D/2D/3D, GaussianNoise,
// GaussianDropout and AlphaDropout. Each lowers to an Identity node and
// keeps the mask.
//
// When lowering for training, Dropout and SpatialDropout* emit an ONNX
// Dropout node with the rate (SpatialDropout drops whole channels in Keras;
// the node drops elements, so training with SpatialDropout is refused); the
// noise layers, whose training behaviour kiln does not reproduce, refuse to
// lower for training with an error wrapping ErrUnsupported.
type Dropout struct {
	Base
	// Rate is the fraction dropped (Keras 1: p). GaussianNoise's stddev and
	// GaussianDropout's rate are read into it as well.
	Rate float64 `json:"rate"`
}

func init() {
	for _, c := range []string{"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
		"GaussianNoise", "GaussianDropout", "AlphaDropout"} {
		Register(c, func() Layer { return &Dropout{} })
	}
	Register("ActivityRegularization", func() Layer { return &ActivityRegularization{} })
}

// ActivityRegularization is keras.layers.ActivityRegularization: the
// identity, whose output gets the activity regularizer L1L2(l1, l2), so
// training adds l1*sum|x| + l2*sum(x^2) of its output to the loss.
type ActivityRegularization struct {
	Base
	L1 float64 `json:"l1"`
	L2 float64 `json:"l2"`
}

// Build returns the input shape and sets the activity regularizer.
func (l *ActivityRegularization) Build(in []Shape) ([]Shape, error) {
	l.Activity = json.RawMessage(fmt.Sprintf(`{"class_name": "L1L2", "config": {"l1": %v, "l2": %v}}`, l.L1, l.L2))
	return coreSameShape(l, in)
}

// Lower is the identity; the penalty is added by the model.
func (l *ActivityRegularization) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	return []Tensor{coreIdentity(b, x)}, nil
}

// Build returns the input shape.
func (l *Dropout) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower is the identity at inference.
func (l *Dropout) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	if b.Training {
		if l.Class() == "Dropout" && l.Rate == 0 {
			return []Tensor{coreIdentity(b, x)}, nil
		}
		if l.Class() == "Dropout" {
			out := x
			out.Name = b.Op("Dropout", nil, x.Name, b.Scalar(float32(l.Rate)), b.Const(tensor.Scalar(true)))
			return []Tensor{out}, nil
		}
		return nil, coreUnsupported(l, "%s in training mode", l.Class())
	}
	return []Tensor{coreIdentity(b, x)}, nil
}

// DecodeConfig reads rate, Keras 1's p, or GaussianNoise's stddev.
func (l *Dropout) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	var c struct {
		Base
		Rate   *float64 `json:"rate"`
		P      *float64 `json:"p"`
		Stddev *float64 `json:"stddev"`
	}
	if err := coreDecode(raw, &c); err != nil {
		return err
	}
	l.Base = c.Base
	for _, v := range []*float64{c.Rate, c.P, c.Stddev} {
		if v != nil {
			l.Rate = *v
			break
		}
	}
	return nil
}
