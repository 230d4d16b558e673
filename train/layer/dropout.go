package layer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Dropout is keras.layers.Dropout and the other regularization layers that
// are the identity at inference: SpatialDropout1D/2D/3D, GaussianNoise,
// GaussianDropout and AlphaDropout. Each lowers to an Identity node at
// inference and keeps the mask.
//
// In training, as Keras does:
//   - Dropout: an ONNX Dropout node with the rate; with noise_shape, one
//     uniform draw per element of the noise shape (its None entries take
//     the input's size), kept where the draw is >= rate and scaled by
//     1/(1-rate), broadcast over the input.
//   - SpatialDropout1D/2D/3D: the same with whole channels dropped (the
//     noise shape is batch and channels, 1 for the spatial axes).
//   - GaussianNoise: x + N(0, stddev^2) noise.
//   - GaussianDropout: x * N(1, rate/(1-rate)) noise.
//   - AlphaDropout: dropped elements set to alpha' = -scale*alpha of SELU,
//     then a*x + b with a = ((1-rate)(1+rate*alpha'^2))^-1/2 and
//     b = -a*alpha'*rate, which keeps SELU's mean and variance.
//
// The draws are not seeded by the layer's seed (the runtime's generator is
// used), so training runs are not repeatable draw for draw.
type Dropout struct {
	Base
	// Rate is the fraction dropped (Keras 1: p). GaussianNoise's stddev and
	// GaussianDropout's rate are read into it as well.
	Rate float64 `json:"rate"`
	// NoiseShape is Dropout's and AlphaDropout's noise_shape (-1 for None;
	// nil: the input's shape).
	NoiseShape []int `json:"-"`
	// ChannelsFirst is SpatialDropout's data_format.
	ChannelsFirst bool `json:"-"`
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
	if !b.Training || l.Rate == 0 {
		return []Tensor{coreIdentity(b, x)}, nil
	}
	if x.DType != tensor.Float32 && x.DType != tensor.Undefined {
		return nil, coreUnsupported(l, "%s in training mode on %s data", l.Class(), x.DType)
	}
	out := x
	switch l.Class() {
	case "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D":
		if l.Rate < 0 || l.Rate >= 1 {
			return nil, fmt.Errorf("%s layer %q: rate %g: want a value in [0, 1)", l.Class(), l.Name(), l.Rate)
		}
		keepAll, err := l.noiseAxes(x)
		if err != nil {
			return nil, err
		}
		if l.Class() == "Dropout" && keepAll {
			out.Name = b.Op("Dropout", nil, x.Name, b.Scalar(float32(l.Rate)), b.Const(tensor.Scalar(true)))
			return []Tensor{out}, nil
		}
		u := b.Op("RandomUniformLike", nil, l.noiseTensor(b, x))
		mask := b.Op("Where", nil, b.Op("GreaterOrEqual", nil, u, b.Scalar(float32(l.Rate))), b.Scalar(float32(1/(1-l.Rate))), b.Scalar(0))
		out.Name = b.Op("Mul", nil, x.Name, mask)
	case "GaussianNoise":
		noise := b.Op("RandomNormalLike", graph.Attrs{"mean": float32(0), "scale": float32(l.Rate)}, x.Name)
		out.Name = b.Op("Add", nil, x.Name, noise)
	case "GaussianDropout":
		if l.Rate < 0 || l.Rate >= 1 {
			return nil, fmt.Errorf("GaussianDropout layer %q: rate %g: want a value in [0, 1)", l.Name(), l.Rate)
		}
		noise := b.Op("RandomNormalLike", graph.Attrs{"mean": float32(1), "scale": float32(math.Sqrt(l.Rate / (1 - l.Rate)))}, x.Name)
		out.Name = b.Op("Mul", nil, x.Name, noise)
	case "AlphaDropout":
		if l.Rate < 0 || l.Rate >= 1 {
			return nil, fmt.Errorf("AlphaDropout layer %q: rate %g: want a value in [0, 1)", l.Name(), l.Rate)
		}
		if _, err := l.noiseAxes(x); err != nil {
			return nil, err
		}
		const alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
		alphaP := -alpha * scale
		a := math.Pow((1-l.Rate)*(1+l.Rate*alphaP*alphaP), -0.5)
		bias := -a * alphaP * l.Rate
		u := b.Op("RandomUniformLike", nil, l.noiseTensor(b, x))
		kept := b.Op("Where", nil, b.Op("GreaterOrEqual", nil, u, b.Scalar(float32(l.Rate))), x.Name, b.Scalar(float32(alphaP)))
		out.Name = b.Op("Add", nil, b.Op("Mul", nil, kept, b.Scalar(float32(a))), b.Scalar(float32(bias)))
	default:
		return nil, coreUnsupported(l, "%s in training mode", l.Class())
	}
	return []Tensor{out}, nil
}

