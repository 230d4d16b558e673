package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ScatterElements returns a copy of data with elements replaced by updates
// (ONNX ScatterElements-18): for each position p of indices (whose shape
// updates shares), out[p with p[axis] replaced by indices[p]] is updated
// with updates[p]. reduction "none" (default) assigns (the last write wins
// for duplicate indices, in row-major order), "add", "mul", "max" and "min"
// combine with the current value. Negative indices count from the end.
// ONNX's deprecated Scatter (opsets 9-10) maps to this op.
var ScatterElements = &Def{Name: "ScatterElements", Infer: InferSame(0), Kernel: shpScatterElementsKernel}

// ScatterND returns a copy of data with slices replaced by updates (ONNX
// ScatterND-18): indices has shape (..., k); each index tuple addresses a
// slice data[i0..ik-1, ...] which is updated with the matching slice of
// updates (shape indices.shape[:-1] + data.shape[k:]). reduction as in
// ScatterElements.
var ScatterND = &Def{Name: "ScatterND", Infer: InferSame(0), Kernel: shpScatterNDKernel}

func init() {
	Register(ScatterElements)
	Register(ScatterND)
}

type shpNum interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func shpReduceT[T shpNum](d, s []T, idx []int, red string) {
	for i, j := range idx {
		a, b := d[j], s[i]
		switch red {
		case "add":
			d[j] = a + b
		case "mul":
			d[j] = a * b
		case "max":
			d[j] = max(a, b)
		case "min":
			d[j] = min(a, b)
		}
	}
}

func shpReduceHalf[H ~uint16](d, s []H, idx []int, red string, to32 func(H) float32, from32 func(float32) H) {
	for i, j := range idx {
		v := []float32{to32(d[j])}
		shpReduceT(v, []float32{to32(s[i])}, []int{0}, red)
		d[j] = from32(v[0])
	}
}

// shpScatter writes src's element i into dst's element idx[i], combining
// them by reduction red (none, add, mul, max, min).
func shpScatter(n *graph.Node, dst, src *tensor.Tensor, idx []int, red string) error {
	if src.DType() != dst.DType() {
		return Errorf(n, "updates are %v but data is %v", src.DType(), dst.DType())
	}
	switch red {
	case "", "none":
		shpPut(dst, src, idx)
		return nil
	case "add", "mul", "max", "min":
	default:
		return Errorf(n, "unknown reduction %q (want none, add, mul, max or min)", red)
	}
	switch d := dst.Data().(type) {
	case []float32:
		shpReduceT(d, src.Data().([]float32), idx, red)
	case []float64:
		shpReduceT(d, src.Data().([]float64), idx, red)
	case []int8:
		shpReduceT(d, src.Data().([]int8), idx, red)
	case []int16:
		shpReduceT(d, src.Data().([]int16), idx, red)
	case []int32:
		shpReduceT(d, src.Data().([]int32), idx, red)
	case []int64:
		shpReduceT(d, src.Data().([]int64), idx, red)
	case []uint8:
		shpReduceT(d, src.Data().([]uint8), idx, red)
	case []uint16:
		shpReduceT(d, src.Data().([]uint16), idx, red)
	case []uint32:
		shpReduceT(d, src.Data().([]uint32), idx, red)
	case []uint64:
		shpReduceT(d, src.Data().([]uint64), idx, red)
	case []tensor.Half:
		shpReduceHalf(d, src.Data().([]tensor.Half), idx, red, tensor.Half.Float32, tensor.ToHalf)
	case []tensor.BHalf:
		shpReduceHalf(d, src.Data().([]tensor.BHalf), idx, red, tensor.BHalf.Float32, tensor.ToBHalf)
	default:
		return Unsupported(n, "reduction %q on %v", red, dst.DType())
	}
	return nil
}

func shpScatterElementsKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs data, indices and updates inputs")
	}
	x := in[0]
	axis, err := shpAxis(n, int(n.Attrs.Int("axis", 0)), x.Rank())
	if err != nil {
		return nil, err
	}
	if !in[1].Shape().Equal(in[2].Shape()) {
		return nil, Errorf(n, "indices shape %v differs from updates shape %v", in[1].Shape(), in[2].Shape())
	}
	ind, err := shpInts(n, in[1], "indices")
	if err != nil {
		return nil, err
	}
	idx, err := shpElementsIndex(n, x.Shape(), in[1].Shape(), ind, axis)
	if err != nil {
		return nil, err
	}
	out := x.Clone()
	if err := shpScatter(n, out, in[2], idx, n.Attrs.String("reduction", "none")); err != nil {
		return nil, err
	}
	return []*tensor.Tensor{out}, nil
}

func shpScatterNDKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs data, indices and updates inputs")
	}
	ind, err := shpInts(n, in[1], "indices")
	if err != nil {
		return nil, err
	}
	offs, slice, us, err := shpNDIndex(n, in[0].Shape(), in[1].Shape(), ind, 0)
	if err != nil {
		return nil, err
	}
	if !us.Equal(in[2].Shape()) {
		return nil, Errorf(n, "updates shape %v, want %v", in[2].Shape(), us)
	}
	idx := make([]int, 0, len(offs)*slice)
	for _, o := range offs {
		for j := 0; j < slice; j++ {
			idx = append(idx, o+j)
		}
	}
	out := in[0].Clone()
	if err := shpScatter(n, out, in[2], idx, n.Attrs.String("reduction", "none")); err != nil {
		return nil, err
	}
	return []*tensor.Tensor{out}, nil
}
