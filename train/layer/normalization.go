package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
)

// BatchNormalization is keras.layers.BatchNormalization at inference:
//
//	y = (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta
//
// over the channel axis (or axes: tf.keras accepts a list). Weights, in
// Keras's order: gamma (if scale), beta (if center), moving_mean,
// moving_variance, each of the channel axis's size (for several axes,
// tf.keras uses the input's rank with 1 off the axes). Keras 1 always has
// gamma and beta and calls the last two running_mean and running_std
// (which holds the variance); its modes 1 and 2 (per-sample normalization)
// are refused. epsilon defaults to 1e-3. tf.keras's renorm is refused.
//
// Lowering for training (Builder.Training) a trainable layer normalizes
// with the batch mean and the biased batch variance over every axis but the
// channel axes, and records the moving-statistics updates in
// Builder.Updates as Keras 3 computes them:
// moving = moving*momentum + stat*(1 - momentum) (momentum defaults to
// 0.99). A frozen layer (trainable false) runs in inference mode, as in
// Keras 3 (tf.keras 1.x and 2.0 differ; the Keras 2.1+ and 3 rule is kept).
type BatchNormalization struct {
	Base
	Axis     coreAxes `json:"axis"`
	Epsilon  float64  `json:"epsilon"`
	Momentum float64  `json:"momentum"`
	Center   coreBool `json:"center"`
	Scale    coreBool `json:"scale"`
	Mode     int      `json:"mode"`
	Renorm   coreBool `json:"renorm"`
}

// LayerNormalization is keras.layers.LayerNormalization: per sample,
// normalize over axis (an int or list; default -1) with the (population)
// mean and variance, then scale by gamma (scale) and shift by beta (center):
// y = (x - mean) / sqrt(var + epsilon) * gamma + beta. Weights gamma and beta
// have the sizes of the normalized axes. Keras 3's rms_scaling computes
// x / sqrt(var + epsilon) * gamma (Keras's own formula, with the variance,
// not the mean square) and has only gamma. epsilon defaults to 1e-3.
type LayerNormalization struct {
	Base
	Axis       coreAxes `json:"axis"`
	Epsilon    float64  `json:"epsilon"`
	Center     coreBool `json:"center"`
	Scale      coreBool `json:"scale"`
	RMSScaling coreBool `json:"rms_scaling"`
}

// GroupNormalization is keras.layers.GroupNormalization: the channels of
// axis (default -1) are split into groups (default 32) and each sample's
// group is normalized over its channels and every non-batch axis, then gamma
// and beta (per channel) apply. epsilon defaults to 1e-3.
type GroupNormalization struct {
	Base
	Groups  int      `json:"groups"`
	Axis    int      `json:"axis"`
	Epsilon float64  `json:"epsilon"`
	Center  coreBool `json:"center"`
	Scale   coreBool `json:"scale"`
}

// UnitNormalization is keras.layers.UnitNormalization: x / ||x||_2 over
// axis (int or list, default -1), as tf.math.l2_normalize computes it:
// x / sqrt(max(sum(x^2), 1e-12)).
type UnitNormalization struct {
	Base
	Axis coreAxes `json:"axis"`
}

func init() {
	Register("BatchNormalization", func() Layer { return &BatchNormalization{} })
	Register("LayerNormalization", func() Layer { return &LayerNormalization{} })
	Register("GroupNormalization", func() Layer { return &GroupNormalization{} })
	Register("UnitNormalization", func() Layer { return &UnitNormalization{} })
}

// DecodeConfig applies Keras's defaults and refuses Keras 1 modes 1 and 2.
func (l *BatchNormalization) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain BatchNormalization
	l.Axis, l.Epsilon, l.Center, l.Scale, l.Momentum = coreAxes{-1}, 1e-3, true, true, 0.99
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if len(l.Axis) == 0 {
		l.Axis = coreAxes{-1}
	}
	if coreVersion(ctx).Major == 1 {
		l.Center, l.Scale = true, true
	}
	if l.Mode != 0 {
		return fmt.Errorf("mode %d (Keras 1 per-sample batch normalization): only mode 0 is supported: %w", l.Mode, ErrUnsupported)
	}
	if l.Renorm {
		return fmt.Errorf("renorm: %w", ErrUnsupported)
	}
	return nil
}

