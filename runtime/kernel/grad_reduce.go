package kernel

import (
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Float32 sums over any set of axes: kiln:SumToShape (the adjoint of
// broadcasting: X summed over the axes its target shape S broadcasts
// along) and ReduceSum / ReduceMean with constant axes that are not a
// suffix (the trailing case is reduce.go's), such as the bias gradient of
// an NCHW convolution, a sum over axes 0, 2 and 3.
//
// At plan time adjacent axes of the same kind (summed or kept) are merged,
// and the input is cut into contiguous runs along the innermost merged
// axis. Tables give the input offset of every combination of the outer
// summed axes and of the outer kept axes. When the innermost axis is
// summed, each output element is a sum of runs; when it is kept, each
// output row accumulates the runs elementwise, in blocks of
// sumBlock elements. Either way sums are accumulated in float64, as the
// reference does, and rounded once. Output elements (or rows) are split
// over the workers.

const sumBlock = 256

type sumAxesK struct {
	innerSum bool    // the innermost merged axis is summed
	run      int     // length of the innermost merged axis
	sumOffs  []int   // input offsets of the outer summed combinations
	keepOffs []int   // input offsets of the outer kept combinations (output order)
	scale    float64 // 1, or 1/count for a mean
	copyOnly bool    // nothing is summed: the output is the input
	n        int     // input size
	parts    int     // kept combinations split over this many workers
	task     sumAxesTask
}

// newSumAxes builds the kernel for summing x's axes marked in red into an
// output holding the kept axes in order; it returns nil for an empty
// input.
func newSumAxes(xs tensor.Shape, red []bool, mean bool, threads int) *sumAxesK {
	n := xs.Size()
	if n == 0 {
		return nil
	}
	// Merge axes, dropping size-1 axes (they change no offset).
	var dims []int
	var kinds []bool
	for i, d := range xs {
		if d == 1 {
			continue
		}
		if len(dims) > 0 && kinds[len(kinds)-1] == red[i] {
			dims[len(dims)-1] *= d
			continue
		}
		dims = append(dims, d)
		kinds = append(kinds, red[i])
	}
	k := &sumAxesK{n: n, scale: 1}
	count := 1
	for i, d := range dims {
		if kinds[i] {
			count *= d
		}
	}
	if mean {
		k.scale = 1 / float64(count)
	}
	if count == 1 {
		k.copyOnly = true
		return k
	}
	last := len(dims) - 1
	k.innerSum, k.run = kinds[last], dims[last]
	// Strides of the merged axes.
	strides := make([]int, len(dims))
	st := 1
	for i := last; i >= 0; i-- {
		strides[i] = st
		st *= dims[i]
	}
	// Offsets of all combinations of the outer axes of one kind, in
	// row-major order of those axes.
	offs := func(sum bool) []int {
		o := []int{0}
		for i := 0; i < last; i++ {
			if kinds[i] != sum {
				continue
			}
			next := make([]int, 0, len(o)*dims[i])
			for _, b := range o {
				for j := 0; j < dims[i]; j++ {
					next = append(next, b+j*strides[i])
				}
			}
			o = next
		}
		return o
	}
	k.sumOffs, k.keepOffs = offs(true), offs(false)
	k.parts = 1
	if n >= 1<<16 {
		k.parts = max(min(threads, len(k.keepOffs)), 1)
	}
	k.task = sumAxesTask{k: k, parts: k.parts}
	return k
}

func (k *sumAxesK) Run(env *Env, in, out []*tensor.Tensor) {
	x, y := in[0].F32(), out[0].F32()
	if k.copyOnly {
		if k.scale == 1 {
			copy(y, x)
		} else {
			s := float32(k.scale)
			for i, v := range x {
				y[i] = v * s
			}
		}
		return
	}
	if k.parts <= 1 || env == nil || env.Pool == nil {
		k.part(x, y, 0, len(k.keepOffs))
		return
	}
	env.Pool.ParallelTask(k.parts, &k.task, in, out)
}

type sumAxesTask struct {
	k     *sumAxesK
	parts int
}

func (t *sumAxesTask) RunPart(i int, in, out []*tensor.Tensor) {
	n := len(t.k.keepOffs)
	t.k.part(in[0].F32(), out[0].F32(), n*i/t.parts, n*(i+1)/t.parts)
}

// part computes the outputs of kept combinations [k0, k1).
func (k *sumAxesK) part(x, y []float32, k0, k1 int) {
	r := k.run
	if k.innerSum {
		for o := k0; o < k1; o++ {
			base := k.keepOffs[o]
			var s float64
			for _, so := range k.sumOffs {
				s += sumRun64(x[base+so : base+so+r])
			}
			y[o] = float32(s * k.scale)
		}
		return
	}
	var acc [sumBlock]float64
	for o := k0; o < k1; o++ {
		base := k.keepOffs[o]
		row := y[o*r : (o+1)*r]
		for j0 := 0; j0 < r; j0 += sumBlock {
			nb := min(sumBlock, r-j0)
			a := acc[:nb]
			clear(a)
			for _, so := range k.sumOffs {
				src := x[base+so+j0 : base+so+j0+nb]
				for j, v := range src {
					a[j] += float64(v)
				}
			}
			dst := row[j0 : j0+nb]
			for j, v := range a {
				dst[j] = float32(v * k.scale)
			}
		}
	}
}

// sumRun64 returns the float64 sum of v with four accumulators.
func sumRun64(v []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4]
		s0 += float64(w[0])
		s1 += float64(w[1])
		s2 += float64(w[2])
		s3 += float64(w[3])
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumToShapeFactory: X [xs] summed to the output's shape S (S broadcasts
// to xs by numpy rules; the planner inferred the output shape from S).
func sumToShapeFactory(s *Spec) Kernel {
	if len(s.In) < 1 || len(s.Out) != 1 || s.In[0].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 {
		return nil
	}
	xs, os := s.In[0].Shape, s.Out[0].Shape
	if len(os) > len(xs) {
		return nil
	}
	red := make([]bool, len(xs))
	lead := len(xs) - len(os)
	for i := range xs {
		switch {
		case i < lead:
			red[i] = true
		case os[i-lead] == xs[i]:
		case os[i-lead] == 1:
			red[i] = true
		default:
			return nil
		}
	}
	k := newSumAxes(xs, red, false, s.Threads)
	if k == nil {
		return nil
	}
	return k
}

// reduceAxesFactory: ReduceSum or ReduceMean over constant axes (any
// pattern; keepdims either way, since dropping size-1 axes changes no
// offset).
func reduceAxesFactory(mean bool) Factory {
	return func(s *Spec) Kernel {
		if len(s.In) < 2 || len(s.Out) != 1 || s.In[0].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 {
			return nil
		}
		if s.In[1].DType == tensor.Undefined || s.In[1].Const == nil {
			return nil
		}
		xs := s.In[0].Shape
		axes := s.In[1].Const.Int64s()
		if len(axes) == 0 {
			return nil
		}
		red := make([]bool, len(xs))
		for _, a := range axes {
			ax, ok := normAxis(int(a), len(xs))
			if !ok {
				return nil
			}
			red[ax] = true
		}
		kept := 1
		for i, d := range xs {
			if !red[i] {
				kept *= d
			}
		}
		if kept != s.Out[0].Shape.Size() {
			return nil
		}
		k := newSumAxes(xs, red, mean, s.Threads)
		if k == nil {
			return nil
		}
		return k
	}
}

func init() {
	Register("kiln", "SumToShape", "SumToShape/f32", 10, sumToShapeFactory)
	// Below the trailing-axes kernels, which take the suffix patterns.
	Register("", "ReduceSum", "ReduceSum/f32-axes", 5, reduceAxesFactory(false))
	Register("", "ReduceMean", "ReduceMean/f32-axes", 5, reduceAxesFactory(true))
}
