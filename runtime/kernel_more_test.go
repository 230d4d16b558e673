package runtime

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// checkAgainstReference runs g planned (with fast kernels, threads 1 and
// 2, twice each to reuse the plan) and unplanned (reference ops) and
// compares every output within atol + rtol*|want|. It fails when fewer
// than wantKernels steps got a fast kernel.
//
// With passes false the fast program is compiled without graph passes, so
// that a one-node graph reaches its kernel even when a pass would fold it.
func checkAgainstReference(t *testing.T, name string, g *graph.Graph, feeds []*tensor.Tensor, atol, rtol float64, wantKernels int, passes bool) {
	t.Helper()
	ref, err := Compile(g, Options{NoPlan: true, Passes: &pass.Options{}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want := make([]*tensor.Tensor, len(g.Outputs))
	if err := ref.RunInto(context.Background(), feeds, want); err != nil {
		t.Fatalf("%s: reference: %v", name, err)
	}
	for _, threads := range []int{1, 2} {
		opts := Options{Threads: threads}
		if !passes {
			opts.Passes = &pass.Options{}
		}
		fast, err := Compile(g, opts)
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
						checkAgainstReference(t, name, g, feeds, 2e-5, 1e-5, 1, false)
					}
				}
			}
		}
	}
}

func i64(s tensor.Shape, v ...int64) *tensor.Tensor { return tensor.From(s, v) }

// oneNode builds a one-node graph whose inputs are the given feeds (graph
// inputs) or params (names starting with "p").
func oneNode(op string, attrs graph.Attrs, ins []string, vals []*tensor.Tensor, nout int) (*graph.Graph, []*tensor.Tensor) {
	g := &graph.Graph{}
	var feeds []*tensor.Tensor
	for i, name := range ins {
		if name == "" {
			continue
		}
		if name[0] == 'p' {
			g.Params = append(g.Params, &graph.Param{Name: name, Tensor: vals[i]})
			continue
		}
		g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(vals[i].DType(), vals[i].Shape()...)})
		feeds = append(feeds, vals[i])
	}
	var outs []string
	for o := 0; o < nout; o++ {
		name := fmt.Sprintf("y%d", o)
		outs = append(outs, name)
		g.Outputs = append(g.Outputs, &graph.Value{Name: name, Type: graph.UnrankedType(tensor.Float32)})
	}
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	g.Nodes = []*graph.Node{{Name: "n", Op: op, Inputs: ins, Outputs: outs, Attrs: attrs}}
	return g, feeds
}

