package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Rescaling is keras.layers.Rescaling: y = x * scale + offset (each a number
// or, in Keras 3, a list broadcast against the trailing axes). Integer
// inputs are cast to float32 first, as Keras casts to the compute dtype.
type Rescaling struct {
	Base
	Scale  json.RawMessage `json:"scale"`
	Offset json.RawMessage `json:"offset"`
}

// Normalization is keras.layers.Normalization (tf.keras 2.x's
// preprocessing.Normalization and Keras 3):
//
//	y = (x - mean) / max(sqrt(variance), 1e-7)      (invert: mean + x * that)
//
// with mean and variance per position of the kept axes (axis: an int, a
// list, or null for one global mean). When the config gives mean and
// variance they are constants (aligned right to left to the kept axes, as
// Keras 3 does and numpy broadcasting gives in tf.keras); otherwise they
// are weights, in Keras's order mean, variance (the kept axes' sizes) and
// count (a scalar kiln does not use). Weights saved with the broadcast
// shape instead are accepted, as only their sizes must agree.
type Normalization struct {
	Base
	Axis     json.RawMessage `json:"axis"`
	Mean     json.RawMessage `json:"mean"`
	Variance json.RawMessage `json:"variance"`
	Invert   coreBool        `json:"invert"`
}

// axisList parses axis (-1 when absent, none for null).
func (l *Normalization) axisList() ([]int, error) {
	if len(l.Axis) == 0 {
		return []int{-1}, nil
	}
	var a coreAxes
	if err := json.Unmarshal(l.Axis, &a); err != nil {
		return nil, err
	}
	return a, nil
}

func init() {
	Register("Rescaling", func() Layer { return &Rescaling{} })
	Register("Normalization", func() Layer { return &Normalization{} })
}

// coreJSONArray parses a number or nested lists of numbers into a shape and
// row-major values; ok is false for null or absent.
func coreJSONArray(raw json.RawMessage) (shape []int, vals []float32, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, false, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, nil, false, err
	}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		switch x := v.(type) {
		case float64:
			if depth != len(shape) {
				return fmt.Errorf("ragged array %s", truncate(string(raw)))
			}
			vals = append(vals, float32(x))
		case []any:
			if depth == len(shape) {
				if len(vals) > 0 {
					return fmt.Errorf("ragged array %s", truncate(string(raw)))
				}
				shape = append(shape, len(x))
			} else if depth > len(shape) || shape[depth] != len(x) {
				return fmt.Errorf("ragged array %s", truncate(string(raw)))
			}
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("want numbers, got %s", truncate(string(raw)))
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return nil, nil, false, err
	}
	return shape, vals, true, nil
}

// DecodeConfig defaults scale to 1 and offset to 0.
func (l *Rescaling) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Rescaling
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	for _, f := range []json.RawMessage{l.Scale, l.Offset} {
		if _, _, _, err := coreJSONArray(f); err != nil {
			return err
		}
	}
	return nil
}

// Build returns the input shape.
func (l *Rescaling) Build(in []Shape) ([]Shape, error) { return coreSameShape(l, in) }

// Lower emits Mul and Add.
func (l *Rescaling) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	v := x.Name
	if x.DType != tensor.Float32 {
		v = b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, v)
	}
	if shape, vals, ok, _ := coreJSONArray(l.Scale); ok {
		v = b.Op("Mul", nil, v, coreFloats(b, shape, vals))
	}
	if shape, vals, ok, _ := coreJSONArray(l.Offset); ok {
		allZero := true
		for _, f := range vals {
			allZero = allZero && f == 0
		}
		if !allZero {
			v = b.Op("Add", nil, v, coreFloats(b, shape, vals))
		}
	}
	out := x
	out.Name, out.DType = v, tensor.Float32
	return []Tensor{out}, nil
}

// DecodeConfig reads axis and checks mean and variance.
func (l *Normalization) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Normalization
	l.Axis = json.RawMessage("-1")
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if _, err := l.axisList(); err != nil {
		return err
	}
	ms, _, mok, err := coreJSONArray(l.Mean)
	if err != nil {
		return fmt.Errorf("mean: %w", err)
	}
	vs, _, vok, err := coreJSONArray(l.Variance)
	if err != nil {
		return fmt.Errorf("variance: %w", err)
	}
	if mok != vok || fmt.Sprint(ms) != fmt.Sprint(vs) {
		return fmt.Errorf("mean and variance must both be given, with the same shape")
	}
	return nil
}

// Build creates mean, variance and count unless the config gives them.
func (l *Normalization) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	axes, err := l.axisList()
	if err != nil {
		return nil, coreErr(l, err)
	}
	keep, err := coreNormAxes(axes, len(x), true)
	if err != nil {
		return nil, coreErr(l, err)
	}
	var shape []int
	for _, a := range keep {
		if x[a] < 0 {
			return nil, coreErr(l, fmt.Errorf("kept axis %d of input %v is unknown", a, x))
		}
		shape = append(shape, x[a])
	}
	if !l.Built {
		if _, _, ok, _ := coreJSONArray(l.Mean); !ok {
			l.AddWeight("mean", shape, false)
			l.AddWeight("variance", shape, false)
			c := l.AddWeight("count", []int{}, false)
			c.Value = tensor.New(tensor.Int64)
		}
		l.Built = true
	}
	return []Shape{x.Clone()}, nil
}

// Lower emits (x - mean) / max(sqrt(variance), 1e-7) or its inverse.
func (l *Normalization) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	axes, err := l.axisList()
	if err != nil {
		return nil, coreErr(l, err)
	}
	keep, err := coreNormAxes(axes, len(x.Shape), true)
	if err != nil {
		return nil, coreErr(l, err)
	}
	bshape := coreBroadcastShape(x.Shape, keep)
	var mean, variance string
	if ms, mv, ok, _ := coreJSONArray(l.Mean); ok {
		_, vv, _, _ := coreJSONArray(l.Variance)
		exp := make([]int, len(x.Shape))
		for i := range exp {
			exp[i] = 1
		}
		if len(ms) > len(keep) {
			return nil, coreErr(l, fmt.Errorf("mean has rank %d but only %d axes are kept", len(ms), len(keep)))
		}
		for i := 1; i <= len(ms); i++ {
			exp[keep[len(keep)-i]] = ms[len(ms)-i]
		}
		mean = coreFloats(b, exp, mv)
		variance = coreFloats(b, exp, vv)
	} else {
		if len(l.W) < 2 || l.W[0].Value.Len() != coreSize(bshape) || l.W[1].Value.Len() != coreSize(bshape) {
			return nil, coreErr(l, fmt.Errorf("mean/variance weights do not match the kept axes %v of input %v", keep, x.Shape))
		}
		mean = coreReshapeTo(b, b.Param(l.W[0]), bshape)
		variance = coreReshapeTo(b, b.Param(l.W[1]), bshape)
	}
	v := x.Name
	if x.DType != tensor.Float32 {
		v = b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, v)
	}
	den := b.Op("Max", nil, b.Op("Sqrt", nil, variance), b.Scalar(1e-7))
	if l.Invert {
		v = b.Op("Add", nil, mean, b.Op("Mul", nil, v, den))
	} else {
		v = b.Op("Div", nil, b.Op("Sub", nil, v, mean), den)
	}
	out := x
	out.Name, out.DType = v, tensor.Float32
	return []Tensor{out}, nil
}
