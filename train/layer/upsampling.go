package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// UpSampling is Keras's UpSampling1D/2D/3D: each spatial axis i is enlarged
// size[i] times. "nearest" repeats every cell (out[o] = in[floor(o/size)]);
// UpSampling2D's "bilinear" interpolates as the resize Keras calls:
// half-pixel centres (in = (o + 0.5)/size - 0.5, clamped to the edge) for
// Keras 3 and Keras 2.3+ (tf.keras in TensorFlow 2.1+ calls
// tf.image.resize), the asymmetric mapping in = o/size of TensorFlow 1's
// resize_bilinear for Keras 1 and Keras 2.0-2.2. The version number cannot
// tell tf.keras "2.2.4-tf" of TensorFlow 2.0 (half-pixel) from that of
// TensorFlow 1.13-1.15 (asymmetric); kiln takes the latter. Other
// interpolations (bicubic, lanczos, area) are rejected. Keras 1 spellings
// (length for UpSampling1D, dim_ordering) are accepted. No weights; it
// lowers to ONNX Resize.
type UpSampling struct {
	Base
	Size          convInts `json:"size"`
	DataFormat    string   `json:"data_format,omitempty"`
	Interpolation string   `json:"interpolation,omitempty"`

	rank          int
	channelsFirst bool
	size          []int
	dimOrdering   string
}

// DecodeConfig reads a Keras 1, 2 or 3 config.
func (l *UpSampling) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	var k1 struct {
		Length      convInts `json:"length"`
		DimOrdering string   `json:"dim_ordering"`
	}
	if err := json.Unmarshal(raw, &k1); err != nil {
		return err
	}
	if len(l.Size) == 0 {
		l.Size = k1.Length
	}
	l.dimOrdering = k1.DimOrdering
	return l.setup()
}

func (l *UpSampling) setup() error {
	cf, err := convDataFormat(l.DataFormat, l.dimOrdering)
	if err != nil {
		return err
	}
	l.channelsFirst = cf
	if l.size, err = l.Size.expand(l.rank, 2, "size"); err != nil {
		return err
	}
	switch l.Interpolation {
	case "", "nearest":
	case "bilinear":
		if l.rank != 2 {
			return fmt.Errorf("interpolation %q on a %dD layer: %w", l.Interpolation, l.rank, ErrUnsupported)
		}
	default:
		return fmt.Errorf("interpolation %q: kiln supports nearest and bilinear: %w", l.Interpolation, ErrUnsupported)
	}
	return nil
}

// Build returns the enlarged shape.
func (l *UpSampling) Build(in []Shape) ([]Shape, error) {
	if l.size == nil {
		if err := l.setup(); err != nil {
			return nil, err
		}
	}
	if err := convCheckRank(in, l.rank, "UpSampling"); err != nil {
		return nil, err
	}
	out := in[0].Clone()
	for i, ax := range convSpatialAxes(l.rank, l.channelsFirst) {
		if out[ax] >= 0 {
			out[ax] *= l.size[i]
		}
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower emits Resize (bilinear on channels_first data, transposing
// channels_last input around it).
func (l *UpSampling) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	x := in[0].Name
	n := len(in[0].Shape)
	scales := make([]float32, n)
	for i := range scales {
		scales[i] = 1
	}
	if l.Interpolation == "bilinear" {
		mode := "half_pixel"
		if v := b.Version; v.Major == 2 && v.Minor < 3 || v.Major == 1 {
			mode = "asymmetric"
		}
		if !l.channelsFirst {
			x = convToFirst(b, x, 2)
		}
		scales[2], scales[3] = float32(l.size[0]), float32(l.size[1])
		y := b.Op("Resize", graph.Attrs{"mode": "linear", "coordinate_transformation_mode": mode}, x, "", b.Const(tensor.From(tensor.Shape{n}, scales)))
		if !l.channelsFirst {
			y = convToLast(b, y, 2)
		}
		return []Tensor{{Name: y, Shape: out[0], DType: in[0].DType}}, nil
	}
	for i, ax := range convSpatialAxes(l.rank, l.channelsFirst) {
		scales[ax] = float32(l.size[i])
	}
	y := b.Op("Resize", graph.Attrs{"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, x, "", b.Const(tensor.From(tensor.Shape{n}, scales)))
	return []Tensor{{Name: y, Shape: out[0], DType: in[0].DType}}, nil
}

func init() {
	for r := 1; r <= 3; r++ {
		r := r
		Register(fmt.Sprintf("UpSampling%dD", r), func() Layer { return &UpSampling{rank: r} })
	}
}
