package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TimeDistributed is keras.layers.TimeDistributed: it applies its layer to
// every step of a [batch, time, ...] input by folding time into the batch
// ([batch·time, ...]), running the layer and unfolding its outputs back to
// [batch, time, ...]. The input mask passes through to the output. Its
// weights are the wrapped layer's (under layer/ in a .keras file).
type TimeDistributed struct {
	Base
	LayerCfg json.RawMessage `json:"layer"`
	// Inner is the wrapped layer.
	Inner Layer `json:"-"`
}

func init() {
	Register("TimeDistributed", func() Layer { return &TimeDistributed{} })
}

// DecodeConfig reads the wrapper and its layer.
func (l *TimeDistributed) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	if len(l.LayerCfg) == 0 {
		return fmt.Errorf("missing layer")
	}
	inner, err := rnnNested(l.LayerCfg, ctx)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	l.Inner = inner
	return nil
}

// Build builds the wrapped layer on one step's shape.
func (l *TimeDistributed) Build(in []Shape) ([]Shape, error) {
	if l.Inner == nil {
		return nil, fmt.Errorf("TimeDistributed %q: no wrapped layer", l.Name())
	}
	var steps []Shape
	for _, s := range in {
		if len(s) < 3 {
			return nil, fmt.Errorf("TimeDistributed %q: input shape %s needs at least 3 dimensions (batch, time, ...)", l.Name(), s)
		}
		steps = append(steps, append(Shape{-1}, s[2:]...))
	}
	outs, err := l.Inner.Build(steps)
	if err != nil {
		return nil, fmt.Errorf("TimeDistributed %q: %w", l.Name(), err)
	}
	if !l.Built {
		for i, w := range l.Inner.Weights() {
			p := w.Path
			if p == "" {
				p = fmt.Sprintf("vars/%d", i)
			}
			w.Path = "layer/" + p
			l.W = append(l.W, w)
		}
		l.Built = true
	}
	res := make([]Shape, len(outs))
	for i, o := range outs {
		res[i] = append(Shape{in[0][0], in[0][1]}, o[1:]...)
	}
	return res, nil
}

// rnnShapeRange returns Shape(x)[from:to] as a graph value.
func rnnShapeRange(b *Builder, x string, from, to int) string {
	return b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(int64(from)), b.Ints(int64(to)))
}

// Lower folds time into the batch, lowers the wrapped layer and unfolds.
func (l *TimeDistributed) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	var steps []Tensor
	for _, t := range in {
		r := len(t.Shape)
		shape := b.Op("Concat", graph.Attrs{"axis": int64(0)}, b.Ints(-1), rnnShapeRange(b, t.Name, 2, r))
		steps = append(steps, Tensor{Name: b.Op("Reshape", nil, t.Name, shape), Shape: append(Shape{-1}, t.Shape[2:]...), DType: t.DType})
	}
	for _, w := range l.Inner.Weights() {
		rnnParamAs(b, w, l.Name()+"/"+l.Inner.Name()+"/"+w.Name)
	}
	outs, err := l.Inner.Lower(b, steps)
	if err != nil {
		return nil, fmt.Errorf("TimeDistributed %q: %w", l.Name(), err)
	}
	bt := rnnShapeRange(b, in[0].Name, 0, 2)
	res := make([]Tensor, len(outs))
	for i, o := range outs {
		shape := b.Op("Concat", graph.Attrs{"axis": int64(0)}, bt, rnnShapeRange(b, o.Name, 1, len(o.Shape)))
		res[i] = Tensor{Name: b.Op("Reshape", nil, o.Name, shape), Shape: append(Shape{in[0].Shape[0], in[0].Shape[1]}, o.Shape[1:]...), DType: o.DType, Mask: in[0].Mask}
	}
	return res, nil
}

// TimeDistributedDense is Keras 1's TimeDistributedDense: y = a(x·W + b)
// on every step of a [batch, time, in] input, with W (in, output_dim) and b
// (output_dim) when bias is true.
type TimeDistributedDense struct {
	Base
	OutputDim  int        `json:"output_dim"`
	Activation Activation `json:"activation"`
	Bias       *bool      `json:"bias,omitempty"`
}

func init() {
	Register("TimeDistributedDense", func() Layer { return &TimeDistributedDense{} })
}

// DecodeConfig reads the Keras 1 config.
func (l *TimeDistributedDense) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	if l.OutputDim <= 0 {
		return fmt.Errorf("output_dim must be positive, got %d", l.OutputDim)
	}
	return l.Activation.Check()
}

// Build creates W and b.
func (l *TimeDistributedDense) Build(in []Shape) ([]Shape, error) {
	s := in[0]
	if len(s) != 3 || s[2] < 0 {
		return nil, fmt.Errorf("TimeDistributedDense %q: input shape %s, want (batch, time, known features)", l.Name(), s)
	}
	if !l.Built {
		l.AddWeight("W", []int{s[2], l.OutputDim}, true)
		if l.Bias == nil || *l.Bias {
			l.AddWeight("b", []int{l.OutputDim}, true)
		}
		l.Built = true
	}
	return []Shape{{s[0], s[1], l.OutputDim}}, nil
}

// Lower applies the dense map to every step.
func (l *TimeDistributedDense) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	y := b.Op("MatMul", nil, in[0].Name, b.Param(l.W[0]))
	if len(l.W) > 1 {
		y = b.Op("Add", nil, y, b.Param(l.W[1]))
	}
	y, err := l.Activation.Lower(b, y)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape
	return []Tensor{{Name: y, Shape: Shape{s[0], s[1], l.OutputDim}, DType: tensor.Float32, Mask: in[0].Mask}}, nil
}
