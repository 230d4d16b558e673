package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Pooling is Keras's MaxPooling1D/2D/3D and AveragePooling1D/2D/3D: the
// maximum or mean over windows of pool_size moved by strides (default
// pool_size). Padding "same" pads as TensorFlow (total max((out-1)*s + k -
// n, 0), the odd unit at the end); padded cells never win a maximum and are
// left out of averages, as TensorFlow's SAME pooling does — ONNX
// AveragePool with count_include_pad=0. Keras 1 spellings (pool_length,
// stride, border_mode, dim_ordering) are accepted. No weights.
type Pooling struct {
	Base
	PoolSize   convInts `json:"pool_size"`
	Strides    convInts `json:"strides"`
	Padding    string   `json:"padding"`
	DataFormat string   `json:"data_format,omitempty"`

	rank          int
	avg           bool
	channelsFirst bool
	k, s          []int
	dimOrdering   string
}

// DecodeConfig reads a Keras 1, 2 or 3 config.
func (l *Pooling) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	var k1 struct {
		PoolLength  convInts `json:"pool_length"`
		Stride      convInts `json:"stride"`
		BorderMode  string   `json:"border_mode"`
		DimOrdering string   `json:"dim_ordering"`
	}
	if err := json.Unmarshal(raw, &k1); err != nil {
		return err
	}
	if len(l.PoolSize) == 0 && len(k1.PoolLength) > 0 {
		l.PoolSize = k1.PoolLength
	}
	if len(l.Strides) == 0 && len(k1.Stride) > 0 {
		l.Strides = k1.Stride
	}
	if l.Padding == "" {
		l.Padding = k1.BorderMode
	}
	l.dimOrdering = k1.DimOrdering
	return l.setup()
}

func (l *Pooling) setup() error {
	if l.Padding == "" {
		l.Padding = "valid"
	}
	if l.Padding != "valid" && l.Padding != "same" {
		return fmt.Errorf("padding %q: want valid or same: %w", l.Padding, ErrUnsupported)
	}
	cf, err := convDataFormat(l.DataFormat, l.dimOrdering)
	if err != nil {
		return err
	}
	l.channelsFirst = cf
	if l.k, err = l.PoolSize.expand(l.rank, 2, "pool_size"); err != nil {
		return err
	}
	if len(l.Strides) == 0 {
		l.s = append([]int(nil), l.k...)
	} else if l.s, err = l.Strides.expand(l.rank, 1, "strides"); err != nil {
		return err
	}
	return nil
}

// Build returns the pooled shape.
func (l *Pooling) Build(in []Shape) ([]Shape, error) {
	if l.k == nil {
		if err := l.setup(); err != nil {
			return nil, err
		}
	}
	if err := convCheckRank(in, l.rank, "Pooling"); err != nil {
		return nil, err
	}
	sp, ch := convSpatial(in[0], l.rank, l.channelsFirst)
	out := make([]int, l.rank)
	for i := range sp {
		out[i] = convOutLen(sp[i], l.k[i], l.s[i], l.Padding)
	}
	l.Built = true
	return []Shape{convShape(in[0][0], out, ch, l.channelsFirst)}, nil
}

// Lower emits Transpose -> MaxPool/AveragePool -> Transpose.
func (l *Pooling) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	sp, _ := convSpatial(in[0].Shape, l.rank, l.channelsFirst)
	a := graph.Attrs{"kernel_shape": convI64(l.k), "strides": convI64(l.s)}
	if err := convPadAttrs(a, l.Padding, sp, l.k, l.s); err != nil {
		return nil, err
	}
	op := "MaxPool"
	if l.avg {
		op = "AveragePool"
		a["count_include_pad"] = int64(0)
	}
	x := in[0].Name
	if !l.channelsFirst {
		x = convToFirst(b, x, l.rank)
	}
	y := b.Op(op, a, x)
	if !l.channelsFirst {
		y = convToLast(b, y, l.rank)
	}
	return []Tensor{{Name: y, Shape: out[0], DType: in[0].DType}}, nil
}

