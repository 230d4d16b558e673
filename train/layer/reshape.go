package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Flatten is keras.layers.Flatten: [batch, d1, ..., dn] -> [batch,
// d1*...*dn]. With data_format channels_first (Keras 2 and 3) the channel
// axis is first moved last, as Keras does, so the flattened order is the
// channels_last one. Keras 1 had no data_format: the input is flattened as
// it is. Masks are dropped.
type Flatten struct {
	Base
	DataFormat string `json:"data_format"`
}

// Reshape is keras.layers.Reshape: target_shape (without the batch axis)
// may hold one -1, inferred from the input's size. Masks are dropped.
type Reshape struct {
	Base
	TargetShape []int `json:"target_shape"`
}

// Permute is keras.layers.Permute: dims is a permutation of 1..rank-1 (the
// batch axis stays first). Masks are dropped.
type Permute struct {
	Base
	Dims []int `json:"dims"`
}

// RepeatVector is keras.layers.RepeatVector: [batch, f] -> [batch, n, f].
type RepeatVector struct {
	Base
	N int `json:"n"`
}

func init() {
	Register("Flatten", func() Layer { return &Flatten{} })
	Register("Reshape", func() Layer { return &Reshape{} })
	Register("Permute", func() Layer { return &Permute{} })
	Register("RepeatVector", func() Layer { return &RepeatVector{} })
}

// DecodeConfig checks data_format.
func (l *Flatten) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain Flatten
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	switch l.DataFormat {
	case "", "channels_last", "channels_first":
		return nil
	}
	return fmt.Errorf("data_format %q: %w", l.DataFormat, ErrUnsupported)
}

// Build returns [batch, product of the other dims].
func (l *Flatten) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	l.Built = true
	return []Shape{{x[0], coreSize(x[1:])}}, nil
}

// Lower emits Transpose (channels_first, rank > 2) and Flatten(axis=1).
func (l *Flatten) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	v := x.Name
	if l.DataFormat == "channels_first" && len(x.Shape) > 2 {
		perm := []int64{0}
		for i := 2; i < len(x.Shape); i++ {
			perm = append(perm, int64(i))
		}
		perm = append(perm, 1)
		v = b.Op("Transpose", graph.Attrs{"perm": perm}, v)
	}
	v = b.Op("Flatten", coreAttrsAxis(1), v)
	return []Tensor{{Name: v, Shape: Shape{x.Shape[0], coreSize(x.Shape[1:])}, DType: x.DType}}, nil
}

// reshaped returns the output shape for input x.
func (l *Reshape) reshaped(x Shape) (Shape, error) {
	out := Shape{x[0]}
	infer := -1
	known := 1
	for i, d := range l.TargetShape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d <= 0:
			return nil, fmt.Errorf("target_shape %v: dimension %d is invalid", l.TargetShape, d)
		default:
			known *= d
		}
		out = append(out, d)
	}
	total := coreSize(x[1:])
	if infer >= 0 && total >= 0 {
		if total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to target_shape %v", x, l.TargetShape)
		}
		out[infer+1] = total / known
	} else if infer < 0 && total >= 0 && total != known {
		return nil, fmt.Errorf("cannot reshape %v (%d values per sample) to target_shape %v (%d)", x, total, l.TargetShape, known)
	}
	return out, nil
}

// Build computes the output shape.
func (l *Reshape) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	out, err := l.reshaped(x)
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower emits Reshape to [batch (copied), target_shape...].
func (l *Reshape) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	out, err := l.reshaped(x.Shape)
	if err != nil {
		return nil, coreErr(l, err)
	}
	spec := []int64{0}
	for _, d := range l.TargetShape {
		spec = append(spec, int64(d))
	}
	v := b.Op("Reshape", nil, x.Name, b.Ints(spec...))
	return []Tensor{{Name: v, Shape: out, DType: x.DType}}, nil
}

// perm returns the full permutation (batch first) for an input of rank r.
func (l *Permute) perm(r int) ([]int64, error) {
	if len(l.Dims) != r-1 {
		return nil, fmt.Errorf("dims %v do not permute the %d non-batch axes of the input", l.Dims, r-1)
	}
	seen := make([]bool, r)
	p := []int64{0}
	for _, d := range l.Dims {
		if d < 1 || d >= r || seen[d] {
			return nil, fmt.Errorf("dims %v is not a permutation of 1..%d", l.Dims, r-1)
		}
		seen[d] = true
		p = append(p, int64(d))
	}
	return p, nil
}

// Build permutes the input shape.
func (l *Permute) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	p, err := l.perm(len(x))
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	out := make(Shape, len(x))
	for i, a := range p {
		out[i] = x[a]
	}
	return []Shape{out}, nil
}

// Lower emits Transpose.
func (l *Permute) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	p, err := l.perm(len(x.Shape))
	if err != nil {
		return nil, coreErr(l, err)
	}
	out := make(Shape, len(x.Shape))
	for i, a := range p {
		out[i] = x.Shape[a]
	}
	v := b.Op("Transpose", graph.Attrs{"perm": p}, x.Name)
	return []Tensor{{Name: v, Shape: out, DType: x.DType}}, nil
}

// Build checks for a rank-2 input.
func (l *RepeatVector) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	if len(x) != 2 {
		return nil, coreErr(l, fmt.Errorf("input %v must be [batch, features]", x))
	}
	if l.N < 1 {
		return nil, coreErr(l, fmt.Errorf("n is %d, want at least 1", l.N))
	}
	l.Built = true
	return []Shape{{x[0], l.N, x[1]}}, nil
}

// Lower emits Unsqueeze(axis 1) and Expand to [1, n, 1].
func (l *RepeatVector) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	u := b.Op("Unsqueeze", nil, x.Name, b.Ints(1))
	v := b.Op("Expand", nil, u, b.Ints(1, int64(l.N), 1))
	return []Tensor{{Name: v, Shape: Shape{x.Shape[0], l.N, x.Shape[1]}, DType: x.DType}}, nil
}
