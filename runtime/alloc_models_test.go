package runtime

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Small graphs with the op mix of the benchmark models (mlp, cnn, a
// resnet18 stage, the lstm/gru front end and a transformer attention
// block), built here so the allocation test always runs.

type gb struct {
	g *graph.Graph
	r *rand.Rand
	n int
}

func newGB(seed uint64, inName string, in graph.Type) *gb {
	return &gb{g: &graph.Graph{Inputs: []*graph.Value{{Name: inName, Type: in}}}, r: rand.New(rand.NewPCG(seed, 1))}
}

func (b *gb) param(scale float32, s ...int) string {
	b.n++
	name := "p" + string(rune('a'+b.n%26)) + string(rune('0'+b.n/26))
	b.g.Params = append(b.g.Params, param(b.r, name, scale, s...))
	return name
}

func (b *gb) constI64(v ...int64) string {
	b.n++
	name := "c" + string(rune('a'+b.n%26)) + string(rune('0'+b.n/26))
	b.g.Params = append(b.g.Params, &graph.Param{Name: name, Tensor: tensor.From(tensor.Shape{len(v)}, v)})
	return name
}

func (b *gb) node(op string, attrs graph.Attrs, in ...string) string {
	b.n++
	out := "v" + string(rune('a'+b.n%26)) + string(rune('0'+b.n/26))
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: out, Op: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *gb) done(out string) *graph.Graph {
	b.g.Outputs = []*graph.Value{{Name: out, Type: graph.UnrankedType(tensor.Float32)}}
	return b.g
}

func mlpGraph(batch int) (*graph.Graph, *tensor.Tensor) {
	b := newGB(1, "x", graph.TensorType(tensor.Float32, batch, 64))
	h := "x"
	for i, w := range []int{64, 32, 32, 10} {
		if i == 0 {
			continue
		}
		h = b.node("Gemm", graph.Attrs{"transB": int64(1)}, h, b.param(0.1, w, []int{64, 32, 32}[i-1]), b.param(0.1, w))
		if i < 3 {
			h = b.node("Relu", nil, h)
		}
	}
	return b.done(h), randTensor(b.r, tensor.Shape{batch, 64})
}

func cnnGraph(batch int) (*graph.Graph, *tensor.Tensor) {
	b := newGB(2, "x", graph.TensorType(tensor.Float32, batch, 1, 28, 28))
	h := b.node("Conv", graph.Attrs{"kernel_shape": []int64{5, 5}, "pads": []int64{2, 2, 2, 2}}, "x", b.param(0.2, 6, 1, 5, 5), b.param(0.1, 6))
	h = b.node("Relu", nil, h)
	h = b.node("MaxPool", graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, h)
	h = b.node("Conv", graph.Attrs{"kernel_shape": []int64{5, 5}}, h, b.param(0.1, 16, 6, 5, 5), b.param(0.1, 16))
	h = b.node("Relu", nil, h)
	h = b.node("MaxPool", graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, h)
	h = b.node("Flatten", graph.Attrs{"axis": int64(1)}, h)
	h = b.node("Gemm", graph.Attrs{"transB": int64(1)}, h, b.param(0.05, 10, 400), b.param(0.1, 10))
	return b.done(h), randTensor(b.r, tensor.Shape{batch, 1, 28, 28})
}

func resnetGraph(batch int) (*graph.Graph, *tensor.Tensor) {
	b := newGB(3, "x", graph.TensorType(tensor.Float32, batch, 3, 32, 32))
	h := b.node("Conv", graph.Attrs{"kernel_shape": []int64{7, 7}, "strides": []int64{2, 2}, "pads": []int64{3, 3, 3, 3}}, "x", b.param(0.1, 16, 3, 7, 7), b.param(0.1, 16))
	h = b.node("Relu", nil, h)
	h = b.node("MaxPool", graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}, h)
	c3 := graph.Attrs{"kernel_shape": []int64{3, 3}, "pads": []int64{1, 1, 1, 1}}
	y := b.node("Conv", c3, h, b.param(0.1, 16, 16, 3, 3), b.param(0.1, 16))
	y = b.node("Relu", nil, y)
	y = b.node("Conv", c3, y, b.param(0.1, 16, 16, 3, 3), b.param(0.1, 16))
	h = b.node("Add", nil, y, h)
	h = b.node("Relu", nil, h)
	h = b.node("GlobalAveragePool", nil, h)
	h = b.node("Flatten", graph.Attrs{"axis": int64(1)}, h)
	h = b.node("Gemm", graph.Attrs{"transB": int64(1)}, h, b.param(0.1, 10, 16), b.param(0.1, 10))
	return b.done(h), randTensor(b.r, tensor.Shape{batch, 3, 32, 32})
}

