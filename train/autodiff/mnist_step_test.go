package autodiff_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train/autodiff"
	"github.com/kiln-ml/kiln/train/layer"
)

// mnistStep builds the training graph of the Keras MNIST example convnet
// (Conv2D 32 3x3 relu, MaxPooling2D 2, Conv2D 64 3x3 relu, MaxPooling2D 2,
// Flatten, Dense 10 softmax; channels_last) the way a training program
// does: the trainable weights are graph inputs, the loss is Keras's
// categorical crossentropy of probabilities (renormalised, clipped to
// [1e-7, 1-1e-7]) weighted per sample and averaged, and the outputs are the
// loss followed by the gradients from autodiff.Grad. It returns the graph
// and random feeds in input order.
func mnistStep(tb testing.TB, batch int) (*graph.Graph, []*tensor.Tensor) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := &layer.DecodeContext{Version: layer.Version{Major: 3, Minor: 6, Backend: "tensorflow"}}
	specs := []struct{ class, config string }{
		{"Conv2D", `{"name": "conv1", "filters": 32, "kernel_size": [3, 3], "activation": "relu"}`},
		{"MaxPooling2D", `{"name": "pool1", "pool_size": [2, 2]}`},
		{"Conv2D", `{"name": "conv2", "filters": 64, "kernel_size": [3, 3], "activation": "relu"}`},
		{"MaxPooling2D", `{"name": "pool2", "pool_size": [2, 2]}`},
		{"Flatten", `{"name": "flatten"}`},
		{"Dense", `{"name": "dense", "units": 10, "activation": "softmax"}`},
	}
	g := &graph.Graph{Name: "mnist_train", Types: map[string]graph.Type{}}
	b := layer.NewBuilder(g)
	b.Version = ctx.Version
	b.Training = true
	g.Inputs = append(g.Inputs, &graph.Value{Name: "x", Type: graph.TensorType(tensor.Float32, batch, 28, 28, 1)})
	cur := []layer.Tensor{{Name: "x", Shape: layer.Shape{-1, 28, 28, 1}, DType: tensor.Float32}}
	shapes := []layer.Shape{{-1, 28, 28, 1}}
	owned := map[*tensor.Tensor]bool{}
	for _, s := range specs {
		l, err := layer.New(s.class, json.RawMessage(s.config), ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if shapes, err = l.Build(shapes); err != nil {
			tb.Fatal(err)
		}
		for _, w := range l.Weights() {
			v := w.Value.F32()
			scale := 1 / math.Sqrt(float64(len(v)/w.Shape[len(w.Shape)-1]))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * scale)
			}
			owned[w.Value] = true
		}
		b.Layer = l
		if cur, err = l.Lower(b, cur); err != nil {
			tb.Fatal(err)
		}
	}
	b.Layer = nil
	pred := cur[0].Name
	g.Inputs = append(g.Inputs,
		&graph.Value{Name: "y_true", Type: graph.TensorType(tensor.Float32, batch, 10)},
		&graph.Value{Name: "sample_weight", Type: graph.TensorType(tensor.Float32, batch)})
	sum := b.Op("ReduceSum", graph.Attrs{"keepdims": int64(1)}, pred, b.Ints(-1))
	p := b.Op("Div", nil, pred, sum)
	logp := b.Op("Log", nil, b.Op("Clip", nil, p, b.Scalar(1e-7), b.Scalar(1-1e-7)))
	ce := b.Op("Neg", nil, b.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, b.Op("Mul", nil, "y_true", logp), b.Ints(-1)))
	loss := b.Op("ReduceMean", graph.Attrs{"keepdims": int64(0)}, b.Op("Mul", nil, ce, "sample_weight"))

	x := make([]float32, batch*28*28)
	for i := range x {
		x[i] = rng.Float32()
	}
	yt := make([]float32, batch*10)
	sw := make([]float32, batch)
	for i := range sw {
		yt[i*10+rng.IntN(10)] = 1
		sw[i] = 1
	}
	feeds := []*tensor.Tensor{tensor.From(tensor.Shape{batch, 28, 28, 1}, x), tensor.From(tensor.Shape{batch, 10}, yt), tensor.From(tensor.Shape{batch}, sw)}
	var params []*graph.Param
	var wrt []string
	for _, pr := range g.Params {
		if owned[pr.Tensor] {
			g.Inputs = append(g.Inputs, &graph.Value{Name: pr.Name, Type: graph.TensorType(tensor.Float32, pr.Tensor.Shape()...)})
			feeds = append(feeds, pr.Tensor)
			wrt = append(wrt, pr.Name)
			continue
		}
		params = append(params, pr)
	}
	g.Params = params
	grads, err := autodiff.Grad(g, loss, wrt)
	if err != nil {
		tb.Fatal(err)
	}
	g.Outputs = append(g.Outputs, &graph.Value{Name: loss, Type: graph.TensorType(tensor.Float32)})
	for i, gn := range grads {
		g.Outputs = append(g.Outputs, &graph.Value{Name: gn, Type: graph.TensorType(tensor.Float32, feeds[3+i].Shape()...)})
	}
	return g, feeds
}

// processCPU is the process's user+system CPU time (all threads): on a
// shared machine wall time also counts other processes' turns.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMNISTTrainStep times one training step (forward, loss and all
// gradients) of the MNIST convnet at batch 128 on 1 and 2 threads.
func BenchmarkMNISTTrainStep(b *testing.B) {
	g, feeds := mnistStep(b, 128)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			p, err := runtime.Compile(g, runtime.Options{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			outs := make([]*tensor.Tensor, len(g.Outputs))
			ctx := context.Background()
			if err := p.RunInto(ctx, feeds, outs); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			c0 := processCPU()
			for i := 0; i < b.N; i++ {
				if err := p.RunInto(ctx, feeds, outs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// TestMNISTTrainStepProfile writes a CPU profile of steady-state
// training steps (after the planning run) to $KILN_STEP_PROFILE, with
// $KILN_STEP_THREADS threads (default 1). A development aid: it skips
// unless the variable is set.
func TestMNISTTrainStepProfile(t *testing.T) {
	path := os.Getenv("KILN_STEP_PROFILE")
	if path == "" {
		t.Skip("set KILN_STEP_PROFILE to a file")
	}
	threads := 1
	if v := os.Getenv("KILN_STEP_THREADS"); v == "2" {
		threads = 2
	}
	g, feeds := mnistStep(t, 128)
	p, err := runtime.Compile(g, runtime.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	outs := make([]*tensor.Tensor, len(g.Outputs))
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := p.RunInto(ctx, feeds, outs); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	const steps = 50
	start := time.Now()
	for i := 0; i < steps; i++ {
		if err := p.RunInto(ctx, feeds, outs); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	pprof.StopCPUProfile()
	t.Logf("threads %d: %v per step", threads, el/steps)
}

// TestMNISTTrainStepNodes lists, with KILN_STEP_DUMP=1, the nodes of the
// compiled training step (after the graph passes). A development aid.
func TestMNISTTrainStepNodes(t *testing.T) {
	if os.Getenv("KILN_STEP_DUMP") == "" {
		t.Skip("set KILN_STEP_DUMP=1")
	}
	g, _ := mnistStep(t, 128)
	p, err := runtime.Compile(g, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, n := range p.Graph().Nodes {
		t.Logf("%s:%s %v -> %v %v", n.Domain, n.Op, n.Inputs, n.Outputs, n.Attrs)
	}
}