// GlobalPooling is Keras's GlobalMaxPooling1D/2D/3D and
// GlobalAveragePooling1D/2D/3D: the maximum or mean over all spatial
// positions, keeping them as size-1 axes when keepdims is true. With a mask
// (1D layers, [batch, steps]) the average is sum(x*mask) / sum(mask) over
// steps, as Keras computes it; the maximum ignores the mask, as Keras's
// does. The output carries no mask. No weights.
type GlobalPooling struct {
	Base
	DataFormat string `json:"data_format,omitempty"`
	KeepDims   bool   `json:"keepdims,omitempty"`

	rank          int
	avg           bool
	channelsFirst bool
	dimOrdering   string
}

// DecodeConfig reads a Keras 1, 2 or 3 config.
func (l *GlobalPooling) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	var k1 struct {
		DimOrdering string `json:"dim_ordering"`
	}
	if err := json.Unmarshal(raw, &k1); err != nil {
		return err
	}
	l.dimOrdering = k1.DimOrdering
	cf, err := convDataFormat(l.DataFormat, l.dimOrdering)
	l.channelsFirst = cf
	return err
}

// axes returns the spatial axes of the Keras tensor.
func (l *GlobalPooling) axes() []int64 {
	ax := make([]int64, l.rank)
	for i := range ax {
		if l.channelsFirst {
			ax[i] = int64(i + 2)
		} else {
			ax[i] = int64(i + 1)
		}
	}
	return ax
}

// Build returns (batch, channels) or, with keepdims, the shape with size-1
// spatial axes.
func (l *GlobalPooling) Build(in []Shape) ([]Shape, error) {
	if err := convCheckRank(in, l.rank, "GlobalPooling"); err != nil {
		return nil, err
	}
	_, ch := convSpatial(in[0], l.rank, l.channelsFirst)
	l.Built = true
	if l.KeepDims {
		ones := make([]int, l.rank)
		for i := range ones {
			ones[i] = 1
		}
		return []Shape{convShape(in[0][0], ones, ch, l.channelsFirst)}, nil
	}
	return []Shape{{in[0][0], ch}}, nil
}

// Lower emits ReduceMax or ReduceMean (or the masked mean) over the spatial
// axes.
func (l *GlobalPooling) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	keep := int64(0)
	if l.KeepDims {
		keep = 1
	}
	axes := b.Ints(l.axes()...)
	x := in[0].Name
	var y string
	switch {
	case !l.avg:
		y = b.Op("ReduceMax", graph.Attrs{"keepdims": keep}, x, axes)
	case in[0].Mask != "" && l.rank == 1:
		// mask [N, T] -> [N, T, 1] (channels_last) or [N, 1, T].
		dt := in[0].DType
		if dt == tensor.Undefined {
			dt = tensor.Float32
		}
		m := b.Op("Cast", graph.Attrs{"to": int64(dt)}, in[0].Mask)
		maxis := int64(2)
		if l.channelsFirst {
			maxis = 1
		}
		m = b.Op("Unsqueeze", nil, m, b.Ints(maxis))
		num := b.Op("ReduceSum", graph.Attrs{"keepdims": keep}, b.Op("Mul", nil, x, m), axes)
		den := b.Op("ReduceSum", graph.Attrs{"keepdims": keep}, m, axes)
		y = b.Op("Div", nil, num, den)
	default:
		y = b.Op("ReduceMean", graph.Attrs{"keepdims": keep}, x, axes)
	}
	return []Tensor{{Name: y, Shape: out[0], DType: in[0].DType}}, nil
}

// AdaptivePooling is Keras 3's AdaptiveAveragePooling1D/2D/3D and
// AdaptiveMaxPooling1D/2D/3D: output_size bins per spatial axis, bin i of an
// axis of length n covering [floor(i*n/out), ceil((i+1)*n/out)) (the
// PyTorch convention Keras follows), reduced by mean or max. Bins are
// rectangular, so the reduction is applied one axis at a time. The spatial
// sizes must be known. No weights.
type AdaptivePooling struct {
	Base
	OutputSize convInts `json:"output_size"`
	DataFormat string   `json:"data_format,omitempty"`

	rank          int
	avg           bool
	channelsFirst bool
	size          []int
}

// DecodeConfig reads a Keras 3 config.
func (l *AdaptivePooling) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	return l.setup()
}

