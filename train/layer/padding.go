package layer

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
)

// convSpatialAxes returns the tensor axes of the r spatial dims.
func convSpatialAxes(r int, channelsFirst bool) []int {
	ax := make([]int, r)
	for i := range ax {
		if channelsFirst {
			ax[i] = i + 2
		} else {
			ax[i] = i + 1
		}
	}
	return ax
}

// convAddDim adds a to a known size; unknown stays -1.
func convAddDim(n, a int) int {
	if n < 0 {
		return -1
	}
	return n + a
}

// convFrame is the part of ZeroPadding and Cropping that reads the
// spec and the data format.
type convFrame struct {
	rank          int
	channelsFirst bool
	begin, end    []int
}

func (f *convFrame) setup(p convPairs, dataFormat, dimOrdering, field string) error {
	cf, err := convDataFormat(dataFormat, dimOrdering)
	if err != nil {
		return err
	}
	f.channelsFirst = cf
	if p.flat == nil && p.nested == nil {
		p.flat = []int{1} // Keras's default padding is 1; cropping defaults to 0 below
		if field == "cropping" {
			p.flat = []int{0}
		}
	}
	f.begin, f.end, err = p.resolve(f.rank, field)
	return err
}

// ZeroPadding is Keras's ZeroPadding1D/2D/3D: zeros added before and after
// each spatial axis (padding: an integer, one per axis, or (begin, end)
// pairs; Keras 1's flat (top, bottom, left, right) is also accepted). No
// weights. It lowers to ONNX Pad.
type ZeroPadding struct {
	Base
	Padding    convPairs `json:"padding"`
	DataFormat string    `json:"data_format,omitempty"`
	convFrame
}

// DecodeConfig reads a Keras 1, 2 or 3 config.
func (l *ZeroPadding) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	var k1 struct {
		DimOrdering string `json:"dim_ordering"`
	}
	_ = json.Unmarshal(raw, &k1)
	return l.setup(l.Padding, l.DataFormat, k1.DimOrdering, "padding")
}

// Build returns the padded shape.
func (l *ZeroPadding) Build(in []Shape) ([]Shape, error) {
	if l.begin == nil {
		if err := l.setup(l.Padding, l.DataFormat, "", "padding"); err != nil {
			return nil, err
		}
	}
	if err := convCheckRank(in, l.rank, "ZeroPadding"); err != nil {
		return nil, err
	}
	out := in[0].Clone()
	for i, ax := range convSpatialAxes(l.rank, l.channelsFirst) {
		out[ax] = convAddDim(out[ax], l.begin[i]+l.end[i])
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower emits Pad.
func (l *ZeroPadding) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	n := len(in[0].Shape)
	pads := make([]int64, 2*n)
	for i, ax := range convSpatialAxes(l.rank, l.channelsFirst) {
		pads[ax], pads[n+ax] = int64(l.begin[i]), int64(l.end[i])
	}
	y := b.Op("Pad", graph.Attrs{"mode": "constant"}, in[0].Name, b.Ints(pads...))
	return []Tensor{{Name: y, Shape: out[0], DType: in[0].DType}}, nil
}

// Cropping is Keras's Cropping1D/2D/3D: cropping[i] = (begin, end) cells
// removed from spatial axis i (an integer or one value per axis is
// symmetric). No weights. It lowers to ONNX Slice.
type Cropping struct {
	Base
	Cropping   convPairs `json:"cropping"`
	DataFormat string    `json:"data_format,omitempty"`
	convFrame
}

// DecodeConfig reads a Keras 1, 2 or 3 config.
func (l *Cropping) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	var k1 struct {
		DimOrdering string `json:"dim_ordering"`
	}
	_ = json.Unmarshal(raw, &k1)
	return l.setup(l.Cropping, l.DataFormat, k1.DimOrdering, "cropping")
}

// Build returns the cropped shape.
func (l *Cropping) Build(in []Shape) ([]Shape, error) {
	if l.begin == nil {
		if err := l.setup(l.Cropping, l.DataFormat, "", "cropping"); err != nil {
			return nil, err
		}
	}
	if err := convCheckRank(in, l.rank, "Cropping"); err != nil {
		return nil, err
	}
	out := in[0].Clone()
	for i, ax := range convSpatialAxes(l.rank, l.channelsFirst) {
		out[ax] = convAddDim(out[ax], -l.begin[i]-l.end[i])
		if out[ax] == 0 || out[ax] < -1 {
			return nil, fmt.Errorf("cropping layer %q: cropping (%d, %d) leaves nothing of axis %d of input %v", l.Name(), l.begin[i], l.end[i], ax, in[0])
		}
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower emits Slice over the spatial axes.
func (l *Cropping) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	var starts, ends, axes []int64
	for i, ax := range convSpatialAxes(l.rank, l.channelsFirst) {
		if l.begin[i] == 0 && l.end[i] == 0 {
			continue
		}
		e := int64(math.MaxInt64)
		if l.end[i] > 0 {
			e = int64(-l.end[i])
		}
		starts, ends, axes = append(starts, int64(l.begin[i])), append(ends, e), append(axes, int64(ax))
	}
	y := in[0].Name
	if len(axes) > 0 {
		y = b.Op("Slice", nil, y, b.Ints(starts...), b.Ints(ends...), b.Ints(axes...))
	} else {
		y = b.Op("Identity", nil, y)
	}
	return []Tensor{{Name: y, Shape: out[0], DType: in[0].DType}}, nil
}

func init() {
	for r := 1; r <= 3; r++ {
		r := r
		Register(fmt.Sprintf("ZeroPadding%dD", r), func() Layer { return &ZeroPadding{convFrame: convFrame{rank: r}} })
		Register(fmt.Sprintf("Cropping%dD", r), func() Layer { return &Cropping{convFrame: convFrame{rank: r}} })
	}
}
