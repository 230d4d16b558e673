package layer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
)

// convInts is a Keras integer tuple as written in a config: a single integer
// (Keras repeats it over every spatial axis), a list, or null.
type convInts []int

// UnmarshalJSON accepts an integer, a list of integers or null.
func (c *convInts) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*c = nil
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*c = convInts{n}
		return nil
	}
	var l []int
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("want an integer or a list of integers, got %s", truncate(s))
	}
	*c = l
	return nil
}

// expand returns the tuple for r spatial axes: def repeated when absent, a
// single value repeated, or the list itself when it has r entries.
func (c convInts) expand(r, def int, field string) ([]int, error) {
	out := make([]int, r)
	switch len(c) {
	case 0:
		for i := range out {
			out[i] = def
		}
	case 1:
		for i := range out {
			out[i] = c[0]
		}
	case r:
		copy(out, c)
	default:
		return nil, fmt.Errorf("%s %v: want 1 or %d values: %w", field, []int(c), r, ErrUnsupported)
	}
	for _, v := range out {
		if v < 1 {
			return nil, fmt.Errorf("%s %v: values must be positive: %w", field, []int(c), ErrUnsupported)
		}
	}
	return out, nil
}

// convPairs is a Keras padding or cropping spec: an integer, a flat list or a
// list of (begin, end) pairs.
type convPairs struct {
	flat   []int
	nested [][]int
}

// UnmarshalJSON accepts an integer, a list of integers or a list of lists.
func (p *convPairs) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		p.flat = []int{n}
		return nil
	}
	if err := json.Unmarshal(b, &p.flat); err == nil {
		return nil
	}
	p.flat = nil
	// A list mixing integers and pairs ([1, [2, 3]]) is not something Keras
	// writes; accept lists of integers or lists of pairs only.
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("want an integer, a list of integers or a list of pairs, got %s", truncate(string(b)))
	}
	for _, r := range raw {
		var pair convInts
		if err := json.Unmarshal(r, &pair); err != nil {
			return err
		}
		p.nested = append(p.nested, pair)
	}
	return nil
}

// MarshalJSON writes the spec back in its nested form.
func (p convPairs) MarshalJSON() ([]byte, error) {
	if p.nested != nil {
		return json.Marshal(p.nested)
	}
	return json.Marshal(p.flat)
}

// resolve returns (begin, end) per spatial axis for r axes, following Keras:
// an integer applies to both sides of every axis; for one axis a flat pair is
// (begin, end); for r > 1 a flat list of r values is symmetric per axis, and
// Keras 1's flat 2r list (ZeroPadding2D's (top, bottom, left, right)) gives
// both sides per axis in order.
func (p convPairs) resolve(r int, field string) (begin, end []int, err error) {
	begin, end = make([]int, r), make([]int, r)
	switch {
	case p.nested != nil:
		if len(p.nested) != r {
			return nil, nil, fmt.Errorf("%s %v: want %d pairs: %w", field, p.nested, r, ErrUnsupported)
		}
		for i, pr := range p.nested {
			switch len(pr) {
			case 1:
				begin[i], end[i] = pr[0], pr[0]
			case 2:
				begin[i], end[i] = pr[0], pr[1]
			default:
				return nil, nil, fmt.Errorf("%s %v: want pairs: %w", field, p.nested, ErrUnsupported)
			}
		}
	case len(p.flat) == 0:
	case len(p.flat) == 1:
		for i := range begin {
			begin[i], end[i] = p.flat[0], p.flat[0]
		}
	case r == 1 && len(p.flat) == 2:
		begin[0], end[0] = p.flat[0], p.flat[1]
	case len(p.flat) == r:
		copy(begin, p.flat)
		copy(end, p.flat)
	case len(p.flat) == 2*r:
		for i := 0; i < r; i++ {
			begin[i], end[i] = p.flat[2*i], p.flat[2*i+1]
		}
	default:
		return nil, nil, fmt.Errorf("%s %v: want 1, %d or %d values: %w", field, p.flat, r, 2*r, ErrUnsupported)
	}
	for i := range begin {
		if begin[i] < 0 || end[i] < 0 {
			return nil, nil, fmt.Errorf("%s: negative values: %w", field, ErrUnsupported)
		}
	}
	return begin, end, nil
}

// convDataFormat resolves data_format (Keras 2/3) or dim_ordering (Keras 1:
// "tf" is channels_last, "th" channels_first). It reports whether the data is
// channels_first.
func convDataFormat(dataFormat, dimOrdering string) (bool, error) {
	switch dataFormat {
	case "channels_first":
		return true, nil
	case "channels_last":
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("data_format %q: want channels_last or channels_first: %w", dataFormat, ErrUnsupported)
	}
	switch dimOrdering {
	case "th":
		return true, nil
	case "tf", "", "default":
		return false, nil
	}
	return false, fmt.Errorf("dim_ordering %q: want tf or th: %w", dimOrdering, ErrUnsupported)
}

