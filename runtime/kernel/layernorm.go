package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// LayerNormalization (ONNX-17) over the trailing axes [axis, rank), float32,
// with Scale and optional B covering exactly the normalized shape (or
// broadcast from a single element) and only the Y output. Mean and
// variance accumulate in float64 (the reference computes in float64), the
// normalized row is written in float32. Rows are split across the pool.

type layerNormK struct {
	rows, d int
	eps     float64
	sBcast  bool
	bBcast  bool
	hasB    bool
}

func layerNormFactory(s *Spec) Kernel {
	if len(s.In) < 2 || !allF32(s.In[:2]) || s.Out[0].DType != tensor.Float32 {
		return nil
	}
	for _, o := range s.Out[1:] {
		if o.DType != tensor.Undefined {
			return nil
		}
	}
	xs := s.In[0].Shape
	ax, ok := normAxis(int(s.Node.Attrs.Int("axis", -1)), len(xs))
	if !ok {
		return nil
	}
	k := &layerNormK{rows: xs[:ax].Size(), d: xs[ax:].Size(), eps: float64(s.Node.Attrs.Float("epsilon", 1e-5))}
	if k.d == 0 {
		return nil
	}
	fits := func(a Arg) (bcast, ok bool) {
		n := a.Shape.Size()
		if n == 1 {
			return true, true
		}
		return false, n == k.d && isSuffix(a.Shape, xs[ax:])
	}
	var okS bool
	if k.sBcast, okS = fits(s.In[1]); !okS {
		return nil
	}
	if len(s.In) > 2 && s.In[2].DType != tensor.Undefined {
		if s.In[2].DType != tensor.Float32 {
			return nil
		}
		k.hasB = true
		var okB bool
		if k.bBcast, okB = fits(s.In[2]); !okB {
			return nil
		}
	}
	return k
}

func (k *layerNormK) Run(env *Env, in, out []*tensor.Tensor) {
	parts := 1
	if env != nil && env.Pool != nil && k.rows*k.d >= 1<<15 {
		parts = min(env.Pool.Workers(), k.rows)
	}
	if parts <= 1 {
		k.part(0, k.rows, in, out)
		return
	}
	env.Pool.ParallelParts(parts, k, env, in, out)
}

// RunPart normalizes part p of n of the rows.
func (k *layerNormK) RunPart(_ *Env, p, n int, in, out []*tensor.Tensor) {
	k.part(k.rows*p/n, k.rows*(p+1)/n, in, out)
}

func (k *layerNormK) part(r0, r1 int, in, out []*tensor.Tensor) {
	x, y, sc := in[0].F32(), out[0].F32(), in[1].F32()
	var b []float32
	if k.hasB {
		b = in[2].F32()
	}
	d := k.d
	for r := r0; r < r1; r++ {
		xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mean := s / float64(d)
		var ss float64
		for _, v := range xr {
			t := float64(v) - mean
			ss += t * t
		}
		inv := float32(1 / math.Sqrt(ss/float64(d)+k.eps))
		m := float32(mean)
		switch {
		case !k.sBcast && k.hasB && !k.bBcast:
			for j, v := range xr {
				yr[j] = (v-m)*inv*sc[j] + b[j]
			}
		default:
			for j, v := range xr {
				sv := sc[0]
				if !k.sBcast {
					sv = sc[j]
				}
				t := (v - m) * inv * sv
				if k.hasB {
					if k.bBcast {
						t += b[0]
					} else {
						t += b[j]
					}
				}
				yr[j] = t
			}
		}
	}
}

func init() {
	Register("", "LayerNormalization", "LayerNormalization/f32", 10, layerNormFactory)
}
