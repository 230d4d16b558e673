package ops

import (
	"reflect"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TensorScatter writes update into a copy of past_cache along one axis (ONNX
// TensorScatter-24), the KV-cache update of decoder models. past_cache has
// shape [B, D1, ..., S_max, ..., Dn] and update the same shape except S <=
// S_max on axis (attribute, default -2; must not be the batch axis 0).
// write_indices ([B] int64, default all zeros) gives each batch entry's
// start position p: present[b, ..., p+s, ...] = update[b, ..., s, ...]. With
// mode "linear" (default) p+s must be < S_max; with mode "circular" it wraps
// modulo S_max. Out-of-range positions in linear mode are an error.
var TensorScatter = &Def{Name: "TensorScatter", Infer: InferSame(0), Kernel: rsTensorScatterKernel}

func init() { Register(TensorScatter) }

func rsTensorScatterKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	past, upd, wi := rsIn(in, 0), rsIn(in, 1), rsIn(in, 2)
	if past == nil || upd == nil {
		return nil, Errorf(n, "needs inputs past_cache and update")
	}
	mode := n.Attrs.String("mode", "linear")
	if mode != "linear" && mode != "circular" {
		return nil, Errorf(n, "mode %q must be \"linear\" or \"circular\"", mode)
	}
	ps, us := past.Shape(), upd.Shape()
	if past.DType() != upd.DType() {
		return nil, Errorf(n, "update type %v differs from past_cache type %v", upd.DType(), past.DType())
	}
	if len(ps) < 2 || len(us) != len(ps) {
		return nil, Errorf(n, "past_cache %v and update %v must have the same rank, at least 2", ps, us)
	}
	axis, err := tensor.NormAxis(int(n.Attrs.Int("axis", -2)), len(ps))
	if err != nil || axis == 0 {
		return nil, Errorf(n, "axis %d must be a non-batch axis of a rank-%d tensor", n.Attrs.Int("axis", -2), len(ps))
	}
	for i := range ps {
		if (i != axis && ps[i] != us[i]) || (i == axis && us[i] > ps[i]) {
			return nil, Errorf(n, "update %v does not fit past_cache %v along axis %d", us, ps, axis)
		}
	}
	B := ps[0]
	starts := make([]int64, B)
	if wi != nil {
		if wi.Len() != B || !wi.DType().IsInt() {
			return nil, Errorf(n, "write_indices must be %d integers, got %v %v", B, wi.DType(), wi.Shape())
		}
		starts = wi.Int64s()
	}
	maxS, S := ps[axis], us[axis]
	// Rows: outer = product of dims between batch and axis; inner = product
	// of dims after axis.
	outer := 1
	for _, d := range ps[1:axis] {
		outer *= d
	}
	inner := 1
	for _, d := range ps[axis+1:] {
		inner *= d
	}
	out := past.Clone()
	// Copy element blocks by flat index using a generic per-element copy.
	pv, uv := out, upd
	for b := 0; b < B; b++ {
		for o := 0; o < outer; o++ {
			for s := 0; s < S; s++ {
				p := starts[b] + int64(s)
				if mode == "circular" {
					p = ((p % int64(maxS)) + int64(maxS)) % int64(maxS)
				} else if p < 0 || p >= int64(maxS) {
					return nil, Errorf(n, "write position %d for batch %d is outside the cache length %d", p, b, maxS)
				}
				dst := ((b*outer+o)*maxS + int(p)) * inner
				src := ((b*outer+o)*S + s) * inner
				rsCopyRange(pv, dst, uv, src, inner)
			}
		}
	}
	return []*tensor.Tensor{out}, nil
}

// rsCopyRange copies n elements of src from offset so to dst at offset do;
// both tensors have the same element type (any element type).
func rsCopyRange(dst *tensor.Tensor, do int, src *tensor.Tensor, so, n int) {
	reflect.Copy(reflect.ValueOf(dst.Data()).Slice(do, do+n), reflect.ValueOf(src.Data()).Slice(so, so+n))
}