// Build creates gamma, beta, moving_mean and moving_variance.
func (l *BatchNormalization) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	axes, err := coreNormAxes(l.Axis, len(x), false)
	if err != nil {
		return nil, coreErr(l, err)
	}
	for _, a := range axes {
		if x[a] < 0 {
			return nil, coreErr(l, fmt.Errorf("axis %d of input %v is unknown", a, x))
		}
	}
	if !l.Built {
		shape := []int{x[axes[0]]}
		if len(axes) > 1 {
			shape = coreBroadcastShape(x, axes)
		}
		if l.Scale {
			l.AddWeight("gamma", shape, true)
		}
		if l.Center {
			l.AddWeight("beta", shape, true)
		}
		l.AddWeight("moving_mean", shape, false)
		l.AddWeight("moving_variance", shape, false)
		l.Built = true
	}
	return []Shape{x.Clone()}, nil
}

// Lower emits inv = gamma / sqrt(var + eps); y = x*inv + (beta - mean*inv),
// the form Keras's backends use, on the weights (so they stay params).
func (l *BatchNormalization) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	axes, err := coreNormAxes(l.Axis, len(x.Shape), false)
	if err != nil {
		return nil, coreErr(l, err)
	}
	if b.Training && l.Trainable() {
		return l.lowerTraining(b, x, axes)
	}
	i := 0
	var gamma, beta string
	if l.Scale {
		gamma = coreBroadcastParam(b, l.W[i], x.Shape, axes)
		i++
	}
	if l.Center {
		beta = coreBroadcastParam(b, l.W[i], x.Shape, axes)
		i++
	}
	mean := coreBroadcastParam(b, l.W[i], x.Shape, axes)
	variance := coreBroadcastParam(b, l.W[i+1], x.Shape, axes)
	inv := b.Op("Reciprocal", nil, b.Op("Sqrt", nil, b.Op("Add", nil, variance, b.Scalar(float32(l.Epsilon)))))
	if gamma != "" {
		inv = b.Op("Mul", nil, inv, gamma)
	}
	shift := b.Op("Neg", nil, b.Op("Mul", nil, mean, inv))
	if beta != "" {
		shift = b.Op("Add", nil, shift, beta)
	}
	out := x
	out.Name = b.Op("Add", nil, b.Op("Mul", nil, x.Name, inv), shift)
	return []Tensor{out}, nil
}

// lowerTraining normalizes with the batch statistics and records the
// moving-statistics updates.
func (l *BatchNormalization) lowerTraining(b *Builder, x Tensor, axes []int) ([]Tensor, error) {
	var red []int64
	for i := range x.Shape {
		keep := false
		for _, a := range axes {
			keep = keep || a == i
		}
		if !keep {
			red = append(red, int64(i))
		}
	}
	kd := graph.Attrs{"keepdims": int64(1)}
	ra := b.Ints(red...)
	mean := b.Op("ReduceMean", kd, x.Name, ra)
	d := b.Op("Sub", nil, x.Name, mean)
	variance := b.Op("ReduceMean", kd, b.Op("Mul", nil, d, d), ra)
	inv := b.Op("Reciprocal", nil, b.Op("Sqrt", nil, b.Op("Add", nil, variance, b.Scalar(float32(l.Epsilon)))))
	i := 0
	if l.Scale {
		inv = b.Op("Mul", nil, inv, coreBroadcastParam(b, l.W[i], x.Shape, axes))
		i++
	}
	shift := b.Op("Neg", nil, b.Op("Mul", nil, mean, inv))
	if l.Center {
		shift = b.Op("Add", nil, shift, coreBroadcastParam(b, l.W[i], x.Shape, axes))
		i++
	}
	out := x
	out.Name = b.Op("Add", nil, b.Op("Mul", nil, x.Name, inv), shift)
	mom := float32(l.Momentum)
	for j, stat := range []string{mean, variance} {
		w := l.W[i+j]
		s := coreReshapeTo(b, stat, w.Shape)
		nv := b.Op("Add", nil, b.Op("Mul", nil, b.Param(w), b.Scalar(mom)), b.Op("Mul", nil, s, b.Scalar(1-mom)))
		b.Updates = append(b.Updates, Update{Weight: w, Value: nv})
	}
	return []Tensor{out}, nil
}

