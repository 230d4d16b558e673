package ops

// Shared helpers of the shape, layout and indexing ops. Most of these ops move
// elements without looking at them, so they are written once as an index map
// (output element i comes from input element idx[i]) applied to a tensor of
// any element type by shpTake.

import (
	"cmp"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// shpTake returns a tensor of src's dtype and the given shape whose element i
// is src's flat element idx[i], or fill's first element (the zero value when
// fill is nil) where idx[i] < 0. fill must have src's dtype.
func shpTake(src *tensor.Tensor, shape tensor.Shape, idx []int, fill *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := tensor.NewChecked(src.DType(), shape)
	if err != nil {
		return nil, err
	}
	if out.Len() != len(idx) {
		return nil, fmt.Errorf("index map has %d entries for shape %v", len(idx), shape)
	}
	var fd any
	if fill != nil {
		fd = fill.Data()
	}
	switch d := out.Data().(type) {
	case []float32:
		shpTakeT(d, src.Data().([]float32), idx, fd)
	case []float64:
		shpTakeT(d, src.Data().([]float64), idx, fd)
	case []tensor.Half:
		shpTakeT(d, src.Data().([]tensor.Half), idx, fd)
	case []tensor.BHalf:
		shpTakeT(d, src.Data().([]tensor.BHalf), idx, fd)
	case []int8:
		shpTakeT(d, src.Data().([]int8), idx, fd)
	case []int16:
		shpTakeT(d, src.Data().([]int16), idx, fd)
	case []int32:
		shpTakeT(d, src.Data().([]int32), idx, fd)
	case []int64:
		shpTakeT(d, src.Data().([]int64), idx, fd)
	case []uint8:
		shpTakeT(d, src.Data().([]uint8), idx, fd)
	case []uint16:
		shpTakeT(d, src.Data().([]uint16), idx, fd)
	case []uint32:
		shpTakeT(d, src.Data().([]uint32), idx, fd)
	case []uint64:
		shpTakeT(d, src.Data().([]uint64), idx, fd)
	case []bool:
		shpTakeT(d, src.Data().([]bool), idx, fd)
	case []string:
		shpTakeT(d, src.Data().([]string), idx, fd)
	default:
		if !lbTake(d, src.Data(), idx, fd) {
			return nil, fmt.Errorf("unsupported element type %v", src.DType())
		}
	}
	return out, nil
}

func shpTakeT[T any](dst, src []T, idx []int, fill any) {
	var f T
	if fs, ok := fill.([]T); ok && len(fs) > 0 {
		f = fs[0]
	}
	for i, j := range idx {
		if j < 0 {
			dst[i] = f
		} else {
			dst[i] = src[j]
		}
	}
}

// shpPut copies src's flat element i into dst's flat element idx[i] (dst
// and src share a dtype); later entries win.
func shpPut(dst, src *tensor.Tensor, idx []int) {
	switch d := dst.Data().(type) {
	case []float32:
		shpPutT(d, src.Data().([]float32), idx)
	case []float64:
		shpPutT(d, src.Data().([]float64), idx)
	case []tensor.Half:
		shpPutT(d, src.Data().([]tensor.Half), idx)
	case []tensor.BHalf:
		shpPutT(d, src.Data().([]tensor.BHalf), idx)
	case []int8:
		shpPutT(d, src.Data().([]int8), idx)
	case []int16:
		shpPutT(d, src.Data().([]int16), idx)
	case []int32:
		shpPutT(d, src.Data().([]int32), idx)
	case []int64:
		shpPutT(d, src.Data().([]int64), idx)
	case []uint8:
		shpPutT(d, src.Data().([]uint8), idx)
	case []uint16:
		shpPutT(d, src.Data().([]uint16), idx)
	case []uint32:
		shpPutT(d, src.Data().([]uint32), idx)
	case []uint64:
		shpPutT(d, src.Data().([]uint64), idx)
	case []bool:
		shpPutT(d, src.Data().([]bool), idx)
	case []string:
		shpPutT(d, src.Data().([]string), idx)
	default:
		lbPut(d, src.Data(), idx)
	}
}

func shpPutT[T any](dst, src []T, idx []int) {
	for i, j := range idx {
		dst[j] = src[i]
	}
}

// shpIdentity returns 0..n-1.
func shpIdentity(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// shpCompare returns a three-way comparison of the flat elements of t
// (numbers by value, NaN after every number; bools false < true; strings
// bytewise). Half and BHalf compare by value.
func shpCompare(t *tensor.Tensor) func(i, j int) int {
	switch s := t.Data().(type) {
	case []float32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []float64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []tensor.Half:
		return func(i, j int) int { return cmp.Compare(s[i].Float32(), s[j].Float32()) }
	case []tensor.BHalf:
		return func(i, j int) int { return cmp.Compare(s[i].Float32(), s[j].Float32()) }
	case []int8:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []int16:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []int32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []int64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []uint8:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []uint16:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []uint32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []uint64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	case []bool:
		return func(i, j int) int {
			a, b := 0, 0
			if s[i] {
				a = 1
			}
			if s[j] {
				b = 1
			}
			return a - b
		}
	case []string:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }
	}
	return func(i, j int) int { return 0 }
}

// shpInts reads an integer tensor input (int32 or int64) as ints.
func shpInts(n *graph.Node, t *tensor.Tensor, what string) ([]int, error) {
	if t == nil {
		return nil, nil
	}
	if !t.DType().IsInt() {
		return nil, Errorf(n, "%s must be an integer tensor, got %v", what, t.DType())
	}
	v := t.Int64s()
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// shpIntList reads an int64 list attribute as ints (nil when absent).
func shpIntList(a graph.Attrs, name string) []int {
	v := a.Ints(name)
	if v == nil {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// shpAxes normalizes axes against rank, rejecting out-of-range and repeated
// axes.
func shpAxes(n *graph.Node, axes []int, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make(map[int]bool, len(axes))
	for i, a := range axes {
		if a < -rank || a >= rank {
			return nil, Errorf(n, "axis %d out of range for rank %d", a, rank)
		}
		if a < 0 {
			a += rank
		}
		if seen[a] {
			return nil, Errorf(n, "axis %d repeated", a)
		}
		seen[a] = true
		out[i] = a
	}
	return out, nil
}

// shpAxis normalizes one axis.
func shpAxis(n *graph.Node, axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, Errorf(n, "axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

// shpCastScalar converts the first element of t to dtype dt (for fill values
// given with a different dtype, e.g. Pad's old float attribute).
func shpCastScalar(t *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	if t == nil || t.Len() == 0 {
		return nil
	}
	if t.DType() == dt {
		return t
	}
	if dt == tensor.String || t.DType() == tensor.String {
		return nil
	}
	return tensor.FromFloat64s(dt, nil, []float64{t.At(0)})
}

// shpOuterInner splits shape around axis: the product of the dims before it,
// the axis dim and the product of the dims after it.
func shpOuterInner(s tensor.Shape, axis int) (outer, dim, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, s[axis], inner
}

// shpInferUnknown returns a tensor type of the given dtype and rank with
// every dim unknown (rank < 0: unranked).
func shpInferUnknown(dt tensor.DType, rank int) graph.Type {
	if rank < 0 {
		return graph.UnrankedType(dt)
	}
	s := make([]int, rank)
	for i := range s {
		s[i] = -1
	}
	return graph.TensorType(dt, s...)
}

// shpMap builds the index map of a strided view: for each output position
// (row-major over outShape), the flat source index base + sum(pos[d]*strides[d]).
func shpMap(outShape tensor.Shape, base int, strides []int) []int {
	n := outShape.Size()
	idx := make([]int, n)
	if n == 0 {
		return idx
	}
	rank := len(outShape)
	ctr := make([]int, rank)
	cur := base
	for i := 0; i < n; i++ {
		idx[i] = cur
		for d := rank - 1; d >= 0; d-- {
			ctr[d]++
			cur += strides[d]
			if ctr[d] < outShape[d] {
				break
			}
			cur -= strides[d] * ctr[d]
			ctr[d] = 0
		}
	}
	return idx
}

// shpProduct builds the index map of an output whose coordinate c on axis a
// reads source coordinate maps[a][c] (-1: no source, the element is filled);
// strides are the source strides.
func shpProduct(maps [][]int, strides []int) []int {
	n := 1
	for _, m := range maps {
		n *= len(m)
	}
	idx := make([]int, 0, n)
	if n == 0 {
		return idx
	}
	var rec func(a, off int, fill bool)
	rec = func(a, off int, fill bool) {
		if a == len(maps) {
			if fill {
				idx = append(idx, -1)
			} else {
				idx = append(idx, off)
			}
			return
		}
		for _, s := range maps[a] {
			if s < 0 {
				rec(a+1, off, true)
			} else {
				rec(a+1, off+s*strides[a], fill)
			}
		}
	}
	rec(0, 0, false)
	return idx
}

// shpShapeOf returns the output shape of a shpProduct map.
func shpShapeOf(maps [][]int) tensor.Shape {
	s := make(tensor.Shape, len(maps))
	for i, m := range maps {
		s[i] = len(m)
	}
	return s
}

// shpNeed wraps an Infer function with a check that the node has at least k
// inputs, so the function may index ic.In[0..k-1] freely.
func shpNeed(k int, f func(ic *InferContext) ([]graph.Type, error)) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < k {
			return nil, ic.Errorf("needs at least %d inputs, got %d", k, len(ic.In))
		}
		return f(ic)
	}
}

// shpCheckShape reports whether a tensor of shape s could be allocated
// (no negative dimension, at most tensor.MaxElements elements).
func shpCheckShape(s []int) error {
	n := 1
	for _, d := range s {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", s)
		}
		if d != 0 && n > tensor.MaxElements/d {
			return fmt.Errorf("shape %v has more than %d elements", s, tensor.MaxElements)
		}
		n *= d
	}
	return nil
}
