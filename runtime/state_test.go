package runtime

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// dynamicBatch returns the model graph with its batch dimension unknown,
// and an input for every batch size 1..maxBatch.
func dynamicBatch(mk func(int) (*graph.Graph, *tensor.Tensor), maxBatch int) (*graph.Graph, []*tensor.Tensor) {
	g, _ := mk(1)
	g.Inputs[0].Type.Shape[0] = -1
	r := rand.New(rand.NewPCG(7, 7))
	var xs []*tensor.Tensor
	for b := 1; b <= maxBatch; b++ {
		s := append(tensor.Shape{b}, g.Inputs[0].Type.Shape[1:]...)
		xs = append(xs, randTensor(r, s))
	}
	return g, xs
}

// referenceOutputs runs g's single-input graph on each input with the
// reference ops, unplanned and without passes.
func referenceOutputs(t *testing.T, g *graph.Graph, xs []*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	ref, err := Compile(g, Options{NoPlan: true, Passes: &pass.Options{}})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		out := []*tensor.Tensor{nil}
		if err := ref.RunInto(context.Background(), []*tensor.Tensor{x}, out); err != nil {
			t.Fatal(err)
		}
		want[i] = out[0]
	}
	return want
}

func sameWithin(got, want *tensor.Tensor, tol float64) error {
	if !got.Shape().Equal(want.Shape()) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	g, w := got.Float64s(), want.Float64s()
	for i := range w {
		if d := math.Abs(g[i] - w[i]); !(d <= tol*(1+math.Abs(w[i]))) {
			return fmt.Errorf("element %d is %v, want %v", i, g[i], w[i])
		}
	}
	return nil
}

// A program run on many batch sizes packs its weights once and keeps one
// arena per concurrent run, moved between the plans, with correct results
// whichever plan used the arena before.
func TestShapesShareWeightsAndArenas(t *testing.T) {
	for _, m := range []struct {
		name string
		mk   func(int) (*graph.Graph, *tensor.Tensor)
	}{{"mlp", mlpGraph}, {"cnn", cnnGraph}, {"resnet", resnetGraph}} {
		t.Run(m.name, func(t *testing.T) {
			g, xs := dynamicBatch(m.mk, 8)
			want := referenceOutputs(t, g, xs)
			p, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			packs := -1
			// Up, down and up again, so every arena is reused by plans of
			// both smaller and larger shapes than the one that wrote it.
			order := []int{0, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1, 0, 7, 0, 3}
			for _, i := range order {
				out := []*tensor.Tensor{nil}
				if err := p.RunInto(context.Background(), []*tensor.Tensor{xs[i]}, out); err != nil {
					t.Fatal(err)
				}
				if err := sameWithin(out[0], want[i], 1e-4); err != nil {
					t.Fatalf("batch %d: %v", i+1, err)
				}
				if packs < 0 {
					packs = p.packs.Len()
				} else if n := p.packs.Len(); n != packs {
					t.Fatalf("batch %d: %d packed weights held, %d after the first shape", i+1, n, packs)
				}
			}
			if packs == 0 {
				t.Errorf("no packed weights shared")
			}
			idle, held := p.states.stats()
			if idle != 1 || held > p.states.largest {
				t.Errorf("serial runs on 8 shapes keep %d idle states holding %d bytes; want 1 of at most %d", idle, held, p.states.largest)
			}
		})
	}
}

// Concurrent runs on mixed shapes get correct results, and the pool stays
// within its budget.
func TestConcurrentShapes(t *testing.T) {
	g, xs := dynamicBatch(resnetGraph, 6)
	want := referenceOutputs(t, g, xs)
	p, err := Compile(g, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for range 30 {
				i := r.IntN(len(xs))
				out := []*tensor.Tensor{nil}
				if err := p.RunInto(context.Background(), []*tensor.Tensor{xs[i]}, out); err != nil {
					errs <- err
					return
				}
				if err := sameWithin(out[0], want[i], 1e-4); err != nil {
					errs <- fmt.Errorf("batch %d: %v", i+1, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	idle, held := p.states.stats()
	if budget := p.states.budget(); held > budget || idle > maxIdleStates {
		t.Errorf("%d idle states hold %d bytes; budget %d", idle, held, budget)
	}
}

// kiln:ReluGrad's fast kernel matches its reference, zeros included.
func TestReluGradKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	dy := randTensor(r, tensor.Shape{3, 70000})
	y := randTensor(r, tensor.Shape{3, 70000})
	for i, v := range y.F32() {
		if v < 0 || i%7 == 0 {
			y.F32()[i] = 0
		}
	}
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "dy", Type: graph.TensorType(tensor.Float32, 3, 70000)}, {Name: "y", Type: graph.TensorType(tensor.Float32, 3, 70000)}},
		Outputs: []*graph.Value{{Name: "dx", Type: graph.TensorType(tensor.Float32, 3, 70000)}},
		Nodes:   []*graph.Node{{Name: "g", Domain: "kiln", Op: "ReluGrad", Inputs: []string{"dy", "y"}, Outputs: []string{"dx"}, Attrs: graph.Attrs{}}},
	}
	checkAgainstReference(t, "ReluGrad", g, []*tensor.Tensor{dy, y}, 0, 0, 1, true)
}