// rnnFrontGraph is the lstm/gru bench front end without its final Gemm:
// embedding Gather, Transpose to time-major, a zero initial state built
// from the input's Shape, the recurrent layer, the last hidden state.
func rnnFrontGraph(op string, batch int) (*graph.Graph, *tensor.Tensor) {
	const seq, vocab, E, H = 12, 100, 16, 16
	G := 4
	if op == "GRU" {
		G = 3
	}
	b := newGB(4, "x", graph.TensorType(tensor.Int64, batch, seq))
	e := b.node("Gather", nil, b.param(1, vocab, E), "x")
	e = b.node("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, e)
	sh := b.node("Shape", nil, "x")
	bs := b.node("Gather", graph.Attrs{"axis": int64(0)}, sh, b.constI64(0))
	st := b.node("Concat", graph.Attrs{"axis": int64(0)}, b.constI64(1), bs, b.constI64(H))
	h0 := b.node("ConstantOfShape", graph.Attrs{"value": tensor.From(tensor.Shape{1}, []float32{0})}, st)
	ins := []string{e, b.param(0.3, 1, G*H, E), b.param(0.3, 1, G*H, H), b.param(0.1, 1, 2*G*H), "", h0}
	attrs := graph.Attrs{"hidden_size": int64(H)}
	if op == "LSTM" {
		ins = append(ins, h0)
	} else {
		attrs["linear_before_reset"] = int64(1)
	}
	b.n++
	y, yh := "rnn_y", "rnn_yh"
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "rnn", Op: op, Inputs: ins, Outputs: []string{y, yh}, Attrs: attrs})
	h := b.node("Squeeze", nil, yh, b.constI64(0))
	x := tensor.New(tensor.Int64, batch, seq)
	for i := range x.I64() {
		x.I64()[i] = int64(b.r.IntN(vocab))
	}
	return b.done(h), x
}

