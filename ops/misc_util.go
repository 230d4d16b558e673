package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Shared helpers of the quantization, string, signal and assorted ops.

// miParamIndex maps every element of a tensor of shape xs to the flat index
// of its quantization parameter (scale or zero point) of shape ps: a scalar
// or one-element parameter applies to all elements (per-tensor); a 1-D
// parameter of length xs[axis] applies along axis (per-axis); a parameter of
// the same rank whose axis dimension is ceil(xs[axis]/block) applies to
// blocks of block consecutive elements along axis (blocked).
func miParamIndex(xs, ps tensor.Shape, axis, block int) ([]int, string) {
	n := xs.Size()
	idx := make([]int, n)
	if ps.Size() == 1 && (len(ps) <= 1 || block == 0) {
		return idx, ""
	}
	rank := len(xs)
	if rank == 0 {
		return nil, "a non-scalar parameter needs a non-scalar input"
	}
	a, err := tensor.NormAxis(axis, rank)
	if err != nil {
		return nil, err.Error()
	}
	xst := xs.Strides()
	if block <= 0 {
		if len(ps) != 1 || ps[0] != xs[a] {
			return nil, "per-axis parameter must be 1-D with length equal to the input's axis dimension"
		}
		for i := range idx {
			idx[i] = (i / xst[a]) % xs[a]
		}
		return idx, ""
	}
	if len(ps) != rank {
		return nil, "blocked parameter must have the input's rank"
	}
	for d := range rank {
		want := xs[d]
		if d == a {
			want = (xs[d] + block - 1) / block
		}
		if ps[d] != want {
			return nil, "blocked parameter shape must equal the input's shape except ceil(dim/block_size) on axis"
		}
	}
	pst := ps.Strides()
	for i := range idx {
		r, p := i, 0
		for d := range rank {
			c := r / xst[d]
			r %= xst[d]
			if d == a {
				c /= block
			}
			p += c * pst[d]
		}
		idx[i] = p
	}
	return idx, ""
}

// miIntRange returns the saturation range of an integer element type.
func miIntRange(dt tensor.DType) (lo, hi float64, ok bool) {
	switch dt {
	case tensor.Uint8:
		return 0, math.MaxUint8, true
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8, true
	case tensor.Uint16:
		return 0, math.MaxUint16, true
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16, true
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32, true
	case tensor.Uint32:
		return 0, math.MaxUint32, true
	}
	return 0, 0, false
}

// miSaturate rounds v half to even and clamps it to [lo, hi].
func miSaturate(v, lo, hi float64) float64 {
	v = math.RoundToEven(v)
	if math.IsNaN(v) {
		return 0
	}
	return math.Max(lo, math.Min(hi, v))
}

// miRoundTo rounds v to the precision of the float type dt, as storing it
// in a tensor of that type would.
func miRoundTo(dt tensor.DType, v float64) float64 {
	switch dt {
	case tensor.Float32:
		return float64(float32(v))
	case tensor.Float16:
		return float64(tensor.ToHalf(float32(v)).Float32())
	case tensor.BFloat16:
		return float64(tensor.ToBHalf(float32(v)).Float32())
	}
	return v
}

// miPromote is numpy's result type of arithmetic between two element types,
// restricted to what the quantization ops meet: integers mixed with floats
// compute in float64 unless the float is 16-bit.
func miPromote(a, b tensor.DType) tensor.DType {
	if a == b {
		if a.IsFloat() {
			return a
		}
		return tensor.Float64
	}
	if a == tensor.Float64 || b == tensor.Float64 {
		return tensor.Float64
	}
	if a.IsInt() || b.IsInt() {
		return tensor.Float64
	}
	return tensor.Float32
}

// miTypes builds a type list.
func miTypes(ts ...graph.Type) []graph.Type { return ts }

// miShapeOf returns the known shape of an input type, or nil if unranked.
func miShapeOf(t graph.Type) []int {
	if t.Unranked {
		return nil
	}
	return t.Shape
}

// miSameShape returns a tensor type with dtype dt and the shape of t.
func miSameShape(dt tensor.DType, t graph.Type) graph.Type {
	if t.Unranked {
		return graph.UnrankedType(dt)
	}
	return graph.TensorType(dt, t.Shape...)
}

// miUnknown returns a ranked tensor type with all dimensions unknown.
func miUnknown(dt tensor.DType, rank int) graph.Type {
	s := make([]int, rank)
	for i := range s {
		s[i] = -1
	}
	return graph.TensorType(dt, s...)
}
