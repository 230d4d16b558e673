package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Elementwise kernels that gradient graphs are made of: the Relu backward
// Where(Greater(x, 0), dy, 0), the clip masks of a crossentropy
// (GreaterOrEqual, LessOrEqual, And), Clip, and the gradient sums (Sum).
// float32 data, bool masks; operands of the output's shape or single
// elements (the scalar constants autodiff emits). Other broadcasts keep
// the reference ops. Comparisons and Clip follow the reference exactly
// (IEEE comparisons, so NaN compares false; Clip keeps NaN).

// gradSpan runs body over [0, n) in chunks of at least chunkGrain
// elements across the workers (the split is fixed at plan time from the
// program's thread count). It hands the pool a pointer task, so a
// parallel run does not allocate.
type gradSpan struct {
	n, parts int
	body     func(lo, hi int, in, out []*tensor.Tensor)
}

func newGradSpan(s *Spec, n int, body func(lo, hi int, in, out []*tensor.Tensor)) *gradSpan {
	return &gradSpan{n: n, parts: max(min(s.Threads, n/chunkGrain), 1), body: body}
}

func (s *gradSpan) Run(env *Env, in, out []*tensor.Tensor) {
	if s.parts <= 1 || env == nil || env.Pool == nil {
		s.body(0, s.n, in, out)
		return
	}
	env.Pool.ParallelTask(s.parts, s, in, out)
}

// RunPart runs chunk p of s.parts.
func (s *gradSpan) RunPart(p int, in, out []*tensor.Tensor) {
	s.body(s.n*p/s.parts, s.n*(p+1)/s.parts, in, out)
}

// elemArg classifies an operand: the output's shape, or one element.
func elemArg(a Arg, out tensor.Shape) (full, ok bool) {
	if a.Shape.Equal(out) {
		return true, true
	}
	return false, a.Shape.Size() == 1
}

