package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// int64 arithmetic (Add, Sub, Mul, Div) and Cast between float32, int32
// and int64: the shape arithmetic exported models carry (Shape -> Gather
// -> Mul -> Concat -> Reshape). The tensors are tiny; the point is that
// they run without allocating. Semantics are the reference's: integer
// Div truncates toward zero and gives 0 for a zero divisor; float to int
// truncates, NaN gives 0, out-of-range values saturate.

func int64Binary(op string, f func(a, b int64) int64) {
	Register("", op, op+"/i64", 10, func(s *Spec) Kernel {
		if len(s.In) != 2 || len(s.Out) != 1 || s.In[0].DType != tensor.Int64 || s.In[1].DType != tensor.Int64 || s.Out[0].DType != tensor.Int64 {
			return nil
		}
		ia := tensor.BroadcastIndex(s.In[0].Shape, s.Out[0].Shape)
		ib := tensor.BroadcastIndex(s.In[1].Shape, s.Out[0].Shape)
		return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
			a, b, y := in[0].I64(), in[1].I64(), out[0].I64()
			for i := range y {
				y[i] = f(a[ia[i]], b[ib[i]])
			}
		})
	})
}

func f2i(v float32) int64 {
	switch {
	case v != v:
		return 0
	case v >= 1<<63:
		return math.MaxInt64
	case v < -(1 << 63):
		return math.MinInt64
	}
	return int64(v)
}

func castKernel(s *Spec) Kernel {
	if len(s.In) != 1 || len(s.Out) != 1 {
		return nil
	}
	from, to := s.In[0].DType, s.Out[0].DType
	if from == to && movable(s.In[0]) {
		return copyKernel(s)
	}
	var f func(in, out *tensor.Tensor)
	switch {
	case from == tensor.Float32 && to == tensor.Int64:
		f = func(in, out *tensor.Tensor) {
			y := out.I64()
			for i, v := range in.F32() {
				y[i] = f2i(v)
			}
		}
	case from == tensor.Int64 && to == tensor.Float32:
		f = func(in, out *tensor.Tensor) {
			y := out.F32()
			for i, v := range in.I64() {
				y[i] = float32(v)
			}
		}
	case from == tensor.Int32 && to == tensor.Float32:
		f = func(in, out *tensor.Tensor) {
			y := out.F32()
			for i, v := range in.I32() {
				y[i] = float32(v)
			}
		}
	case from == tensor.Int32 && to == tensor.Int64:
		f = func(in, out *tensor.Tensor) {
			y := out.I64()
			for i, v := range in.I32() {
				y[i] = int64(v)
			}
		}
	default:
		return nil
	}
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) { f(in[0], out[0]) })
}

func init() {
	int64Binary("Add", func(a, b int64) int64 { return a + b })
	int64Binary("Sub", func(a, b int64) int64 { return a - b })
	int64Binary("Mul", func(a, b int64) int64 { return a * b })
	int64Binary("Div", func(a, b int64) int64 {
		switch b {
		case 0:
			return 0
		case -1:
			return -a
		}
		return a / b
	})
	Register("", "Cast", "Cast/f32-int", 10, castKernel)
}
