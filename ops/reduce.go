package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// rdKind identifies one of the ONNX Reduce* ops.
type rdKind int

const (
	rdSum rdKind = iota
	rdMean
	rdMax
	rdMin
	rdProd
	rdL1
	rdL2
	rdLogSum
	rdLogSumExp
	rdSumSquare
)

// Reductions (ONNX ReduceSum-13, ReduceMean/ReduceProd/ReduceL1/ReduceL2/
// ReduceLogSum/ReduceLogSumExp/ReduceSumSquare-18, ReduceMax/ReduceMin-20)
// reduce input 0 over the axes given by the optional int64 input 1:
//
//	ReduceSum       Σ x           ReduceMean      Σ x / n
//	ReduceMax       max x         ReduceMin       min x
//	ReduceProd      Π x           ReduceSumSquare Σ x²
//	ReduceL1        Σ |x|         ReduceL2        sqrt(Σ x²)
//	ReduceLogSum    log Σ x       ReduceLogSumExp log Σ exp(x)
//
// Attributes: keepdims (default 1) keeps reduced axes as size 1;
// noop_with_empty_axes (default 0): when axes is absent or empty, 1 returns
// the input unchanged and 0 reduces over all axes. Negative axes count from
// the back. Reducing an empty set gives the identity of the reduction: 0 for
// sums and norms, 1 for products, -inf for LogSum/LogSumExp, and for
// Max/Min the lowest/highest value of the type (-inf/+inf for floats), as
// the ONNX reference implementation does; ReduceMean of an empty set is NaN.
// Float16/bfloat16 are computed in float32 and float32 in float64 before
// rounding back; integer types accumulate in their own type (with Go's
// wrap-around), and Mean of integers truncates toward zero. ReduceMax and
// ReduceMin accept bool (any / all). Older opsets, which take axes as an
// attribute, are rewritten by the ONNX importer.
var rdReduceDefs = map[string]rdKind{
	"ReduceSum": rdSum, "ReduceMean": rdMean, "ReduceMax": rdMax, "ReduceMin": rdMin,
	"ReduceProd": rdProd, "ReduceL1": rdL1, "ReduceL2": rdL2, "ReduceLogSum": rdLogSum,
	"ReduceLogSumExp": rdLogSumExp, "ReduceSumSquare": rdSumSquare,
}

func init() {
	for name, k := range rdReduceDefs {
		k := k
		Register(&Def{
			Name:  name,
			Infer: func(ic *InferContext) ([]graph.Type, error) { return rdReduceInfer(ic) },
			Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				return rdReduceKernel(n, k, in)
			},
		})
	}
}

// rdAxesPlan resolves the reduced axes of a rank-r input: reduce[i] is true
// for reduced axes; noop reports that the op is the identity.
func rdAxesPlan(n *graph.Node, axes []int64, haveAxes bool, rank int) (reduce []bool, noop bool, err error) {
	reduce = make([]bool, rank)
	if !haveAxes || len(axes) == 0 {
		if n.Attrs.Int("noop_with_empty_axes", 0) != 0 {
			return reduce, true, nil
		}
		for i := range reduce {
			reduce[i] = true
		}
		return reduce, false, nil
	}
	for _, a := range axes {
		ax := int(a)
		if ax < -rank || ax >= rank {
			return nil, false, Errorf(n, "axis %d out of range for input of rank %d", a, rank)
		}
		if ax < 0 {
			ax += rank
		}
		reduce[ax] = true
	}
	return reduce, false, nil
}

func rdReduceInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 || !ic.Has(0) {
		return nil, ic.Errorf("needs a data input")
	}
	in := ic.In[0]
	if in.Unranked {
		return []graph.Type{graph.UnrankedType(in.DType)}, nil
	}
	keep := ic.Node.Attrs.Int("keepdims", 1) != 0
	var axes []int64
	have := ic.Has(1)
	if have {
		c := ic.Const(1)
		if c == nil {
			// Axes known only at run time: the rank is known only with keepdims.
			if keep {
				s := make([]int, len(in.Shape))
				for i := range s {
					s[i] = -1
				}
				return []graph.Type{graph.TensorType(in.DType, s...)}, nil
			}
			return []graph.Type{graph.UnrankedType(in.DType)}, nil
		}
		axes = c.Int64s()
	}
	reduce, noop, err := rdAxesPlan(ic.Node, axes, have, len(in.Shape))
	if err != nil {
		return nil, err
	}
	if noop {
		return []graph.Type{in}, nil
	}
	var out []int
	for i, d := range in.Shape {
		switch {
		case !reduce[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	return []graph.Type{graph.TensorType(in.DType, out...)}, nil
}

func rdReduceKernel(n *graph.Node, k rdKind, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs a data input")
	}
	x := in[0]
	var axes []int64
	have := len(in) > 1 && in[1] != nil
	if have {
		if !in[1].DType().IsInt() {
			return nil, Errorf(n, "axes must be int64, got %v", in[1].DType())
		}
		axes = in[1].Int64s()
	}
	reduce, noop, err := rdAxesPlan(n, axes, have, x.Rank())
	if err != nil {
		return nil, err
	}
	if noop {
		return []*tensor.Tensor{x}, nil
	}
	keep := n.Attrs.Int("keepdims", 1) != 0
	// Output shape with reduced axes kept as 1 (used for indexing) and the
	// final shape.
	shape := x.Shape()
	kept := make(tensor.Shape, len(shape))
	var final tensor.Shape
	for i, d := range shape {
		if reduce[i] {
			kept[i] = 1
			if keep {
				final = append(final, 1)
			}
		} else {
			kept[i] = d
			final = append(final, d)
		}
	}
	if final == nil {
		final = tensor.Shape{}
	}
	// idx maps each input element to its output slot.
	idx := rdOutIndex(shape, kept, reduce)
	nout := kept.Size()
	count := 1
	for i, d := range shape {
		if reduce[i] {
			count *= d
		}
	}
	dt := x.DType()
	var out *tensor.Tensor
	switch d := x.Data().(type) {
	case []bool:
		if k != rdMax && k != rdMin {
			return nil, Unsupported(n, "bool input")
		}
		o := make([]bool, nout)
		for i := range o {
			o[i] = k == rdMin
		}
		for i, v := range d {
			if k == rdMax {
				o[idx[i]] = o[idx[i]] || v
			} else {
				o[idx[i]] = o[idx[i]] && v
			}
		}
		out = tensor.From(final, o)
	case []int8:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, math.MinInt8, math.MaxInt8))
	case []int16:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, math.MinInt16, math.MaxInt16))
	case []int32:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, math.MinInt32, math.MaxInt32))
	case []int64:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, math.MinInt64, math.MaxInt64))
	case []uint8:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, 0, math.MaxUint8))
	case []uint16:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, 0, math.MaxUint16))
	case []uint32:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, 0, math.MaxUint32))
	case []uint64:
		out = tensor.From(final, rdReduceInt(k, d, idx, nout, count, 0, math.MaxUint64))
	case []float32, []float64, []tensor.Half, []tensor.BHalf:
		out = tensor.FromFloat64s(dt, final, rdReduceFloat(k, x.Float64s(), idx, nout, count))
	default:
		return nil, Unsupported(n, "element type %v", dt)
	}
	return []*tensor.Tensor{out}, nil
}

