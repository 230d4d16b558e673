package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// float32 elementwise kernels. Each mirrors the reference op in package
// ops (same formula, computed in float32 or float64 then rounded) and is
// tested against it.

func allF32(args []Arg) bool {
	for _, a := range args {
		if a.DType != tensor.Float32 {
			return false
		}
	}
	return true
}

// unaryF32 registers a float32 kernel for a one-input op applying f to
// every element (f may read the node's attributes through the spec).
func unaryF32(op string, mk func(s *Spec) func(x float32) float32) {
	Register("", op, op+"/f32", 10, func(s *Spec) Kernel {
		if len(s.In) != 1 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) {
			return nil
		}
		f := mk(s)
		if f == nil {
			return nil
		}
		return &chunked{n: s.Out[0].Shape.Size(), body: func(lo, hi int, in, out []*tensor.Tensor) {
			x, y := in[0].F32()[lo:hi], out[0].F32()[lo:hi]
			for i, v := range x {
				y[i] = f(v)
			}
		}}
	})
}

// chunked runs body over [0, n) split into chunks of at least 16K
// elements across the pool's threads, without allocating.
type chunked struct {
	n     int
	parts int
	body  func(lo, hi int, in, out []*tensor.Tensor)
}

const chunkGrain = 1 << 14

func (c *chunked) Run(env *Env, in, out []*tensor.Tensor) {
	parts := 1
	if env != nil && env.Pool != nil {
		parts = env.Pool.Workers()
	}
	if parts > c.n/chunkGrain {
		parts = c.n / chunkGrain
	}
	if parts <= 1 {
		c.body(0, c.n, in, out)
		return
	}
	env.Pool.ParallelParts(parts, c, env, in, out)
}

// RunPart runs chunk p of n.
func (c *chunked) RunPart(_ *Env, p, n int, in, out []*tensor.Tensor) {
	c.body(c.n*p/n, c.n*(p+1)/n, in, out)
}

func attrF(s *Spec, name string, def float32) float32 { return s.Node.Attrs.Float(name, def) }

// sliceF32 registers a float32 unary kernel whose body is a loop over a
// slice, ahead of unaryF32's per-element function (for the ops training
// graphs run on every activation).
func sliceF32(op string, body func(y, x []float32)) {
	Register("", op, op+"/f32-loop", 11, func(s *Spec) Kernel {
		if len(s.In) != 1 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) {
			return nil
		}
		return &chunked{n: s.Out[0].Shape.Size(), body: func(lo, hi int, in, out []*tensor.Tensor) {
			body(out[0].F32()[lo:hi], in[0].F32()[lo:hi])
		}}
	})
}

func init() {
	// kiln:ReluGrad(dY, Y): dY where Y > 0, in one pass.
	Register("kiln", "ReluGrad", "ReluGrad/f32", 10, func(s *Spec) Kernel {
		if len(s.In) != 2 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) || !s.In[0].Shape.Equal(s.In[1].Shape) {
			return nil
		}
		return &chunked{n: s.Out[0].Shape.Size(), body: func(lo, hi int, in, out []*tensor.Tensor) {
			g, y, dx := in[0].F32()[lo:hi], in[1].F32()[lo:hi], out[0].F32()[lo:hi]
			y, dx = y[:len(g)], dx[:len(g)]
			for i, v := range g {
				if y[i] > 0 {
					dx[i] = v
				} else {
					dx[i] = 0
				}
			}
		}}
	})
	sliceF32("Relu", func(y, x []float32) {
		y = y[:len(x)]
		for i, v := range x {
			if v > 0 {
				y[i] = v
			} else {
				y[i] = 0
			}
		}
	})
	sliceF32("Neg", func(y, x []float32) {
		y = y[:len(x)]
		for i, v := range x {
			y[i] = -v
		}
	})
	same := func(g func(float32) float32) func(*Spec) func(float32) float32 {
		return func(*Spec) func(float32) float32 { return g }
	}
	unaryF32("Relu", same(func(x float32) float32 {
		if x > 0 {
			return x
		}
		return 0
	}))
	unaryF32("Neg", same(func(x float32) float32 { return -x }))
	unaryF32("Abs", same(func(x float32) float32 { return float32(math.Abs(float64(x))) }))
	unaryF32("Sqrt", same(func(x float32) float32 { return float32(math.Sqrt(float64(x))) }))
	unaryF32("Exp", same(func(x float32) float32 { return float32(math.Exp(float64(x))) }))
	unaryF32("Log", same(func(x float32) float32 { return float32(math.Log(float64(x))) }))
	unaryF32("Tanh", same(func(x float32) float32 { return float32(math.Tanh(float64(x))) }))
	unaryF32("Erf", same(func(x float32) float32 { return float32(math.Erf(float64(x))) }))
	unaryF32("Reciprocal", same(func(x float32) float32 { return 1 / x }))
	unaryF32("Sigmoid", same(func(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }))
	unaryF32("Softplus", same(func(x float32) float32 {
		v := float64(x)
		if v > 0 {
			return float32(v + math.Log1p(math.Exp(-v)))
		}
		return float32(math.Log1p(math.Exp(v)))
	}))
	unaryF32("LeakyRelu", func(s *Spec) func(float32) float32 {
		a := attrF(s, "alpha", 0.01)
		return func(x float32) float32 {
			if x < 0 {
				return a * x
			}
			return x
		}
	})
	unaryF32("Elu", func(s *Spec) func(float32) float32 {
		a := float64(attrF(s, "alpha", 1))
		return func(x float32) float32 {
			if x < 0 {
				return float32(a * (math.Exp(float64(x)) - 1))
			}
			return x
		}
	})
	unaryF32("HardSigmoid", func(s *Spec) func(float32) float32 {
		a, b := float64(attrF(s, "alpha", 0.2)), float64(attrF(s, "beta", 0.5))
		return func(x float32) float32 { return float32(math.Max(0, math.Min(1, a*float64(x)+b))) }
	})
	unaryF32("HardSwish", same(func(x float32) float32 {
		v := float64(x)
		return float32(v * math.Max(0, math.Min(1, v/6+0.5)))
	}))
	unaryF32("Gelu", func(s *Spec) func(float32) float32 {
		if s.Node.Attrs.String("approximate", "none") == "tanh" {
			return func(x float32) float32 {
				v := float64(x)
				return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
			}
		}
		return func(x float32) float32 {
			v := float64(x)
			return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
		}
	})
}

