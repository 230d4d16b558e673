package layer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
)

// GetItem is Keras 3's keras.src.ops.numpy.GetItem: x[key] on a symbolic
// tensor in a functional model, with NumPy's basic indexing. The key is the
// call's second positional argument, a constant (CallInfo.Consts[1]): an
// int, a slice ({"class_name": "__slice__", "config": {"start", "stop",
// "step"}}), None (a new axis of size 1), Ellipsis ({"class_name":
// "__ellipsis__"}), or a tuple (a JSON list) of those. Missing trailing
// entries select whole axes; an int removes its axis (negative counts from
// the end; out of range is an error when the size is known); a slice keeps
// len(range(*slice.indices(size))) elements, unknown when the size is.
// Tensor keys (dynamic or advanced indexing) and lists of indices are
// refused with ErrUnsupported. The output carries no mask, as Keras ops do
// not propagate masks.
//
// It lowers to Slice (with ONNX's clamping, which equals Python's slice
// semantics), Squeeze for int entries and Unsqueeze for None entries.
type GetItem struct {
	Base
}

func init() {
	Register(OpClass("keras.src.ops.numpy", "GetItem"), func() Layer { return &GetItem{} })
}

// indexKind is one entry of a NumPy basic index.
type indexKind int

const (
	idxInt indexKind = iota
	idxSlice
	idxNewAxis
	idxEllipsis
)

type indexEntry struct {
	kind              indexKind
	i                 int  // idxInt
	start, stop, step *int // idxSlice (nil = None)
}

// parseIndexKey reads a serialized Keras index key.
func parseIndexKey(raw json.RawMessage) ([]indexEntry, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		var out []indexEntry
		for _, e := range list {
			if et := bytes.TrimSpace(e); len(et) > 0 && et[0] == '[' {
				return nil, fmt.Errorf("index entry %s is a list (advanced indexing): %w", truncate(string(e)), ErrUnsupported)
			}
			x, err := parseIndexEntry(e)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	}
	x, err := parseIndexEntry(raw)
	if err != nil {
		return nil, err
	}
	return []indexEntry{x}, nil
}

func parseIndexInt(raw json.RawMessage) (*int, error) {
	if !isSet(raw) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, fmt.Errorf("index %s is not an int or None: %w", truncate(string(raw)), ErrUnsupported)
	}
	i := int(f)
	return &i, nil
}

