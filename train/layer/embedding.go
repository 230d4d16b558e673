package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Embedding is keras.layers.Embedding: integer indices [batch, ...] ->
// embeddings[indices], [batch, ..., output_dim]. Weight: embeddings
// (input_dim, output_dim) (Keras 1 called it W). Indices given as floats are
// truncated toward zero, as Keras's cast to int does.
//
// With mask_zero the layer creates a mask: a step is kept when its index is
// not 0. Keras 1's dropout (training only) is ignored; input_length only
// fills an unknown time dimension. A Keras 3 quantized dtype policy is
// refused; Keras 3 saves LoRA-adapted embeddings merged, so lora_rank is
// ignored.
type Embedding struct {
	Base
	InputDim    int      `json:"input_dim"`
	OutputDim   int      `json:"output_dim"`
	MaskZero    coreBool `json:"mask_zero"`
	InputLength any      `json:"input_length"`
}

// Masking is keras.layers.Masking: a step (all features at one time index)
// whose features all equal mask_value is masked; the layer zeroes masked
// steps and creates the mask (keep = any(x != mask_value, axis=-1)).
type Masking struct {
	Base
	MaskValue float64 `json:"mask_value"`
}

func init() {
	Register("Embedding", func() Layer { return &Embedding{} })
	Register("Masking", func() Layer { return &Masking{} })
}

// DecodeConfig checks sizes and the dtype policy.
func (l *Embedding) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Embedding
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	if l.InputDim <= 0 || l.OutputDim <= 0 {
		return fmt.Errorf("input_dim %d and output_dim %d must be positive", l.InputDim, l.OutputDim)
	}
	return coreCheckDType(raw)
}

func (l *Embedding) outShape(x Shape) Shape {
	out := append(x.Clone(), l.OutputDim)
	if n, ok := l.InputLength.(float64); ok && len(x) == 2 && x[1] < 0 {
		out[1] = int(n)
	}
	return out
}

// Build creates embeddings (input_dim, output_dim).
func (l *Embedding) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if !l.Built {
		l.AddWeight("embeddings", []int{l.InputDim, l.OutputDim}, true)
		l.Built = true
	}
	return []Shape{l.outShape(x)}, nil
}

// Lower emits Cast(int64) and Gather; with mask_zero, Not(Equal(x, 0)).
func (l *Embedding) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	idx := x.Name
	if x.DType != tensor.Int64 {
		idx = b.Op("Cast", graph.Attrs{"to": int64(tensor.Int64)}, idx)
	}
	out := Tensor{Shape: l.outShape(x.Shape), DType: tensor.Float32}
	out.Name = b.Op("Gather", coreAttrsAxis(0), b.Param(l.W[0]), idx)
	if l.MaskZero {
		out.Mask = b.Op("Not", nil, b.Op("Equal", nil, idx, b.Const(tensor.Scalar(int64(0)))))
	}
	return []Tensor{out}, nil
}

// Build returns the input shape.
func (l *Masking) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if len(x) < 3 {
		return nil, coreErr(l, fmt.Errorf("input %v must be [batch, time, ...features]", x))
	}
	return coreSameShape(l, in)
}

// Lower emits keep = ReduceMax(Not(Equal(x, mask_value)), last axis) and
// y = x * keep.
func (l *Masking) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	ne := b.Op("Not", nil, b.Op("Equal", nil, x.Name, b.Scalar(float32(l.MaskValue))))
	keep := b.Op("ReduceMax", graph.Attrs{"keepdims": int64(1)}, ne, b.Ints(-1))
	y := b.Op("Mul", nil, x.Name, b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, keep))
	// The Keras mask is [batch, time]: any over every feature axis.
	var axes []int64
	for i := 2; i < len(x.Shape); i++ {
		axes = append(axes, int64(i))
	}
	mask := b.Op("ReduceMax", graph.Attrs{"keepdims": int64(0)}, ne, b.Ints(axes...))
	return []Tensor{{Name: y, Shape: x.Shape.Clone(), DType: x.DType, Mask: mask}}, nil
}