// convSpatial returns the spatial dims and the channel count of a Keras
// shape (batch first).
func convSpatial(s Shape, r int, channelsFirst bool) (spatial []int, channels int) {
	if channelsFirst {
		return append([]int(nil), s[2:2+r]...), s[1]
	}
	return append([]int(nil), s[1:1+r]...), s[1+r]
}

// convShape assembles a Keras shape from batch, spatial dims and channels.
func convShape(batch int, spatial []int, channels int, channelsFirst bool) Shape {
	out := Shape{batch}
	if channelsFirst {
		out = append(out, channels)
		return append(out, spatial...)
	}
	out = append(out, spatial...)
	return append(out, channels)
}

// convCheckRank checks that a layer got one input of rank r+2.
func convCheckRank(in []Shape, r int, class string) error {
	if len(in) != 1 {
		return fmt.Errorf("%s takes one input, got %d", class, len(in))
	}
	if len(in[0]) != r+2 {
		return fmt.Errorf("%s expects a rank-%d input (batch, %d spatial axes, channels), got %v", class, r+2, r, in[0])
	}
	return nil
}

// convOutLen is Keras's conv_output_length: the output size of a window of
// extent k (already dilated) with stride s over n positions; -1 stays
// unknown.
func convOutLen(n, k, s int, padding string) int {
	if n < 0 {
		return -1
	}
	var l int
	switch padding {
	case "same", "causal":
		l = n
	case "full":
		l = n + k - 1
	default: // valid
		l = n - k + 1
	}
	if l <= 0 {
		return 0
	}
	return (l + s - 1) / s
}

// convPadAttrs sets the padding attributes of an ONNX Conv or pooling node
// for a Keras padding mode. "same" is TensorFlow's: total padding
// max((out-1)*s + k - n, 0), the odd unit at the end (ONNX SAME_UPPER);
// explicit pads are written when the spatial sizes are known. "causal" pads
// only the start by k-1; "full" pads k-1 on both sides.
func convPadAttrs(a graph.Attrs, padding string, in, k, s []int) error {
	r := len(k)
	pads := make([]int64, 2*r)
	switch padding {
	case "valid", "":
	case "same":
		for i := 0; i < r; i++ {
			if in[i] < 0 {
				a["auto_pad"] = "SAME_UPPER"
				return nil
			}
			o := (in[i] + s[i] - 1) / s[i]
			tot := (o-1)*s[i] + k[i] - in[i]
			if tot < 0 {
				tot = 0
			}
			pads[i], pads[r+i] = int64(tot/2), int64(tot-tot/2)
		}
	case "causal":
		if r != 1 {
			return fmt.Errorf("padding \"causal\" is only defined for 1D layers: %w", ErrUnsupported)
		}
		pads[0] = int64(k[0] - 1)
	case "full":
		for i := 0; i < r; i++ {
			pads[i], pads[r+i] = int64(k[i]-1), int64(k[i]-1)
		}
	default:
		return fmt.Errorf("padding %q: want valid or same: %w", padding, ErrUnsupported)
	}
	a["pads"] = pads
	return nil
}

// convEffective returns the dilated kernel extents (k-1)*d + 1.
func convEffective(k, d []int) []int {
	out := make([]int, len(k))
	for i := range k {
		out[i] = (k[i]-1)*d[i] + 1
	}
	return out
}

// convI64 converts ints to int64s for attributes.
func convI64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// convToFirst transposes a channels_last tensor of r spatial axes to
// channels_first (N, C, D...), the layout ONNX's spatial ops use.
func convToFirst(b *Builder, x string, r int) string {
	perm := []int64{0, int64(r + 1)}
	for i := 1; i <= r; i++ {
		perm = append(perm, int64(i))
	}
	return b.Op("Transpose", graph.Attrs{"perm": perm}, x)
}

// convToLast transposes channels_first (N, C, D...) back to channels_last.
func convToLast(b *Builder, x string, r int) string {
	perm := []int64{0}
	for i := 2; i <= r+1; i++ {
		perm = append(perm, int64(i))
	}
	perm = append(perm, 1)
	return b.Op("Transpose", graph.Attrs{"perm": perm}, x)
}

// convFlip reverses the spatial axes 2..r+1 of an ONNX-layout kernel
// (Theano's convolution flips the kernel; Keras saved it unflipped).
func convFlip(b *Builder, w string, r int) string {
	starts, ends, axes, steps := make([]int64, r), make([]int64, r), make([]int64, r), make([]int64, r)
	for i := 0; i < r; i++ {
		starts[i], ends[i], axes[i], steps[i] = -1, math.MinInt64, int64(i+2), -1
	}
	return b.Op("Slice", nil, w, b.Ints(starts...), b.Ints(ends...), b.Ints(axes...), b.Ints(steps...))
}

// convKernelToONNX transposes a Keras kernel (k1..kr, A, B) to (B, A, k1..kr).
func convKernelToONNX(b *Builder, w string, r int) string {
	perm := []int64{int64(r + 1), int64(r)}
	for i := 0; i < r; i++ {
		perm = append(perm, int64(i))
	}
	return b.Op("Transpose", graph.Attrs{"perm": perm}, w)
}

// convBool reads an optional Keras boolean with a default.
func convBool(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
