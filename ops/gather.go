package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Gather picks slices of data along axis (default 0) at the given int32/int64
// indices (ONNX Gather-13): out[a..., i..., b...] = data[a..., indices[i...],
// b...]; the output shape is data.shape[:axis] + indices.shape +
// data.shape[axis+1:]. Negative indices count from the end; indices outside
// [-d, d) are errors.
var Gather = &Def{Name: "Gather", Infer: shpNeed(2, shpInferGather), Kernel: shpGatherKernel}

// GatherElements picks single elements along axis (ONNX GatherElements-13):
// out[p] = data[p with p[axis] replaced by indices[p]]; the output has the
// shape of indices. Negative indices count from the end.
var GatherElements = &Def{Name: "GatherElements", Infer: shpNeed(2, func(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[1]
	t.DType = ic.In[0].DType
	return []graph.Type{t}, nil
}), Kernel: shpGatherElementsKernel}

// GatherND gathers slices of data addressed by the last dimension of indices
// (ONNX GatherND-13). With batch_dims b the first b dims of data and indices
// are batch dims that must match; each index tuple of length k selects
// data[batch..., i0..ik-1, ...]; the output shape is indices.shape[:-1] +
// data.shape[b+k:]. Negative indices count from the end.
var GatherND = &Def{Name: "GatherND", Infer: shpNeed(2, shpInferGatherND), Kernel: shpGatherNDKernel}

func init() {
	Register(Gather)
	Register(GatherElements)
	Register(GatherND)
}

func shpInferGather(ic *InferContext) ([]graph.Type, error) {
	d, ix := ic.In[0], ic.In[1]
	if d.Unranked || ix.Unranked {
		return []graph.Type{graph.UnrankedType(d.DType)}, nil
	}
	axis, err := shpAxis(ic.Node, int(ic.Node.Attrs.Int("axis", 0)), len(d.Shape))
	if err != nil {
		return nil, err
	}
	out := append(append(append([]int{}, d.Shape[:axis]...), ix.Shape...), d.Shape[axis+1:]...)
	return []graph.Type{graph.TensorType(d.DType, out...)}, nil
}

// shpIndex normalizes index v against dimension size d.
func shpIndex(n *graph.Node, v, d int) (int, error) {
	if v < -d || v >= d {
		return 0, Errorf(n, "index %d out of range for dimension of size %d", v, d)
	}
	if v < 0 {
		v += d
	}
	return v, nil
}

func shpGatherKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs data and indices inputs")
	}
	x := in[0]
	s := x.Shape()
	if len(s) == 0 {
		return nil, Errorf(n, "data must have rank >= 1")
	}
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), len(s))
	if err != nil {
		return nil, err
	}
	ind, err := shpInts(n, in[1], "indices")
	if err != nil {
		return nil, err
	}
	outer, d, inner := shpOuterInner(s, axis)
	for i, v := range ind {
		if ind[i], err = shpIndex(n, v, d); err != nil {
			return nil, err
		}
	}
	out := append(append(append(tensor.Shape{}, s[:axis]...), in[1].Shape()...), s[axis+1:]...)
	idx := make([]int, 0, out.Size())
	for o := 0; o < outer; o++ {
		for _, v := range ind {
			b := (o*d + v) * inner
			for j := 0; j < inner; j++ {
				idx = append(idx, b+j)
			}
		}
	}
	r, err := shpTake(x, out, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}

// shpElementsIndex maps each position of an indices tensor of shape is to
// the flat position in a tensor of shape ds with the axis coordinate
// replaced by the index value (as used by GatherElements and
// ScatterElements).
func shpElementsIndex(n *graph.Node, ds, is tensor.Shape, ind []int, axis int) ([]int, error) {
	if len(ds) != len(is) {
		return nil, Errorf(n, "indices rank %d differs from data rank %d", len(is), len(ds))
	}
	for i := range is {
		if i != axis && is[i] > ds[i] {
			return nil, Errorf(n, "indices shape %v exceeds data shape %v on axis %d", is, ds, i)
		}
	}
	dst := ds.Strides()
	base := shpMap(is, 0, dst) // flat data index of each indices position with axis coordinate 0
	ist := is.Strides()
	out := make([]int, len(ind))
	for p, v := range ind {
		k, err := shpIndex(n, v, ds[axis])
		if err != nil {
			return nil, err
		}
		pa := (p / ist[axis]) % is[axis]
		out[p] = base[p] - pa*dst[axis] + k*dst[axis]
	}
	return out, nil
}

func shpGatherElementsKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs data and indices inputs")
	}
	x := in[0]
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), x.Rank())
	if err != nil {
		return nil, err
	}
	ind, err := shpInts(n, in[1], "indices")
	if err != nil {
		return nil, err
	}
	idx, err := shpElementsIndex(n, x.Shape(), in[1].Shape(), ind, axis)
	if err != nil {
		return nil, err
	}
	r, err := shpTake(x, in[1].Shape(), idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}

func shpInferGatherND(ic *InferContext) ([]graph.Type, error) {
	d, ix := ic.In[0], ic.In[1]
	b := int(ic.Node.Attrs.Int("batch_dims", 0))
	if d.Unranked || ix.Unranked || len(ix.Shape) == 0 || ix.Shape[len(ix.Shape)-1] < 0 {
		return []graph.Type{graph.UnrankedType(d.DType)}, nil
	}
	k := ix.Shape[len(ix.Shape)-1]
	if b+k > len(d.Shape) {
		return nil, ic.Errorf("index tuples of length %d with batch_dims %d exceed data rank %d", k, b, len(d.Shape))
	}
	out := append(append([]int{}, ix.Shape[:len(ix.Shape)-1]...), d.Shape[b+k:]...)
	return []graph.Type{graph.TensorType(d.DType, out...)}, nil
}

// shpNDIndex resolves the index tuples of a GatherND/ScatterND: for each
// tuple, the flat offset of the addressed slice in data, plus the slice size
// and the output (or updates) shape.
func shpNDIndex(n *graph.Node, ds, is tensor.Shape, ind []int, b int) (offs []int, slice int, outShape tensor.Shape, err error) {
	q := len(is)
	if q == 0 {
		return nil, 0, nil, Errorf(n, "indices must have rank >= 1")
	}
	k := is[q-1]
	if b < 0 || b >= q || b > len(ds) {
		return nil, 0, nil, Errorf(n, "batch_dims %d invalid for indices rank %d and data rank %d", b, q, len(ds))
	}
	if b+k > len(ds) {
		return nil, 0, nil, Errorf(n, "index tuples of length %d with batch_dims %d exceed data rank %d", k, b, len(ds))
	}
	for i := 0; i < b; i++ {
		if ds[i] != is[i] {
			return nil, 0, nil, Errorf(n, "batch dimension %d differs: data %v, indices %v", i, ds, is)
		}
	}
	outShape = append(append(tensor.Shape{}, is[:q-1]...), ds[b+k:]...)
	slice = tensor.Shape(ds[b+k:]).Size()
	dst := ds.Strides()
	batchSize := tensor.Shape(ds[b:]).Size()
	tuples := tensor.Shape(is[:q-1]).Size()
	perBatch := tensor.Shape(is[b : q-1]).Size()
	offs = make([]int, tuples)
	for t := 0; t < tuples; t++ {
		off := 0
		if perBatch > 0 {
			off = (t / perBatch) * batchSize
		}
		for j := 0; j < k; j++ {
			v, err := shpIndex(n, ind[t*k+j], ds[b+j])
			if err != nil {
				return nil, 0, nil, err
			}
			off += v * dst[b+j]
		}
		offs[t] = off
	}
	return offs, slice, outShape, nil
}

func shpGatherNDKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs data and indices inputs")
	}
	ind, err := shpInts(n, in[1], "indices")
	if err != nil {
		return nil, err
	}
	offs, slice, os, err := shpNDIndex(n, in[0].Shape(), in[1].Shape(), ind, int(n.Attrs.Int("batch_dims", 0)))
	if err != nil {
		return nil, err
	}
	idx := make([]int, 0, len(offs)*slice)
	for _, o := range offs {
		for j := 0; j < slice; j++ {
			idx = append(idx, o+j)
		}
	}
	r, err := shpTake(in[0], os, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}