func (l *AdaptivePooling) setup() error {
	cf, err := convDataFormat(l.DataFormat, "")
	if err != nil {
		return err
	}
	l.channelsFirst = cf
	l.size, err = l.OutputSize.expand(l.rank, 0, "output_size")
	return err
}

// Build returns the shape with output_size spatial dims.
func (l *AdaptivePooling) Build(in []Shape) ([]Shape, error) {
	if l.size == nil {
		if err := l.setup(); err != nil {
			return nil, err
		}
	}
	if err := convCheckRank(in, l.rank, "AdaptivePooling"); err != nil {
		return nil, err
	}
	_, ch := convSpatial(in[0], l.rank, l.channelsFirst)
	l.Built = true
	return []Shape{convShape(in[0][0], l.size, ch, l.channelsFirst)}, nil
}

// Lower slices each bin, reduces it and concatenates the bins, axis by axis.
func (l *AdaptivePooling) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	sp, _ := convSpatial(in[0].Shape, l.rank, l.channelsFirst)
	op := "ReduceMax"
	if l.avg {
		op = "ReduceMean"
	}
	x := in[0].Name
	for i, n := range sp {
		if n < 1 {
			return nil, fmt.Errorf("adaptive pooling layer %q: spatial axis %d of input %v must have a known size: %w", l.Name(), i, in[0].Shape, ErrUnsupported)
		}
		axis := int64(i + 1)
		if l.channelsFirst {
			axis = int64(i + 2)
		}
		o := l.size[i]
		bins := make([]string, o)
		for j := 0; j < o; j++ {
			start := j * n / o
			end := ((j+1)*n + o - 1) / o
			s := b.Op("Slice", nil, x, b.Ints(int64(start)), b.Ints(int64(end)), b.Ints(axis))
			bins[j] = b.Op(op, graph.Attrs{"keepdims": int64(1)}, s, b.Ints(axis))
		}
		if o == 1 {
			x = bins[0]
		} else {
			x = b.Op("Concat", graph.Attrs{"axis": axis}, bins...)
		}
	}
	return []Tensor{{Name: x, Shape: out[0], DType: in[0].DType}}, nil
}

func init() {
	for r := 1; r <= 3; r++ {
		r := r
		Register(fmt.Sprintf("MaxPooling%dD", r), func() Layer { return &Pooling{rank: r} }, fmt.Sprintf("MaxPool%dD", r))
		Register(fmt.Sprintf("AveragePooling%dD", r), func() Layer { return &Pooling{rank: r, avg: true} }, fmt.Sprintf("AvgPool%dD", r))
		Register(fmt.Sprintf("GlobalMaxPooling%dD", r), func() Layer { return &GlobalPooling{rank: r} }, fmt.Sprintf("GlobalMaxPool%dD", r))
		Register(fmt.Sprintf("GlobalAveragePooling%dD", r), func() Layer { return &GlobalPooling{rank: r, avg: true} }, fmt.Sprintf("GlobalAvgPool%dD", r))
		Register(fmt.Sprintf("AdaptiveMaxPooling%dD", r), func() Layer { return &AdaptivePooling{rank: r} })
		Register(fmt.Sprintf("AdaptiveAveragePooling%dD", r), func() Layer { return &AdaptivePooling{rank: r, avg: true} })
	}
}

// NewPooling returns MaxPooling{rank}D, or AveragePooling{rank}D when avg
// is true; strides nil means pool_size.
func NewPooling(name string, rank int, avg bool, poolSize, strides []int, padding string) *Pooling {
	cls := "MaxPooling"
	if avg {
		cls = "AveragePooling"
	}
	return &Pooling{Base: Base{LayerName: name, ClassName: fmt.Sprintf("%s%dD", cls, rank)}, PoolSize: poolSize, Strides: strides, Padding: padding, rank: rank, avg: avg}
}

// NewGlobalPooling returns GlobalMaxPooling{rank}D, or
// GlobalAveragePooling{rank}D when avg is true.
func NewGlobalPooling(name string, rank int, avg, keepDims bool) *GlobalPooling {
	cls := "GlobalMaxPooling"
	if avg {
		cls = "GlobalAveragePooling"
	}
	return &GlobalPooling{Base: Base{LayerName: name, ClassName: fmt.Sprintf("%s%dD", cls, rank)}, KeepDims: keepDims, rank: rank, avg: avg}
}