// DecodeConfig applies Keras's defaults.
func (l *LayerNormalization) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain LayerNormalization
	l.Axis, l.Epsilon, l.Center, l.Scale = coreAxes{-1}, 1e-3, true, true
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if len(l.Axis) == 0 {
		l.Axis = coreAxes{-1}
	}
	return nil
}

// Build creates gamma and beta over the normalized axes.
func (l *LayerNormalization) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if !l.Built {
		var shape []int
		for _, a := range l.Axis {
			if a < 0 {
				a += len(x)
			}
			if a < 1 || a >= len(x) || x[a] < 0 {
				return nil, coreErr(l, fmt.Errorf("axis %v does not name known non-batch axes of input %v", []int(l.Axis), x))
			}
			shape = append(shape, x[a])
		}
		if l.Scale || l.RMSScaling {
			l.AddWeight("gamma", shape, true)
		}
		if l.Center && !l.RMSScaling {
			l.AddWeight("beta", shape, true)
		}
		l.Built = true
	}
	return []Shape{x.Clone()}, nil
}

// Lower emits ONNX LayerNormalization when the axes are the trailing ones
// in order and gamma exists, and reductions otherwise.
func (l *LayerNormalization) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	axes, err := coreNormAxes(l.Axis, r, false)
	if err != nil {
		return nil, coreErr(l, err)
	}
	ordered := len(axes) == len(l.Axis)
	for i, a := range l.Axis {
		if a < 0 {
			a += r
		}
		ordered = ordered && a == axes[i]
	}
	var gamma, beta *Weight
	i := 0
	if l.Scale || l.RMSScaling {
		gamma = l.W[i]
		i++
	}
	if l.Center && !l.RMSScaling {
		beta = l.W[i]
	}
	// bcast gives a weight the input's rank when the axes are not trailing
	// in order (Keras reshapes the same way).
	bcast := func(w *Weight) string {
		p := b.Param(w)
		if ordered && coreIsTrailing(axes, r) {
			return p
		}
		if !ordered {
			// Weight dims follow l.Axis's order; move them to sorted order.
			perm := make([]int64, len(axes))
			for j, a := range axes {
				for k, c := range l.Axis {
					if c < 0 {
						c += r
					}
					if c == a {
						perm[j] = int64(k)
					}
				}
			}
			p = b.Op("Transpose", graph.Attrs{"perm": perm}, p)
		}
		return coreReshapeTo(b, p, coreBroadcastShape(x.Shape, axes))
	}
	out := x
	if !bool(l.RMSScaling) && gamma != nil && ordered && coreIsTrailing(axes, r) {
		ins := []string{x.Name, b.Param(gamma)}
		if beta != nil {
			ins = append(ins, b.Param(beta))
		}
		out.Name = b.Op("LayerNormalization", graph.Attrs{"axis": int64(axes[0]), "epsilon": float32(l.Epsilon)}, ins...)
		return []Tensor{out}, nil
	}
	kd := graph.Attrs{"keepdims": int64(1)}
	ax := b.Ints(coreDims(axes)...)
	mean := b.Op("ReduceMean", kd, x.Name, ax)
	d := b.Op("Sub", nil, x.Name, mean)
	variance := b.Op("ReduceMean", kd, b.Op("Mul", nil, d, d), ax)
	inv := b.Op("Reciprocal", nil, b.Op("Sqrt", nil, b.Op("Add", nil, variance, b.Scalar(float32(l.Epsilon)))))
	var y string
	if l.RMSScaling {
		y = b.Op("Mul", nil, x.Name, inv)
	} else {
		y = b.Op("Mul", nil, d, inv)
	}
	if gamma != nil {
		y = b.Op("Mul", nil, y, bcast(gamma))
	}
	if beta != nil {
		y = b.Op("Add", nil, y, bcast(beta))
	}
	out.Name = y
	return []Tensor{out}, nil
}

