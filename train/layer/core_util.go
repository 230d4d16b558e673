package layer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// This file holds small helpers shared by the core layers (Dense, merge,
// normalization, ...). They are prefixed with "core" to keep the package
// namespace clear for the other layer families.

// coreAxes is a Keras axis argument: an int, a list of ints, or null.
type coreAxes []int

// UnmarshalJSON accepts 3, [1, 2] or null.
func (a *coreAxes) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*a = nil
		return nil
	}
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*a = coreAxes{one}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*a = coreAxes{int(f)}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("axis: want an int or a list of ints, got %s", truncate(s))
	}
	*a = many
	return nil
}

// coreNormAxes resolves (possibly negative) axes against rank, sorted and
// deduplicated. Axis 0 (the batch) is refused unless allowBatch.
func coreNormAxes(axes []int, rank int, allowBatch bool) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, a := range axes {
		n := a
		if n < 0 {
			n += rank
		}
		if n < 0 || n >= rank {
			return nil, fmt.Errorf("axis %d is out of range for an input of rank %d", a, rank)
		}
		if n == 0 && !allowBatch {
			return nil, fmt.Errorf("axis %d is the batch axis: %w", a, ErrUnsupported)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// coreOne checks that a layer got exactly one input.
func coreOne(l Layer, in []Shape) (Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("layer %q (%s) takes one input, got %d", l.Name(), l.Class(), len(in))
	}
	return in[0], nil
}

// coreOneT is coreOne for lowering.
func coreOneT(l Layer, in []Tensor) (Tensor, error) {
	if len(in) != 1 {
		return Tensor{}, fmt.Errorf("layer %q (%s) takes one input, got %d", l.Name(), l.Class(), len(in))
	}
	return in[0], nil
}

// coreErr prefixes an error with the layer's name and class.
func coreErr(l Layer, err error) error {
	return fmt.Errorf("layer %q (%s): %w", l.Name(), l.Class(), err)
}

// coreUnsupported returns an error wrapping ErrUnsupported that names the
// layer and the config field kiln cannot honour.
func coreUnsupported(l Layer, format string, args ...any) error {
	return fmt.Errorf("layer %q (%s): %s: %w", l.Name(), l.Class(), fmt.Sprintf(format, args...), ErrUnsupported)
}

// coreIdentity passes x through an Identity node (so every layer output is
// a value of its own) and keeps its mask.
func coreIdentity(b *Builder, x Tensor) Tensor {
	out := x
	out.Name = b.Op("Identity", nil, x.Name)
	return out
}

// coreDims converts a Keras shape (with -1 for unknown) to int64s.
func coreDims(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// coreReshapeTo reshapes a value to a fully known shape (used to give a
// weight the broadcast shape [1, ..., C, ..., 1]).
func coreReshapeTo(b *Builder, x string, shape []int) string {
	return b.Op("Reshape", nil, x, b.Ints(coreDims(shape)...))
}

// coreBroadcastShape returns the shape, of the input's rank, that holds the
// input's sizes at axes and 1 elsewhere.
func coreBroadcastShape(in Shape, axes []int) []int {
	out := make([]int, len(in))
	for i := range out {
		out[i] = 1
	}
	for _, a := range axes {
		out[a] = in[a]
	}
	return out
}

// coreIsTrailing reports whether axes are exactly the last len(axes) axes
// of a rank-r tensor, in which case a weight of those axes' shape
// broadcasts without a reshape.
func coreIsTrailing(axes []int, rank int) bool {
	for i, a := range axes {
		if a != rank-len(axes)+i {
			return false
		}
	}
	return true
}

// coreBroadcastParam returns the graph value of w shaped to broadcast
// against an input of shape in, whose axes it spans.
func coreBroadcastParam(b *Builder, w *Weight, in Shape, axes []int) string {
	p := b.Param(w)
	if coreIsTrailing(axes, len(in)) && len(w.Shape) == len(axes) {
		return p
	}
	return coreReshapeTo(b, p, coreBroadcastShape(in, axes))
}

// coreCheckDType refuses Keras 3 quantized dtype policies (int8, float8,
// int4), whose saved variables kiln does not dequantize.
func coreCheckDType(raw json.RawMessage) error {
	var c struct {
		DType              json.RawMessage `json:"dtype"`
		QuantizationConfig json.RawMessage `json:"quantization_config"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil
	}
	s := strings.ToLower(string(c.DType))
	for _, q := range []string{"int8", "int4", "float8", "quantized", "gptq"} {
		if strings.Contains(s, q) {
			return fmt.Errorf("dtype policy %s is a quantized policy kiln does not support: %w", truncate(string(c.DType)), ErrUnsupported)
		}
	}
	if q := strings.TrimSpace(string(c.QuantizationConfig)); q != "" && q != "null" {
		return fmt.Errorf("quantization_config %s is not supported: %w", truncate(q), ErrUnsupported)
	}
	return nil
}

// coreDecode unmarshals raw into v (a pointer to a layer's plain alias type
// so its DecodeConfig is not called again).
func coreDecode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// coreVersion returns the decode context's version (zero without one).
func coreVersion(ctx *DecodeContext) Version {
	if ctx == nil {
		return Version{}
	}
	return ctx.Version
}

// coreFloats builds a float32 constant of the given shape.
func coreFloats(b *Builder, shape []int, v []float32) string {
	return b.Const(tensor.From(tensor.Shape(shape), v))
}

// coreAttrsAxis is a one-entry attribute map {"axis": a}.
func coreAttrsAxis(a int) graph.Attrs { return graph.Attrs{"axis": int64(a)} }

// coreMaskAnd combines the masks of several inputs as Keras's merge layers
// do (a step is kept when every input keeps it); "" when none has a mask.
func coreMaskAnd(b *Builder, in []Tensor) string {
	m := ""
	for _, t := range in {
		if t.Mask == "" {
			continue
		}
		if m == "" {
			m = t.Mask
		} else {
			m = b.Op("And", nil, m, t.Mask)
		}
	}
	return m
}

// coreSize is the product of known dims, or -1 if any is unknown.
func coreSize(s []int) int {
	n := 1
	for _, d := range s {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// coreBool is a Keras boolean flag; some files write 1 or 0 (or null for
// the default) instead of true or false.
type coreBool bool

// UnmarshalJSON accepts true, false, numbers and null (leaving the default).
func (v *coreBool) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch s {
	case "true":
		*v = true
	case "false":
		*v = false
	case "null":
	default:
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("want a boolean, got %s", truncate(s))
		}
		*v = f != 0
	}
	return nil
}