// attentionGraph is the non-GEMM part of a transformer encoder layer:
// reshape into heads with shapes computed from Shape, softmax over
// scores, residual add and LayerNormalization.
func attentionGraph(batch int) (*graph.Graph, *tensor.Tensor) {
	const S, D, heads = 16, 32, 4
	b := newGB(5, "x", graph.TensorType(tensor.Float32, S, batch, D))
	sh := b.node("Shape", nil, "x")
	s0 := b.node("Gather", graph.Attrs{"axis": int64(0)}, sh, b.constI64(0))
	s1 := b.node("Gather", graph.Attrs{"axis": int64(0)}, sh, b.constI64(1))
	bh := b.node("Mul", nil, s1, b.constI64(heads))
	hs := b.node("Div", nil, b.constI64(D), b.constI64(heads))
	shape := b.node("Concat", graph.Attrs{"axis": int64(0)}, s0, bh, hs)
	q := b.node("Reshape", nil, "x", shape)
	q = b.node("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, q)
	sc := b.node("Mul", nil, q, b.param(1)) // scaled: stands in for Q K^T
	p := b.node("Softmax", graph.Attrs{"axis": int64(-1)}, sc)
	p = b.node("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, p)
	p = b.node("Reshape", nil, p, b.constI64(S, int64(batch), D))
	h := b.node("Add", nil, p, "x")
	h = b.node("LayerNormalization", graph.Attrs{"axis": int64(-1)}, h, b.param(1, D), b.param(0.1, D))
	h = b.node("Relu", nil, h)
	return b.done(h), randTensor(b.r, tensor.Shape{S, batch, D})
}

// transformerGraph is one encoder layer of the transformer bench model as
// PyTorch exports nn.TransformerEncoderLayer (sequence-first
// MultiheadAttention with heads folded into the batch axis: in_proj,
// Slice into Q/K/V, Reshape/Transpose, Q divided by sqrt(dh), Kᵀ as a
// Transpose, Softmax, out_proj as Gemm, residual adds, LayerNormalization
// and a Relu feed-forward), smaller (seq 64, d 64, 4 heads), with static
// shapes so the passes fuse the attention, and big enough at batch 8 that
// Softmax, LayerNormalization and Add split across threads.
func transformerGraph(batch int) (*graph.Graph, *tensor.Tensor) {
	const S, D, H, F = 64, 64, 4, 128
	dh := D / H
	b := newGB(6, "x", graph.TensorType(tensor.Float32, batch, S, D))
	x := "x"
	t := b.node("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, x) // [S, B, D]
	qkv := b.node("MatMul", nil, t, b.param(0.1, D, 3*D))
	qkv = b.node("Add", nil, b.param(0.1, 3*D), qkv)
	heads := func(i int64, perm []int64) string {
		h := b.node("Slice", nil, qkv, b.constI64(i*D), b.constI64((i+1)*D), b.constI64(-1))
		h = b.node("Reshape", nil, h, b.constI64(S, int64(batch*H), int64(dh)))
		return b.node("Transpose", graph.Attrs{"perm": perm}, h)
	}
	q := heads(0, []int64{1, 0, 2})
	b.g.Params = append(b.g.Params, &graph.Param{Name: "sqrt_dh", Tensor: tensor.From(tensor.Shape{}, []float32{4})})
	q = b.node("Div", nil, q, "sqrt_dh")
	kt := heads(1, []int64{1, 2, 0})
	v := heads(2, []int64{1, 0, 2})
	p := b.node("Softmax", graph.Attrs{"axis": int64(-1)}, b.node("MatMul", nil, q, kt))
	a := b.node("MatMul", nil, p, v) // [B·H, S, dh]
	a = b.node("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, a)
	a = b.node("Reshape", nil, a, b.constI64(int64(S*batch), D))
	a = b.node("Gemm", graph.Attrs{"transB": int64(1)}, a, b.param(0.1, D, D), b.param(0.1, D))
	a = b.node("Reshape", nil, a, b.constI64(S, int64(batch), D))
	a = b.node("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, a)
	h := b.node("Add", nil, x, a)
	h = b.node("LayerNormalization", graph.Attrs{"axis": int64(-1)}, h, b.param(1, D), b.param(0.1, D))
	f := b.node("Relu", nil, b.node("Add", nil, b.param(0.1, F), b.node("MatMul", nil, h, b.param(0.1, D, F))))
	f = b.node("Add", nil, b.param(0.1, D), b.node("MatMul", nil, f, b.param(0.1, F, D)))
	h = b.node("Add", nil, h, f)
	h = b.node("LayerNormalization", graph.Attrs{"axis": int64(-1)}, h, b.param(1, D), b.param(0.1, D))
	return b.done(h), randTensor(b.r, tensor.Shape{batch, S, D})
}

// missingKernels lists the planned steps that run a reference op.
func missingKernels(t *testing.T, p *Program, in []*tensor.Tensor) []string {
	pl, _, err := p.planFor(context.Background(), in)
	if err != nil || pl == nil {
		t.Fatalf("no plan: %v", err)
	}
	var miss []string
	for _, s := range pl.steps {
		if !s.view && s.kern == nil {
			miss = append(miss, s.st.node.Op)
		}
	}
	return miss
}

// TestBenchModelGraphsDoNotAllocate: every step of these graphs has a
// fast kernel (or is a view), results match the reference ops, and a
// planned RunInto allocates nothing. The graphs are compiled with the
// default graph passes, as the benchmarks run them. Graphs whose
// GEMM/Conv kernels (plain or fused) are not registered in this build
// skip the allocation check and log the ops lacking one.
func TestBenchModelGraphsDoNotAllocate(t *testing.T) {
	models := []struct {
		name string
		mk   func(batch int) (*graph.Graph, *tensor.Tensor)
	}{
		{"mlp", mlpGraph},
		{"cnn", cnnGraph},
		{"resnet", resnetGraph},
		{"lstm", func(b int) (*graph.Graph, *tensor.Tensor) { return rnnFrontGraph("LSTM", b) }},
		{"gru", func(b int) (*graph.Graph, *tensor.Tensor) { return rnnFrontGraph("GRU", b) }},
		{"attention", attentionGraph},
		{"transformer", transformerGraph},
	}
	for _, m := range models {
		for _, batch := range []int{1, 8} {
			g, x := m.mk(batch)
			in := []*tensor.Tensor{x}
			p, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
			miss := missingKernels(t, p, in)
			if len(miss) > 0 {
				for _, op := range miss {
					switch op {
					case "Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul":
					default:
						t.Errorf("%s batch %d: %s runs the reference op", m.name, batch, op)
					}
				}
				t.Logf("%s batch %d: no fast kernel for %v in this build; allocation check skipped", m.name, batch, miss)
				p.Close()
				continue
			}
			checkAgainstReference(t, m.name, g, in, 2e-5, 1e-4, 0, true)
			if raceEnabled {
				p.Close()
				continue
			}
			out := []*tensor.Tensor{nil}
			ctx := context.Background()
			if err := p.RunInto(ctx, in, out); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := p.RunInto(ctx, in, out); err != nil {
					t.Fatal(err)
				}
			}
			if a := testing.AllocsPerRun(50, func() { p.RunInto(ctx, in, out) }); a != 0 {
				t.Errorf("%s batch %d: %v allocations per planned RunInto, want 0", m.name, batch, a)
			}
			p.Close()
		}
	}
}
