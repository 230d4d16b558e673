package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// ReduceSum, ReduceMean and ReduceMax over trailing axes (float32, axes a
// constant input naming a suffix of the dimensions, or absent; other
// patterns keep the reference op). Sums accumulate in float64 as the
// reference does; Max returns NaN when a row holds one, as the reference.

type reduceK struct {
	op         string
	rows, size int
}

func reduceFactory(op string) Factory {
	return func(s *Spec) Kernel {
		if len(s.In) < 1 || s.In[0].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 {
			return nil
		}
		xs := s.In[0].Shape
		r := len(xs)
		var axes []int64
		if len(s.In) > 1 && s.In[1].DType != tensor.Undefined {
			if s.In[1].Const == nil {
				return nil
			}
			axes = s.In[1].Const.Int64s()
		}
		if len(axes) == 0 {
			if s.Node.Attrs.Int("noop_with_empty_axes", 0) != 0 {
				return nil
			}
			for i := range r {
				axes = append(axes, int64(i))
			}
		}
		red := make([]bool, r)
		for _, a := range axes {
			ax, ok := normAxis(int(a), r)
			if !ok {
				return nil
			}
			red[ax] = true
		}
		first := r
		for first > 0 && red[first-1] {
			first--
		}
		for i := 0; i < first; i++ {
			if red[i] {
				return nil // not a suffix
			}
		}
		k := &reduceK{op: op, rows: xs[:first].Size(), size: xs[first:].Size()}
		if k.size == 0 || k.rows != s.Out[0].Shape.Size() {
			return nil
		}
		return k
	}
}

func (k *reduceK) Run(env *Env, in, out []*tensor.Tensor) {
	x, y := in[0].F32(), out[0].F32()
	for i := 0; i < k.rows; i++ {
		row := x[i*k.size : (i+1)*k.size]
		switch k.op {
		case "ReduceMax":
			m := float32(math.Inf(-1))
			for _, v := range row {
				if v > m || v != v {
					m = v
				}
			}
			y[i] = m
		default:
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			if k.op == "ReduceMean" {
				s /= float64(k.size)
			}
			y[i] = float32(s)
		}
	}
}

// BatchNormalization in inference mode (training_mode 0, float32, all
// four statistics constant): folded at plan time into a per-channel
// y = x*a + b.

type batchNormK struct {
	a, b     []float32
	n, c, hw int
}

func batchNormFactory(s *Spec) Kernel {
	if len(s.In) != 5 || s.In[0].DType != tensor.Float32 || len(s.In[0].Shape) < 2 || s.Node.Attrs.Int("training_mode", 0) != 0 {
		return nil
	}
	for _, o := range s.Out[1:] {
		if o.DType != tensor.Undefined {
			return nil
		}
	}
	xs := s.In[0].Shape
	C := xs[1]
	for _, a := range s.In[1:] {
		if a.Const == nil || a.DType != tensor.Float32 || a.Shape.Size() != C {
			return nil
		}
	}
	eps := float64(s.Node.Attrs.Float("epsilon", 1e-5))
	sc, bi, mu, va := s.In[1].Const.F32(), s.In[2].Const.F32(), s.In[3].Const.F32(), s.In[4].Const.F32()
	k := &batchNormK{a: make([]float32, C), b: make([]float32, C), n: xs[0], c: C, hw: xs[2:].Size()}
	for i := range C {
		inv := float64(sc[i]) / math.Sqrt(float64(va[i])+eps)
		k.a[i] = float32(inv)
		k.b[i] = float32(float64(bi[i]) - float64(mu[i])*inv)
	}
	return k
}

func (k *batchNormK) Run(env *Env, in, out []*tensor.Tensor) {
	x, y := in[0].F32(), out[0].F32()
	for n := 0; n < k.n; n++ {
		for c := 0; c < k.c; c++ {
			o := (n*k.c + c) * k.hw
			a, b := k.a[c], k.b[c]
			xs, ys := x[o:o+k.hw], y[o:o+k.hw]
			for i, v := range xs {
				ys[i] = v*a + b
			}
		}
	}
}

func init() {
	for _, op := range []string{"ReduceSum", "ReduceMean", "ReduceMax"} {
		Register("", op, op+"/f32-trailing", 10, reduceFactory(op))
	}
	Register("", "BatchNormalization", "BatchNormalization/f32-inference", 10, batchNormFactory)
}
