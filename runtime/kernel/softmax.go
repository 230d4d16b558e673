package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// Softmax and LogSoftmax over any axis (ONNX-13, and the 2-D coercion of
// older opsets marked kiln_coerce_2d). Rows along a last axis are
// contiguous: vector max, then e^(x - max) and its sum in one vector pass
// (float32 lane sums), then a vector scale.
// Other axes gather each strided row into scratch first. Rows are split
// across the pool's workers.

type softmaxK struct {
	log          bool
	outer, d, in int // [outer, d, in] with the axis in the middle
}

func softmaxFactory(log bool) Factory {
	return func(s *Spec) Kernel {
		if len(s.In) != 1 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) {
			return nil
		}
		xs := s.In[0].Shape
		if len(xs) == 0 {
			return nil
		}
		ax, ok := normAxis(int(s.Node.Attrs.Int("axis", -1)), len(xs))
		if !ok {
			return nil
		}
		k := &softmaxK{log: log}
		if s.Node.Attrs.Int("kiln_coerce_2d", 0) != 0 {
			k.outer, k.d, k.in = xs[:ax].Size(), xs[ax:].Size(), 1
		} else {
			k.outer, k.d, k.in = xs[:ax].Size(), xs[ax], xs[ax+1:].Size()
		}
		if k.d == 0 || k.outer*k.in == 0 {
			return nil
		}
		return k
	}
}

func (k *softmaxK) Run(env *Env, in, out []*tensor.Tensor) {
	rows := k.outer * k.in
	parts := 1
	if env != nil && env.Pool != nil && rows*k.d >= 1<<15 {
		parts = min(env.Pool.Workers(), rows)
	}
	if parts <= 1 {
		k.rows(0, rows, in[0].F32(), out[0].F32())
		return
	}
	env.Pool.ParallelParts(parts, k, env, in, out)
}

// RunPart normalizes part p of n of the rows.
func (k *softmaxK) RunPart(_ *Env, p, n int, in, out []*tensor.Tensor) {
	rows := k.outer * k.in
	k.rows(rows*p/n, rows*(p+1)/n, in[0].F32(), out[0].F32())
}

// rows normalizes rows [r0, r1) of the [outer*in] row set.
func (k *softmaxK) rows(r0, r1 int, x, y []float32) {
	var buf [256]float32
	for r := r0; r < r1; r++ {
		o, i := r/k.in, r%k.in
		base := o*k.d*k.in + i
		if k.in == 1 {
			softmaxRow(x[base:base+k.d], y[base:base+k.d], k.log)
			continue
		}
		// Strided row: through a stack buffer in chunks of the axis.
		if k.d <= len(buf) {
			t := buf[:k.d]
			for j := range t {
				t[j] = x[base+j*k.in]
			}
			softmaxRow(t, t, k.log)
			for j, v := range t {
				y[base+j*k.in] = v
			}
			continue
		}
		softmaxStrided(x, y, base, k.d, k.in, k.log)
	}
}

// softmaxRow normalizes one contiguous row x into y (may alias).
func softmaxRow(x, y []float32, log bool) {
	m := asm.MaxF32(x)
	if log {
		var s float64
		var t [64]float32
		for j := 0; j < len(x); j += len(t) {
			c := t[:min(len(t), len(x)-j)]
			for i := range c {
				c[i] = x[j+i] - m
			}
			asm.Exp(c, c)
			for _, v := range c {
				s += float64(v)
			}
		}
		ls := float32(math.Log(s))
		for j, v := range x {
			y[j] = v - m - ls
		}
		return
	}
	// One vector pass for e^(x-m) and its sum (float32 lane sums), one
	// for the scale.
	s := asm.ExpShiftSum(y, x, m)
	asm.ScaleF32(y, 1/s)
}

// softmaxStrided is the scalar path for a long strided axis.
func softmaxStrided(x, y []float32, base, d, st int, log bool) {
	m := math.Inf(-1)
	for j := 0; j < d; j++ {
		m = math.Max(m, float64(x[base+j*st]))
	}
	var s float64
	for j := 0; j < d; j++ {
		s += math.Exp(float64(x[base+j*st]) - m)
	}
	for j := 0; j < d; j++ {
		v := float64(x[base+j*st]) - m
		if log {
			y[base+j*st] = float32(v - math.Log(s))
		} else {
			y[base+j*st] = float32(math.Exp(v) / s)
		}
	}
}

func init() {
	Register("", "Softmax", "Softmax/f32", 10, softmaxFactory(false))
	Register("", "LogSoftmax", "LogSoftmax/f32", 10, softmaxFactory(true))
}
