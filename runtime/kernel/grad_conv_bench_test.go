package kernel

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// cpuTime is the process's user+system CPU time: on a shared machine wall
// time also counts other processes' turns.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func randF32(r *rand.Rand, s tensor.Shape) *tensor.Tensor {
	t := tensor.New(tensor.Float32, s...)
	for i := range t.F32() {
		t.F32()[i] = float32(r.NormFloat64())
	}
	return t
}

// benchKernel runs k on one thread and reports CPU time per run.
func benchKernel(b *testing.B, k Kernel, in, out []*tensor.Tensor) {
	env := &Env{}
	k.Run(env, in, out)
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		k.Run(env, in, out)
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkGradConvMNIST times the MNIST convnet's second convolution at
// batch 128 (X [128,32,13,13], W [64,32,3,3], Y [128,64,11,11]) forward
// with a run-time weight and its two gradients, on one thread.
func BenchmarkGradConvMNIST(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	xs, ws, ys := tensor.Shape{128, 32, 13, 13}, tensor.Shape{64, 32, 3, 3}, tensor.Shape{128, 64, 11, 11}
	node := &graph.Node{Attrs: graph.Attrs{"kernel_shape": []int64{3, 3}}}
	x, w, y := randF32(r, xs), randF32(r, ws), randF32(r, ys)
	f32 := func(s tensor.Shape) Arg { return Arg{DType: tensor.Float32, Shape: s} }
	b.Run("weight", func(b *testing.B) {
		k := newConvGradWeight(&Spec{Node: node, In: []Arg{f32(xs), f32(ys)}, Out: []Arg{f32(ws)}, Threads: 1}).(*convGradWeightK)
		for _, tr := range []bool{false, true} {
			k.transposed = tr
			name := "dY*col'"
			if tr {
				name = "col*dY'"
			}
			b.Run(name, func(b *testing.B) {
				benchKernel(b, k, []*tensor.Tensor{x, y}, []*tensor.Tensor{tensor.New(tensor.Float32, ws...)})
			})
		}
	})
	b.Run("input", func(b *testing.B) {
		k := newConvGradInput(&Spec{Node: node, In: []Arg{f32(ys), f32(ws)}, Out: []Arg{f32(xs)}, Threads: 1})
		benchKernel(b, k, []*tensor.Tensor{y, w}, []*tensor.Tensor{tensor.New(tensor.Float32, xs...)})
	})
	b.Run("forward", func(b *testing.B) {
		k := newConvRuntimeW(&Spec{Node: node, In: []Arg{f32(xs), f32(ws)}, Out: []Arg{f32(ys)}, Threads: 1})
		benchKernel(b, k, []*tensor.Tensor{x, w}, []*tensor.Tensor{tensor.New(tensor.Float32, ys...)})
	})
}