func parseIndexEntry(raw json.RawMessage) (indexEntry, error) {
	t := bytes.TrimSpace(raw)
	if !isSet(raw) {
		return indexEntry{kind: idxNewAxis}, nil
	}
	if t[0] == '{' {
		var obj struct {
			ClassName string `json:"class_name"`
			Config    struct {
				Start, Stop, Step json.RawMessage
			} `json:"config"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return indexEntry{}, err
		}
		switch obj.ClassName {
		case "__ellipsis__":
			return indexEntry{kind: idxEllipsis}, nil
		case "__slice__":
			e := indexEntry{kind: idxSlice}
			var err error
			if e.start, err = parseIndexInt(obj.Config.Start); err != nil {
				return e, err
			}
			if e.stop, err = parseIndexInt(obj.Config.Stop); err != nil {
				return e, err
			}
			if e.step, err = parseIndexInt(obj.Config.Step); err != nil {
				return e, err
			}
			if e.step != nil && *e.step == 0 {
				return e, fmt.Errorf("slice step cannot be zero")
			}
			return e, nil
		}
		return indexEntry{}, fmt.Errorf("index entry of class %q (a tensor or array index) is not a constant int, slice, None or Ellipsis: %w", obj.ClassName, ErrUnsupported)
	}
	p, err := parseIndexInt(raw)
	if err != nil {
		return indexEntry{}, err
	}
	return indexEntry{kind: idxInt, i: *p}, nil
}

// expandIndex replaces Ellipsis by whole-axis slices and appends them for
// the axes the key leaves out, so every axis of a rank-r input has an int
// or slice entry (new axes interleaved).
func expandIndex(key []indexEntry, rank int) ([]indexEntry, error) {
	n, ell := 0, -1
	for i, e := range key {
		switch e.kind {
		case idxInt, idxSlice:
			n++
		case idxEllipsis:
			if ell >= 0 {
				return nil, fmt.Errorf("an index can only have a single Ellipsis")
			}
			ell = i
		}
	}
	if n > rank {
		return nil, fmt.Errorf("too many indices: %d for a rank-%d tensor", n, rank)
	}
	full := func(k int) []indexEntry {
		out := make([]indexEntry, k)
		for i := range out {
			out[i] = indexEntry{kind: idxSlice}
		}
		return out
	}
	if ell < 0 {
		return append(append([]indexEntry(nil), key...), full(rank-n)...), nil
	}
	out := append([]indexEntry(nil), key[:ell]...)
	out = append(out, full(rank-n)...)
	return append(out, key[ell+1:]...), nil
}

// sliceLen is len(range(*slice(start, stop, step).indices(d))).
func sliceLen(e indexEntry, d int) int {
	step := 1
	if e.step != nil {
		step = *e.step
	}
	clamp := func(p *int, def, lo, hi int) int {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += d
		}
		return min(max(v, lo), hi)
	}
	var start, stop int
	if step > 0 {
		start, stop = clamp(e.start, 0, 0, d), clamp(e.stop, d, 0, d)
		if stop <= start {
			return 0
		}
		return (stop - start + step - 1) / step
	}
	start, stop = clamp(e.start, d-1, -1, d-1), clamp(e.stop, -1, -1, d-1)
	if start <= stop {
		return 0
	}
	return (start - stop - step - 1) / -step
}

func (l *GetItem) key(in int, call *CallInfo) ([]indexEntry, error) {
	if in != 1 || call == nil || call.Consts[1] == nil {
		return nil, fmt.Errorf("want x[key] with a constant key; a tensor key (dynamic indexing) is not supported: %w", ErrUnsupported)
	}
	return parseIndexKey(call.Consts[1])
}

// getItemShape applies an expanded key to a shape.
func getItemShape(key []indexEntry, s Shape) (Shape, error) {
	var out Shape
	ax := 0
	for _, e := range key {
		switch e.kind {
		case idxNewAxis:
			out = append(out, 1)
		case idxInt:
			d := s[ax]
			if d >= 0 && (e.i < -d || e.i >= d) {
				return nil, fmt.Errorf("index %d is out of bounds for axis %d of size %d", e.i, ax, d)
			}
			ax++
		case idxSlice:
			d := s[ax]
			if d < 0 {
				out = append(out, -1)
			} else {
				out = append(out, sliceLen(e, d))
			}
			ax++
		}
	}
	return out, nil
}

// Build returns x[key]'s shape; it needs the call's key.
func (l *GetItem) Build(in []Shape) ([]Shape, error) { return l.BuildCall(in, nil) }

// BuildCall returns x[key]'s shape.
func (l *GetItem) BuildCall(in []Shape, call *CallInfo) ([]Shape, error) {
	key, err := l.key(len(in), call)
	if err != nil {
		return nil, coreErr(l, err)
	}
	if key, err = expandIndex(key, len(in[0])); err != nil {
		return nil, coreErr(l, err)
	}
	out, err := getItemShape(key, in[0])
	if err != nil {
		return nil, coreErr(l, err)
	}
	l.Built = true
	return []Shape{out}, nil
}

// Lower needs the call's key.
func (l *GetItem) Lower(b *Builder, in []Tensor) ([]Tensor, error) { return l.LowerCall(b, in, nil) }

// LowerCall emits Slice, Squeeze and Unsqueeze.
func (l *GetItem) LowerCall(b *Builder, in []Tensor, call *CallInfo) ([]Tensor, error) {
	key, err := l.key(len(in), call)
	if err != nil {
		return nil, coreErr(l, err)
	}
	x := in[0]
	if key, err = expandIndex(key, len(x.Shape)); err != nil {
		return nil, coreErr(l, err)
	}
	shape, err := getItemShape(key, x.Shape)
	if err != nil {
		return nil, coreErr(l, err)
	}
	const big, small = math.MaxInt64, math.MinInt64
	var starts, ends, axes, steps, squeeze, unsqueeze []int64
	ax, outAx := 0, 0
	for _, e := range key {
		switch e.kind {
		case idxNewAxis:
			unsqueeze = append(unsqueeze, int64(outAx))
			outAx++
		case idxInt:
			end := int64(e.i + 1)
			if e.i == -1 {
				end = big
			}
			starts, ends, axes, steps = append(starts, int64(e.i)), append(ends, end), append(axes, int64(ax)), append(steps, 1)
			squeeze = append(squeeze, int64(ax))
			ax++
		case idxSlice:
			step := 1
			if e.step != nil {
				step = *e.step
			}
			start, end := int64(0), int64(big)
			if step < 0 {
				start, end = big, small
			}
			if e.start != nil {
				start = int64(*e.start)
			}
			if e.stop != nil {
				end = int64(*e.stop)
			}
			if !(step == 1 && start == 0 && end == big) {
				starts, ends, axes, steps = append(starts, start), append(ends, end), append(axes, int64(ax)), append(steps, int64(step))
			}
			ax++
			outAx++
		}
	}
	y := x.Name
	if len(starts) > 0 {
		y = b.Op("Slice", nil, y, b.Ints(starts...), b.Ints(ends...), b.Ints(axes...), b.Ints(steps...))
	}
	if len(squeeze) > 0 {
		y = b.Op("Squeeze", nil, y, b.Ints(squeeze...))
	}
	if len(unsqueeze) > 0 {
		y = b.Op("Unsqueeze", nil, y, b.Ints(unsqueeze...))
	}
	if y == x.Name {
		y = b.Op("Identity", graph.Attrs{}, y)
	}
	return []Tensor{{Name: y, Shape: shape, DType: x.DType}}, nil
}
