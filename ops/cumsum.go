package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// CumSum returns running sums along the axis given by its int32/int64 scalar
// input 1 (ONNX CumSum-14): y[i] = x[0] + ... + x[i]. exclusive=1 leaves out
// x[i] itself (y[0] = 0); reverse=1 runs from the end. float16 and bfloat16
// accumulate in float32.
var CumSum = &Def{Name: "CumSum", Infer: InferSame(0), Kernel: shpCumKernel(false)}

// CumProd is CumSum with products (ONNX CumProd-26); the exclusive start is 1.
var CumProd = &Def{Name: "CumProd", Infer: InferSame(0), Kernel: shpCumKernel(true)}

func init() {
	Register(CumSum)
	Register(CumProd)
}

func shpCumT[T shpNum](x []T, outer, d, inner int, prod, excl, rev bool) []T {
	y := make([]T, len(x))
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			var acc T
			if prod {
				acc = 1
			}
			for r := 0; r < d; r++ {
				i := r
				if rev {
					i = d - 1 - r
				}
				p := (o*d+i)*inner + j
				if excl {
					y[p] = acc
				}
				if prod {
					acc *= x[p]
				} else {
					acc += x[p]
				}
				if !excl {
					y[p] = acc
				}
			}
		}
	}
	return y
}

func shpCumKernel(prod bool) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, Errorf(n, "needs x and axis inputs")
		}
		x := in[0]
		ax, err := shpInts(n, in[1], "axis")
		if err != nil {
			return nil, err
		}
		if len(ax) != 1 {
			return nil, Errorf(n, "axis must be a scalar")
		}
		axis, err := shpAxis(n, ax[0], x.Rank())
		if err != nil {
			return nil, err
		}
		s := x.Shape()
		if len(s) == 0 {
			s = tensor.Shape{1}
		}
		o, d, i := shpOuterInner(s, axis)
		ex, rv := n.Attrs.Int("exclusive", 0) != 0, n.Attrs.Int("reverse", 0) != 0
		var data any
		switch v := x.Data().(type) {
		case []float32:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []float64:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []int8:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []int16:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []int32:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []int64:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []uint8:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []uint16:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []uint32:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []uint64:
			data = shpCumT(v, o, d, i, prod, ex, rv)
		case []tensor.Half, []tensor.BHalf:
			f := x.Float64s()
			f32 := make([]float32, len(f))
			for k, v := range f {
				f32[k] = float32(v)
			}
			r := shpCumT(f32, o, d, i, prod, ex, rv)
			for k, v := range r {
				f[k] = float64(v)
			}
			return []*tensor.Tensor{tensor.FromFloat64s(x.DType(), x.Shape(), f)}, nil
		default:
			return nil, Errorf(n, "input must be numeric, got %v", x.DType())
		}
		out, err := tensor.FromSlice(x.Shape(), data)
		if err != nil {
			return nil, Errorf(n, "%v", err)
		}
		return []*tensor.Tensor{out}, nil
	}
}