// binaryF32 registers a float32 kernel for a two-input broadcasting op.
// The broadcast pattern is resolved at plan time: equal shapes, a scalar
// operand, an operand that repeats along the leading dimensions (a bias),
// or a general pattern with precomputed index tables.
func binaryF32(op string, f func(a, b float32) float32) {
	Register("", op, op+"/f32", 10, func(s *Spec) Kernel {
		if len(s.In) != 2 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) {
			return nil
		}
		as, bs, os := s.In[0].Shape, s.In[1].Shape, s.Out[0].Shape
		n := os.Size()
		switch {
		case as.Equal(os) && bs.Equal(os):
			return &chunked{n: n, body: func(lo, hi int, in, out []*tensor.Tensor) {
				a, b, y := in[0].F32()[lo:hi], in[1].F32()[lo:hi], out[0].F32()[lo:hi]
				for i := range y {
					y[i] = f(a[i], b[i])
				}
			}}
		case as.Equal(os) && bs.Size() == 1:
			return &chunked{n: n, body: func(lo, hi int, in, out []*tensor.Tensor) {
				a, bv, y := in[0].F32()[lo:hi], in[1].F32()[0], out[0].F32()[lo:hi]
				for i := range y {
					y[i] = f(a[i], bv)
				}
			}}
		case bs.Equal(os) && as.Size() == 1:
			return &chunked{n: n, body: func(lo, hi int, in, out []*tensor.Tensor) {
				av, b, y := in[0].F32()[0], in[1].F32()[lo:hi], out[0].F32()[lo:hi]
				for i := range y {
					y[i] = f(av, b[i])
				}
			}}
		case as.Equal(os) && isSuffix(bs, os):
			m := bs.Size()
			return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
				a, b, y := in[0].F32(), in[1].F32(), out[0].F32()
				for i := 0; i < n; i += m {
					ai, yi := a[i:i+m], y[i:i+m]
					for j, bv := range b {
						yi[j] = f(ai[j], bv)
					}
				}
			})
		}
		ia := tensor.BroadcastIndex(as, os)
		ib := tensor.BroadcastIndex(bs, os)
		return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
			a, b, y := in[0].F32(), in[1].F32(), out[0].F32()
			for i := range y {
				y[i] = f(a[ia[i]], b[ib[i]])
			}
		})
	})
}

// isSuffix reports whether s (ignoring leading 1s) equals the trailing
// dimensions of o, i.e. s repeats along o's leading dimensions.
func isSuffix(s, o tensor.Shape) bool {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	if len(s) > len(o) || len(s) == 0 {
		return false
	}
	return s.Equal(o[len(o)-len(s):])
}

func init() {
	binaryF32("Add", func(a, b float32) float32 { return a + b })
	binaryF32("Sub", func(a, b float32) float32 { return a - b })
	binaryF32("Mul", func(a, b float32) float32 { return a * b })
	binaryF32("Div", func(a, b float32) float32 { return a / b })
	binaryF32("Max", func(a, b float32) float32 {
		if a != a || b != b {
			return float32(math.NaN())
		}
		if a > b {
			return a
		}
		return b
	})
	binaryF32("Min", func(a, b float32) float32 {
		if a != a || b != b {
			return float32(math.NaN())
		}
		if a < b {
			return a
		}
		return b
	})
}