// spatialAxes are the axes a SpatialDropout layer draws one value for
// (all but batch and channels); nil for other classes.
func (l *Dropout) spatialAxes(rank int) []int64 {
	if !strings.HasPrefix(l.Class(), "SpatialDropout") {
		return nil
	}
	var axes []int64
	first, last := 1, rank-2
	if l.ChannelsFirst {
		first, last = 2, rank-1
	}
	for a := first; a <= last; a++ {
		axes = append(axes, int64(a))
	}
	return axes
}

// noiseAxes checks the noise shape against the input and reports whether
// it draws for every element.
func (l *Dropout) noiseAxes(x Tensor) (bool, error) {
	if strings.HasPrefix(l.Class(), "SpatialDropout") {
		return false, nil
	}
	if l.NoiseShape == nil {
		return true, nil
	}
	if len(l.NoiseShape) != len(x.Shape) {
		return false, fmt.Errorf("%s layer %q: noise_shape %v does not match the input's rank %d", l.Class(), l.Name(), l.NoiseShape, len(x.Shape))
	}
	all := true
	for i, d := range l.NoiseShape {
		switch {
		case d < 0 || d == x.Shape[i]:
		case d == 1:
			all = false
		default:
			return false, fmt.Errorf("%s layer %q: noise_shape %v: dimension %d must be None, 1 or the input's %d", l.Class(), l.Name(), l.NoiseShape, i, x.Shape[i])
		}
	}
	return all, nil
}

// noiseTensor returns a value shaped like the noise: the input, sliced to
// its first element along the axes the noise does not vary over.
func (l *Dropout) noiseTensor(b *Builder, x Tensor) string {
	axes := l.spatialAxes(len(x.Shape))
	for i, d := range l.NoiseShape {
		if d == 1 && (i >= len(x.Shape) || x.Shape[i] != 1) {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) == 0 {
		return x.Name
	}
	zeros, ones := make([]int64, len(axes)), make([]int64, len(axes))
	for i := range ones {
		ones[i] = 1
	}
	return b.Op("Slice", nil, x.Name, b.Ints(zeros...), b.Ints(ones...), b.Ints(axes...))
}

// DecodeConfig reads rate, Keras 1's p, or GaussianNoise's stddev.
func (l *Dropout) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	var c struct {
		Base
		Rate       *float64 `json:"rate"`
		P          *float64 `json:"p"`
		Stddev     *float64 `json:"stddev"`
		NoiseShape []*int   `json:"noise_shape"`
		DataFormat string   `json:"data_format"`
	}
	if err := coreDecode(raw, &c); err != nil {
		return err
	}
	l.Base = c.Base
	if c.NoiseShape != nil {
		l.NoiseShape = make([]int, len(c.NoiseShape))
		for i, d := range c.NoiseShape {
			l.NoiseShape[i] = -1
			if d != nil {
				l.NoiseShape[i] = *d
			}
		}
	}
	switch c.DataFormat {
	case "", "channels_last":
	case "channels_first":
		l.ChannelsFirst = true
	default:
		return fmt.Errorf("data_format %q: want channels_last or channels_first: %w", c.DataFormat, ErrUnsupported)
	}
	for _, v := range []*float64{c.Rate, c.P, c.Stddev} {
		if v != nil {
			l.Rate = *v
			break
		}
	}
	return nil
}

// MarshalJSON writes the layer's Keras config: rate (GaussianNoise:
// stddev), noise_shape and SpatialDropout's data_format.
func (l *Dropout) MarshalJSON() ([]byte, error) {
	m := map[string]any{"name": l.LayerName}
	if l.Trainable_ != nil {
		m["trainable"] = *l.Trainable_
	}
	key := "rate"
	if l.Class() == "GaussianNoise" {
		key = "stddev"
	}
	m[key] = l.Rate
	if l.NoiseShape != nil {
		ns := make([]any, len(l.NoiseShape))
		for i, d := range l.NoiseShape {
			if d >= 0 {
				ns[i] = d
			}
		}
		m["noise_shape"] = ns
	}
	if strings.HasPrefix(l.Class(), "SpatialDropout") {
		m["data_format"] = "channels_last"
		if l.ChannelsFirst {
			m["data_format"] = "channels_first"
		}
	}
	return json.Marshal(m)
}