func init() {
	type cmp func(a, b float32) bool
	compare := func(op string, f cmp) {
		Register("", op, op+"/f32-mask", 10, func(s *Spec) Kernel {
			if len(s.In) != 2 || len(s.Out) != 1 || !allF32(s.In) || s.Out[0].DType != tensor.Bool {
				return nil
			}
			os := s.Out[0].Shape
			fa, oka := elemArg(s.In[0], os)
			fb, okb := elemArg(s.In[1], os)
			if !oka || !okb {
				return nil
			}
			return newGradSpan(s, os.Size(), func(lo, hi int, in, out []*tensor.Tensor) {
				a, b, y := in[0].F32(), in[1].F32(), out[0].Bools()[lo:hi]
				switch {
				case fa && fb:
					a, b = a[lo:hi], b[lo:hi]
					for i := range y {
						y[i] = f(a[i], b[i])
					}
				case fa && op == "Greater":
					greaterScalar(y, a[lo:hi], b[0])
				case fa && op == "GreaterOrEqual":
					a, bv := a[lo:hi], b[0]
					for i := range y {
						y[i] = a[i] >= bv
					}
				case fa && op == "LessOrEqual":
					a, bv := a[lo:hi], b[0]
					for i := range y {
						y[i] = a[i] <= bv
					}
				case fa:
					a, bv := a[lo:hi], b[0]
					for i := range y {
						y[i] = f(a[i], bv)
					}
				case fb:
					av, b := a[0], b[lo:hi]
					for i := range y {
						y[i] = f(av, b[i])
					}
				default:
					v := f(a[0], b[0])
					for i := range y {
						y[i] = v
					}
				}
			})
		})
	}
	compare("Greater", func(a, b float32) bool { return a > b })
	compare("GreaterOrEqual", func(a, b float32) bool { return a >= b })
	compare("Less", func(a, b float32) bool { return a < b })
	compare("LessOrEqual", func(a, b float32) bool { return a <= b })
	compare("Equal", func(a, b float32) bool { return a == b })

	logic := func(op string, f func(a, b bool) bool) {
		Register("", op, op+"/bool", 10, func(s *Spec) Kernel {
			if len(s.In) != 2 || len(s.Out) != 1 || s.In[0].DType != tensor.Bool || s.In[1].DType != tensor.Bool || s.Out[0].DType != tensor.Bool {
				return nil
			}
			os := s.Out[0].Shape
			if !s.In[0].Shape.Equal(os) || !s.In[1].Shape.Equal(os) {
				return nil
			}
			return newGradSpan(s, os.Size(), func(lo, hi int, in, out []*tensor.Tensor) {
				a, b, y := in[0].Bools()[lo:hi], in[1].Bools()[lo:hi], out[0].Bools()[lo:hi]
				for i := range y {
					y[i] = f(a[i], b[i])
				}
			})
		})
	}
	logic("And", func(a, b bool) bool { return a && b })
	logic("Or", func(a, b bool) bool { return a || b })

	Register("", "Where", "Where/f32", 10, func(s *Spec) Kernel {
		if len(s.In) != 3 || len(s.Out) != 1 || s.In[0].DType != tensor.Bool || !allF32(s.In[1:]) || !allF32(s.Out) {
			return nil
		}
		os := s.Out[0].Shape
		if !s.In[0].Shape.Equal(os) {
			return nil
		}
		fa, oka := elemArg(s.In[1], os)
		fb, okb := elemArg(s.In[2], os)
		if !oka || !okb {
			return nil
		}
		return newGradSpan(s, os.Size(), func(lo, hi int, in, out []*tensor.Tensor) {
			c, a, b, y := in[0].Bools()[lo:hi], in[1].F32(), in[2].F32(), out[0].F32()[lo:hi]
			switch {
			case fa && fb:
				a, b = a[lo:hi], b[lo:hi]
				for i, t := range c {
					if t {
						y[i] = a[i]
					} else {
						y[i] = b[i]
					}
				}
			case fa:
				whereScalar(y, c, a[lo:hi], b[0])
			case fb:
				av, b := a[0], b[lo:hi]
				for i, t := range c {
					if t {
						y[i] = av
					} else {
						y[i] = b[i]
					}
				}
			default:
				av, bv := a[0], b[0]
				for i, t := range c {
					if t {
						y[i] = av
					} else {
						y[i] = bv
					}
				}
			}
		})
	})

	// Clip with float32 scalar bounds (absent: unbounded). Go's min and max
	// keep NaN, and min > max yields max, as the reference.
	Register("", "Clip", "Clip/f32", 10, func(s *Spec) Kernel {
		if len(s.In) < 1 || len(s.In) > 3 || len(s.Out) != 1 || s.In[0].DType != tensor.Float32 || !allF32(s.Out) {
			return nil
		}
		has := [3]bool{true}
		for i := 1; i < len(s.In); i++ {
			if s.In[i].DType == tensor.Undefined {
				continue
			}
			if s.In[i].DType != tensor.Float32 || s.In[i].Shape.Size() != 1 {
				return nil
			}
			has[i] = true
		}
		return newGradSpan(s, s.Out[0].Shape.Size(), func(lo, hi int, in, out []*tensor.Tensor) {
			x, y := in[0].F32()[lo:hi], out[0].F32()[lo:hi]
			inf := float32(math.Inf(1))
			a, b := -inf, inf
			if has[1] {
				a = in[1].F32()[0]
			}
			if has[2] {
				b = in[2].F32()[0]
			}
			for i, v := range x {
				y[i] = min(max(v, a), b)
			}
		})
	})

	// Sum of operands that all have the output's shape.
	Register("", "Sum", "Sum/f32", 10, func(s *Spec) Kernel {
		if len(s.In) < 1 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) {
			return nil
		}
		os := s.Out[0].Shape
		for _, a := range s.In {
			if !a.Shape.Equal(os) {
				return nil
			}
		}
		return newGradSpan(s, os.Size(), func(lo, hi int, in, out []*tensor.Tensor) {
			y := out[0].F32()[lo:hi]
			copy(y, in[0].F32()[lo:hi])
			for _, t := range in[1:] {
				addTo(y, t.F32()[lo:hi])
			}
		})
	})
}

// greaterScalar sets y[i] = a[i] > b (the Relu mask), eight at a time.
func greaterScalar(y []bool, a []float32, b float32) {
	a = a[:len(y)]
	i := 0
	for ; i+8 <= len(y); i += 8 {
		v, m := a[i:i+8:i+8], y[i:i+8:i+8]
		m[0], m[1], m[2], m[3] = v[0] > b, v[1] > b, v[2] > b, v[3] > b
		m[4], m[5], m[6], m[7] = v[4] > b, v[5] > b, v[6] > b, v[7] > b
	}
	for ; i < len(y); i++ {
		y[i] = a[i] > b
	}
}

// whereScalar sets y[i] = a[i] where c[i], else b: the masked gradient.
// The select is arithmetic (a bit mask from the bool) so that random masks
// cost no mispredicted branches.
func whereScalar(y []float32, c []bool, a []float32, b float32) {
	c, a = c[:len(y)], a[:len(y)]
	bb := math.Float32bits(b)
	for i := range y {
		m := uint32(0)
		if c[i] {
			m = ^uint32(0)
		}
		y[i] = math.Float32frombits(math.Float32bits(a[i])&m | bb&^m)
	}
}