// DecodeConfig applies Keras's defaults.
func (l *GroupNormalization) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain GroupNormalization
	l.Groups, l.Axis, l.Epsilon, l.Center, l.Scale = 32, -1, 1e-3, true, true
	return coreDecode(raw, (*plain)(l))
}

// Build creates gamma and beta of the channel count.
func (l *GroupNormalization) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	axes, err := coreNormAxes([]int{l.Axis}, len(x), false)
	if err != nil {
		return nil, coreErr(l, err)
	}
	c := x[axes[0]]
	if c < 0 || l.Groups < 1 || c%l.Groups != 0 {
		return nil, coreErr(l, fmt.Errorf("%d channels (axis %d of %v) do not split into %d groups", c, l.Axis, x, l.Groups))
	}
	if !l.Built {
		if l.Scale {
			l.AddWeight("gamma", []int{c}, true)
		}
		if l.Center {
			l.AddWeight("beta", []int{c}, true)
		}
		l.Built = true
	}
	return []Shape{x.Clone()}, nil
}

// Lower reshapes the channel axis into (groups, channels/groups), takes
// mean and variance over every axis but the batch and group axes,
// normalizes, reshapes back and applies gamma and beta.
func (l *GroupNormalization) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	axes, err := coreNormAxes([]int{l.Axis}, r, false)
	if err != nil {
		return nil, coreErr(l, err)
	}
	a := axes[0]
	spec := []int64{0}
	unknown := 0
	for i := 1; i < r; i++ {
		d := int64(x.Shape[i])
		if i == a {
			spec = append(spec, int64(l.Groups), d/int64(l.Groups))
			continue
		}
		if d < 0 {
			unknown++
		}
		spec = append(spec, d)
	}
	if unknown > 1 {
		return nil, coreUnsupported(l, "input %v has more than one unknown non-batch dimension", x.Shape)
	}
	var red []int64
	for i := 1; i <= r; i++ {
		if i != a {
			red = append(red, int64(i))
		}
	}
	g := b.Op("Reshape", nil, x.Name, b.Ints(spec...))
	kd := graph.Attrs{"keepdims": int64(1)}
	ax := b.Ints(red...)
	mean := b.Op("ReduceMean", kd, g, ax)
	d := b.Op("Sub", nil, g, mean)
	variance := b.Op("ReduceMean", kd, b.Op("Mul", nil, d, d), ax)
	inv := b.Op("Reciprocal", nil, b.Op("Sqrt", nil, b.Op("Add", nil, variance, b.Scalar(float32(l.Epsilon)))))
	y := b.Op("Reshape", nil, b.Op("Mul", nil, d, inv), b.Op("Shape", nil, x.Name))
	i := 0
	if l.Scale {
		y = b.Op("Mul", nil, y, coreBroadcastParam(b, l.W[i], x.Shape, axes))
		i++
	}
	if l.Center {
		y = b.Op("Add", nil, y, coreBroadcastParam(b, l.W[i], x.Shape, axes))
	}
	out := x
	out.Name = y
	return []Tensor{out}, nil
}

// DecodeConfig defaults axis to -1.
func (l *UnitNormalization) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain UnitNormalization
	l.Axis = coreAxes{-1}
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if len(l.Axis) == 0 {
		l.Axis = coreAxes{-1}
	}
	return nil
}

// Build returns the input shape.
func (l *UnitNormalization) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if _, err := coreNormAxes(l.Axis, len(x), false); err != nil {
		return nil, coreErr(l, err)
	}
	return coreSameShape(l, in)
}

// Lower emits the L2 normalization.
func (l *UnitNormalization) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return coreElementwise(l, in, func(x string) (string, error) {
		axes, err := coreNormAxes(l.Axis, len(in[0].Shape), false)
		if err != nil {
			return "", err
		}
		return coreL2Normalize(b, x, coreDims(axes)), nil
	})
}