// TestDataKernels holds the data-movement and integer kernels (and the
// float32 reductions: float64 sums rounded once, as the reference) against
// the reference ops; results must be equal.
func TestDataKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := randTensor(r, tensor.Shape{4, 5, 6})
	emb := randTensor(r, tensor.Shape{50, 8})
	cases := []struct {
		name  string
		op    string
		attrs graph.Attrs
		ins   []string
		vals  []*tensor.Tensor
		nout  int
	}{
		{"gather embedding", "Gather", nil, []string{"pw", "i"}, []*tensor.Tensor{emb, i64(tensor.Shape{2, 3}, 1, 49, 0, -1, 7, 7)}, 1},
		{"gather axis 1 int32", "Gather", graph.Attrs{"axis": int64(1)}, []string{"x", "i"}, []*tensor.Tensor{x, tensor.From(tensor.Shape{2}, []int32{4, -5})}, 1},
		{"gather scalar index", "Gather", graph.Attrs{"axis": int64(0)}, []string{"x", "i"}, []*tensor.Tensor{i64(tensor.Shape{3}, 5, 6, 7), i64(tensor.Shape{}, 2)}, 1},
		{"slice", "Slice", nil, []string{"x", "s", "e", "a", "st"}, []*tensor.Tensor{x, i64(tensor.Shape{2}, 1, -1), i64(tensor.Shape{2}, 4, 0), i64(tensor.Shape{2}, 1, 2), i64(tensor.Shape{2}, 2, -2)}, 1},
		{"slice last axis", "Slice", nil, []string{"x", "s", "e", "a"}, []*tensor.Tensor{x, i64(tensor.Shape{1}, 2), i64(tensor.Shape{1}, 1<<40), i64(tensor.Shape{1}, -1)}, 1},
		{"slice int64 data", "Slice", nil, []string{"x", "s", "e"}, []*tensor.Tensor{i64(tensor.Shape{4}, 1, 2, 3, 4), i64(tensor.Shape{1}, -2), i64(tensor.Shape{1}, 4)}, 1},
		{"split", "Split", graph.Attrs{"axis": int64(1)}, []string{"x", "sp"}, []*tensor.Tensor{x, i64(tensor.Shape{2}, 2, 3)}, 2},
		{"split even", "Split", graph.Attrs{"axis": int64(-1)}, []string{"x"}, []*tensor.Tensor{x}, 3},
		{"shape", "Shape", nil, []string{"x"}, []*tensor.Tensor{x}, 1},
		{"shape start", "Shape", graph.Attrs{"start": int64(1)}, []string{"x"}, []*tensor.Tensor{x}, 1},
		{"constant of shape", "ConstantOfShape", graph.Attrs{"value": i64(tensor.Shape{1}, 3)}, []string{"s"}, []*tensor.Tensor{i64(tensor.Shape{2}, 2, 3)}, 1},
		{"constant of shape default", "ConstantOfShape", nil, []string{"s"}, []*tensor.Tensor{i64(tensor.Shape{3}, 1, 2, 3)}, 1},
		{"constant", "Constant", graph.Attrs{"value": i64(tensor.Shape{2}, -1, 4)}, nil, nil, 1},
		{"expand", "Expand", nil, []string{"x", "s"}, []*tensor.Tensor{randTensor(r, tensor.Shape{3, 1}), i64(tensor.Shape{3}, 2, 3, 4)}, 1},
		{"concat int64", "Concat", graph.Attrs{"axis": int64(0)}, []string{"a", "b"}, []*tensor.Tensor{i64(tensor.Shape{1}, 1), i64(tensor.Shape{2}, 5, 6)}, 1},
		{"unsqueeze of an input", "Unsqueeze", nil, []string{"x", "a"}, []*tensor.Tensor{i64(tensor.Shape{}, 3), i64(tensor.Shape{1}, 0)}, 1},
		{"reshape of an input", "Reshape", nil, []string{"x", "s"}, []*tensor.Tensor{x, i64(tensor.Shape{2}, 20, -1)}, 1},
		{"transpose int64", "Transpose", graph.Attrs{"perm": []int64{1, 0}}, []string{"x"}, []*tensor.Tensor{i64(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)}, 1},
		{"mul int64", "Mul", nil, []string{"a", "b"}, []*tensor.Tensor{i64(tensor.Shape{2}, 3, -4), i64(tensor.Shape{}, 5)}, 1},
		{"div int64", "Div", nil, []string{"a", "b"}, []*tensor.Tensor{i64(tensor.Shape{4}, 7, -7, 7, 9), i64(tensor.Shape{4}, 2, 2, 0, -1)}, 1},
		{"add int64", "Add", nil, []string{"a", "b"}, []*tensor.Tensor{i64(tensor.Shape{1}, 3), i64(tensor.Shape{1}, 4)}, 1},
		{"sub int64", "Sub", nil, []string{"a", "b"}, []*tensor.Tensor{i64(tensor.Shape{1}, 3), i64(tensor.Shape{1}, 4)}, 1},
		{"cast f32 to i64", "Cast", graph.Attrs{"to": int64(tensor.Int64)}, []string{"x"}, []*tensor.Tensor{tensor.From(tensor.Shape{5}, []float32{1.7, -1.7, float32(math.NaN()), 1e30, -1e30})}, 1},
		{"cast i64 to f32", "Cast", graph.Attrs{"to": int64(tensor.Float32)}, []string{"x"}, []*tensor.Tensor{i64(tensor.Shape{2}, 3, -1<<40)}, 1},
		{"cast i32 to i64", "Cast", graph.Attrs{"to": int64(tensor.Int64)}, []string{"x"}, []*tensor.Tensor{tensor.From(tensor.Shape{2}, []int32{3, -9})}, 1},
		{"reduce mean last", "ReduceMean", nil, []string{"x", "pa"}, []*tensor.Tensor{x, i64(tensor.Shape{1}, -1)}, 1},
		{"reduce sum trailing", "ReduceSum", graph.Attrs{"keepdims": int64(0)}, []string{"x", "pa"}, []*tensor.Tensor{x, i64(tensor.Shape{2}, 2, 1)}, 1},
		{"reduce max", "ReduceMax", nil, []string{"x", "pa"}, []*tensor.Tensor{x, i64(tensor.Shape{1}, 2)}, 1},
		{"cast i64 to i64", "Cast", graph.Attrs{"to": int64(tensor.Int64)}, []string{"x"}, []*tensor.Tensor{i64(tensor.Shape{}, 3)}, 1},
	}
	for _, c := range cases {
		g, feeds := oneNode(c.op, c.attrs, c.ins, c.vals, c.nout)
		checkAgainstReference(t, c.name, g, feeds, 0, 0, 1, false)
	}
}

// TestBatchNormKernel: inference BatchNormalization with a positive
// variance, folded into x*a+b (one rounding more than the reference's
// float64 formula: 1e-6 + 1e-5 relative).
func TestBatchNormKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	v := randTensor(r, tensor.Shape{3})
	for i, x := range v.F32() {
		v.F32()[i] = x*x + 0.1
	}
	g, feeds := oneNode("BatchNormalization", graph.Attrs{"epsilon": float32(1e-3)}, []string{"x", "ps", "pb", "pm", "pv"},
		[]*tensor.Tensor{randTensor(r, tensor.Shape{2, 3, 4, 5}), randTensor(r, tensor.Shape{3}), randTensor(r, tensor.Shape{3}), randTensor(r, tensor.Shape{3}), v}, 1)
	checkAgainstReference(t, "batchnorm", g, feeds, 1e-6, 1e-5, 1, false)
}
