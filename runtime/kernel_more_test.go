package runtime

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// checkAgainstReference runs g planned (with fast kernels, threads 1 and
// 2, twice each to reuse the plan) and unplanned (reference ops) and
// compares every output within atol + rtol*|want|. It fails when fewer
// than wantKernels steps got a fast kernel.
func checkAgainstReference(t *testing.T, name string, g *graph.Graph, feeds []*tensor.Tensor, atol, rtol float64, wantKernels int) {
	t.Helper()
	ref, err := Compile(g, Options{NoPlan: true})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want := make([]*tensor.Tensor, len(g.Outputs))
	if err := ref.RunInto(context.Background(), feeds, want); err != nil {
		t.Fatalf("%s: reference: %v", name, err)
	}
	for _, threads := range []int{1, 2} {
		fast, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		for run := 0; run < 2; run++ {
			got := make([]*tensor.Tensor, len(g.Outputs))
			if err := fast.RunInto(context.Background(), feeds, got); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for o := range want {
				if !got[o].Shape().Equal(want[o].Shape()) || got[o].DType() != want[o].DType() {
					t.Fatalf("%s: output %d is %v%v, want %v%v", name, o, got[o].DType(), got[o].Shape(), want[o].DType(), want[o].Shape())
				}
				gw, ww := got[o].Float64s(), want[o].Float64s()
				for i := range ww {
					if d := math.Abs(gw[i] - ww[i]); !(d <= atol+rtol*math.Abs(ww[i])) {
						t.Fatalf("%s threads %d run %d: output %d element %d is %v, want %v", name, threads, run, o, i, gw[i], ww[i])
					}
				}
			}
		}
		if _, k := fast.planned(feeds); k < wantKernels {
			t.Errorf("%s: %d steps have a fast kernel, want %d", name, k, wantKernels)
		}
		fast.Close()
	}
}

func param(r *rand.Rand, name string, scale float32, s ...int) *graph.Param {
	t := randTensor(r, tensor.Shape(s))
	for i, v := range t.F32() {
		t.F32()[i] = v * scale
	}
	return &graph.Param{Name: name, Tensor: t}
}

// TestRNNKernels holds the fused LSTM and GRU against the reference op
// (float64 inside, rounded). The fused kernels sum in float32 with vector
// exp/tanh of ~1.5e-7 relative error; over 7 steps the state carries the
// rounding of each, so 2e-5 absolute bounds it with room (values are
// within [-1, 1]).
func TestRNNKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, op := range []string{"LSTM", "GRU"} {
		G := 4
		if op == "GRU" {
			G = 3
		}
		for _, dir := range []string{"forward", "reverse", "bidirectional"} {
			for _, batch := range []int{1, 3, 5} {
				for _, lbr := range []int64{0, 1} {
					if op == "LSTM" && lbr == 1 {
						continue
					}
					for _, withState := range []bool{false, true} {
						const seq, in, H = 7, 10, 16
						dirs := 1
						if dir == "bidirectional" {
							dirs = 2
						}
						g := &graph.Graph{
							Inputs: []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, seq, batch, in)}},
							Params: []*graph.Param{param(r, "w", 0.3, dirs, G*H, in), param(r, "r", 0.3, dirs, G*H, H), param(r, "b", 0.3, dirs, 2*G*H)},
						}
						feeds := []*tensor.Tensor{randTensor(r, tensor.Shape{seq, batch, in})}
						ins := []string{"x", "w", "r", "b", "", "", ""}
						if withState {
							ins[5] = "h0"
							g.Inputs = append(g.Inputs, &graph.Value{Name: "h0", Type: graph.TensorType(tensor.Float32, dirs, batch, H)})
							feeds = append(feeds, randTensor(r, tensor.Shape{dirs, batch, H}))
							if op == "LSTM" {
								ins[6] = "c0"
								g.Inputs = append(g.Inputs, &graph.Value{Name: "c0", Type: graph.TensorType(tensor.Float32, dirs, batch, H)})
								feeds = append(feeds, randTensor(r, tensor.Shape{dirs, batch, H}))
							}
						}
						outs := []string{"y", "yh"}
						if op == "LSTM" {
							ins = ins[:7]
							outs = append(outs, "yc")
						} else {
							ins = ins[:6]
						}
						for _, o := range outs {
							g.Outputs = append(g.Outputs, &graph.Value{Name: o, Type: graph.UnrankedType(tensor.Float32)})
						}
						attrs := graph.Attrs{"hidden_size": int64(H), "direction": dir}
						if op == "GRU" {
							attrs["linear_before_reset"] = lbr
						}
						g.Nodes = []*graph.Node{{Name: "rnn", Op: op, Inputs: ins, Outputs: outs, Attrs: attrs}}
						name := fmt.Sprintf("%s %s batch %d lbr %d state %v", op, dir, batch, lbr, withState)
						checkAgainstReference(t, name, g, feeds, 2e-5, 1e-5, 1)
					}
				}
			}
		}
	}
}