// rdOutIndex returns, for each element of a tensor of shape s in row-major
// order, the flat index of its slot in the reduced shape kept (where reduced
// axes have size 1).
func rdOutIndex(s, kept tensor.Shape, reduce []bool) []int {
	n := s.Size()
	idx := make([]int, n)
	st := kept.Strides()
	for i, r := range reduce {
		if r {
			st[i] = 0
		}
	}
	rank := len(s)
	ctr := make([]int, rank)
	cur := 0
	for i := 0; i < n; i++ {
		idx[i] = cur
		for d := rank - 1; d >= 0; d-- {
			ctr[d]++
			cur += st[d]
			if ctr[d] < s[d] {
				break
			}
			cur -= st[d] * ctr[d]
			ctr[d] = 0
		}
	}
	return idx
}

func rdReduceFloat(k rdKind, x []float64, idx []int, nout, count int) []float64 {
	o := make([]float64, nout)
	switch k {
	case rdMax:
		for i := range o {
			o[i] = math.Inf(-1)
		}
		for i, v := range x {
			if v > o[idx[i]] || math.IsNaN(v) {
				o[idx[i]] = v
			}
		}
		return o
	case rdMin:
		for i := range o {
			o[i] = math.Inf(1)
		}
		for i, v := range x {
			if v < o[idx[i]] || math.IsNaN(v) {
				o[idx[i]] = v
			}
		}
		return o
	case rdProd:
		for i := range o {
			o[i] = 1
		}
		for i, v := range x {
			o[idx[i]] *= v
		}
		return o
	case rdLogSumExp:
		m := make([]float64, nout)
		for i := range m {
			m[i] = math.Inf(-1)
		}
		for i, v := range x {
			if v > m[idx[i]] {
				m[idx[i]] = v
			}
		}
		for i, v := range x {
			if !math.IsInf(m[idx[i]], 0) {
				o[idx[i]] += math.Exp(v - m[idx[i]])
			} else {
				o[idx[i]] += math.Exp(v)
			}
		}
		for i := range o {
			if math.IsInf(m[i], 0) {
				o[i] = math.Log(o[i])
			} else {
				o[i] = m[i] + math.Log(o[i])
			}
		}
		return o
	}
	for i, v := range x {
		switch k {
		case rdL1:
			v = math.Abs(v)
		case rdL2, rdSumSquare:
			v *= v
		}
		o[idx[i]] += v
	}
	for i := range o {
		switch k {
		case rdMean:
			o[i] /= float64(count)
		case rdL2:
			o[i] = math.Sqrt(o[i])
		case rdLogSum:
			o[i] = math.Log(o[i])
		}
	}
	return o
}

func rdReduceInt[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](k rdKind, x []T, idx []int, nout, count int, lo, hi T) []T {
	o := make([]T, nout)
	switch k {
	case rdMax:
		for i := range o {
			o[i] = lo
		}
		for i, v := range x {
			o[idx[i]] = max(o[idx[i]], v)
		}
		return o
	case rdMin:
		for i := range o {
			o[i] = hi
		}
		for i, v := range x {
			o[idx[i]] = min(o[idx[i]], v)
		}
		return o
	case rdProd:
		for i := range o {
			o[i] = 1
		}
		for i, v := range x {
			o[idx[i]] *= v
		}
		return o
	case rdSum, rdMean, rdL1, rdSumSquare:
		for i, v := range x {
			switch k {
			case rdL1:
				if v < 0 {
					v = -v
				}
			case rdSumSquare:
				v *= v
			}
			o[idx[i]] += v
		}
		if k == rdMean && count > 0 {
			// Divide in 64 bits: count may not fit in T.
			for i := range o {
				if o[i] < 0 {
					o[i] = T(int64(o[i]) / int64(count))
				} else {
					o[i] = T(uint64(o[i]) / uint64(count))
				}
			}
		}
		return o
	}
	// L2, LogSum, LogSumExp: compute in float64 and convert back.
	f := make([]float64, len(x))
	for i, v := range x {
		f[i] = float64(v)
	}
	r := rdReduceFloat(k, f, idx, nout, count)
	for i, v := range r {
		o[i] = T(v)
	}
	return o
}
