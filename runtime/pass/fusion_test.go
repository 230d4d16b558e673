package pass_test

import (
	"github.com/kiln-ml/kiln/runtime/pass"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func positive(b *builder, name string, n int) string {
	t := b.rand(n)
	v := t.F32()
	for i := range v {
		v[i] = float32(math.Abs(float64(v[i]))) + 0.5
	}
	return b.param(name, t)
}

func bn(b *builder, out, x string, c int) string {
	return b.node("BatchNormalization", graph.Attrs{"epsilon": float32(1e-3)}, out, x,
		positive(b, out+"_s", c), b.randParam(out+"_b", c), b.randParam(out+"_m", c), positive(b, out+"_v", c))
}

func TestConvBNReluFusion(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 3, 6, 6)
	c := b.node("Conv", graph.Attrs{"pads": []int64{1, 1, 1, 1}}, "c", x, b.randParam("w", 4, 3, 3, 3), b.randParam("cb", 4))
	n := bn(b, "n", c, 4)
	b.output(b.node("Relu", nil, "y", n))
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	if len(out.Nodes) != 1 || out.Nodes[0].Op != "FusedConv" || out.Nodes[0].Attrs.String("activation", "") != "Relu" {
		t.Fatalf("got %v", countOps(out))
	}
	if out.Nodes[0].Meta.ONNXName != "c" {
		t.Errorf("fused node lost the Conv's provenance: %+v", out.Nodes[0].Meta)
	}
	sameResults(t, b.g, out)
}

func TestConvTransposeBNFold(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 1, 4, 5, 5)
	c := b.node("ConvTranspose", graph.Attrs{"group": int64(2), "strides": []int64{2, 2}}, "c", x, b.randParam("w", 4, 3, 3, 3))
	b.output(bn(b, "y", c, 6))
	out := apply(t, b.g, only("conv-bn-fold"))
	if got := countOps(out); got["BatchNormalization"] != 0 || got["ConvTranspose"] != 1 {
		t.Fatalf("got %v", got)
	}
	sameResults(t, b.g, out)
}

func TestConvResidualFusion(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 1, 4, 5, 5)
	c1 := b.node("Conv", graph.Attrs{"pads": []int64{1, 1, 1, 1}}, "c1", x, b.randParam("w1", 4, 4, 3, 3))
	r := b.node("Relu", nil, "r", c1)
	c2 := b.node("Conv", nil, "c2", r, b.randParam("w2", 4, 4, 1, 1))
	a := b.node("Add", nil, "a", c2, x)
	bias := b.node("Add", nil, "y0", a, b.param("pb", b.rand(4, 1, 1)))
	b.output(b.node("Relu", nil, "y", bias))
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	got := countOps(out)
	if got["FusedConv"] != 2 || len(out.Nodes) != 2 {
		t.Fatalf("got %v", got)
	}
	sameResults(t, b.g, out)
}

func TestGemmBiasClipFusion(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 3, 5)
	gm := b.node("Gemm", graph.Attrs{"transB": int64(1)}, "g", x, b.randParam("w", 4, 5))
	a := b.node("Add", nil, "a", gm, b.randParam("bias", 4))
	b.output(b.node("Clip", nil, "y", a, b.scalar("lo", 0), b.scalar("hi", 6)))
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	if len(out.Nodes) != 1 || out.Nodes[0].Op != "FusedGemm" || out.Nodes[0].Attrs.Float("activation_beta", 0) != 6 {
		t.Fatalf("got %v", countOps(out))
	}
	sameResults(t, b.g, out)
}

func TestMatMulBiasActivations(t *testing.T) {
	acts := []struct {
		op    string
		attrs graph.Attrs
	}{
		{"Relu", nil}, {"Sigmoid", nil}, {"Tanh", nil}, {"HardSwish", nil},
		{"LeakyRelu", graph.Attrs{"alpha": float32(0.2)}},
		{"HardSigmoid", graph.Attrs{"alpha": float32(0.3), "beta": float32(0.4)}},
		{"Gelu", graph.Attrs{"approximate": "tanh"}}, {"Gelu", nil},
		{"SiLU", nil},
	}
	for _, act := range acts {
		t.Run(act.op, func(t *testing.T) {
			b := newBuilder()
			x := b.input("x", 2, 3, 5)
			m := b.node("MatMul", nil, "m", x, b.randParam("w", 5, 4))
			a := b.node("Add", nil, "a", b.randParam("bias", 1, 4), m)
			if act.op == "SiLU" {
				s := b.node("Sigmoid", nil, "s", a)
				b.output(b.node("Mul", nil, "y", s, a))
			} else {
				b.output(b.node(act.op, act.attrs, "y", a))
			}
			out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
			if len(out.Nodes) != 1 || out.Nodes[0].Op != "FusedMatMul" || out.Nodes[0].Attrs.String("activation", "") == "" || out.Nodes[0].Input(2) == "" {
				t.Fatalf("got %v", countOps(out))
			}
			sameResults(t, b.g, out)
		})
	}
}

func TestMatMulIntNotFused(t *testing.T) {
	b := newBuilder()
	b.g.Inputs = append(b.g.Inputs, &graph.Value{Name: "x", Type: graph.TensorType(tensor.Int64, 2, 2)})
	m := b.node("MatMul", nil, "m", "x", b.param("w", tensor.FromInt64s(tensor.Shape{2, 2}, []int64{1, 2, 3, 4})))
	b.output(b.node("Relu", nil, "y", m))
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	if countOps(out)["Relu"] != 1 {
		t.Fatalf("an integer MatMul was fused: %v", countOps(out))
	}
}

func TestActivationNotFusedIntoSharedOutput(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 5)
	m := b.node("MatMul", nil, "m", x, b.randParam("w", 5, 4))
	b.output(b.node("Relu", nil, "y", m), m)
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	if countOps(out)["Relu"] != 1 {
		t.Fatalf("fused an activation whose input is also a graph output: %v", countOps(out))
	}
	sameResults(t, b.g, out)
}

func geluErf(b *builder, x string) string {
	d := b.node("Div", nil, "d", x, b.scalar("sqrt2", 1.4142135))
	e := b.node("Erf", nil, "e", d)
	a := b.node("Add", nil, "a1", e, b.scalar("one", 1))
	m := b.node("Mul", nil, "m1", x, a)
	return b.node("Mul", nil, "gelu", m, b.scalar("half", 0.5))
}

func geluTanh(b *builder, x string) string {
	p := b.node("Pow", nil, "p", x, b.scalar("three", 3))
	m := b.node("Mul", nil, "m0", b.scalar("k", 0.044715), p)
	a := b.node("Add", nil, "a0", x, m)
	s := b.node("Mul", nil, "s0", a, b.scalar("c", float32(math.Sqrt(2/math.Pi))))
	th := b.node("Tanh", nil, "t", s)
	a1 := b.node("Add", nil, "a1", b.scalar("one", 1), th)
	h := b.node("Mul", nil, "h", x, b.scalar("half", 0.5))
	return b.node("Mul", nil, "gelu", h, a1)
}

func TestGeluFusion(t *testing.T) {
	for name, f := range map[string]func(*builder, string) string{"erf": geluErf, "tanh": geluTanh} {
		t.Run(name, func(t *testing.T) {
			b := newBuilder()
			x := b.input("x", 3, 7)
			r := b.node("Neg", nil, "r", x)
			b.output(f(b, r))
			out := apply(t, b.g, only("gelu-fusion"))
			if got := countOps(out); len(out.Nodes) != 2 || got["Gelu"] != 1 {
				t.Fatalf("got %v", got)
			}
			sameResults(t, b.g, out)
		})
	}
}

func TestLayerNormFusion(t *testing.T) {
	for _, affine := range []bool{true, false} {
		b := newBuilder()
		x := b.input("x", 2, 3, 8)
		axes := b.param("axes", tensor.FromInt64s(tensor.Shape{1}, []int64{-1}))
		m := b.node("ReduceMean", nil, "mean", x, axes)
		d := b.node("Sub", nil, "d", x, m)
		p := b.node("Pow", nil, "p", d, b.scalar("two", 2))
		v := b.node("ReduceMean", nil, "var", p, b.param("axes2", tensor.FromInt64s(tensor.Shape{1}, []int64{2})))
		ve := b.node("Add", nil, "ve", v, b.scalar("eps", 1e-5))
		s := b.node("Sqrt", nil, "s", ve)
		y := b.node("Div", nil, "n", d, s)
		if affine {
			y = b.node("Mul", nil, "gy", y, b.randParam("gamma", 8))
			y = b.node("Add", nil, "y", y, b.randParam("beta", 1, 1, 8))
		}
		b.output(y)
		out := apply(t, b.g, only("layernorm-fusion"))
		if got := countOps(out); len(out.Nodes) != 1 || got["LayerNormalization"] != 1 {
			t.Fatalf("affine %v: got %v", affine, got)
		}
		sameResults(t, b.g, out)
	}
}

func TestAttentionFusion(t *testing.T) {
	for _, withMask := range []bool{true, false} {
		b := newBuilder()
		q := b.input("q", 2, 3, 4, 8)
		kin := b.input("k", 2, 5, 3, 8) // [B, S, H, D]
		v := b.input("v", 2, 3, 5, 6)
		kt := b.node("Transpose", graph.Attrs{"perm": []int64{0, 2, 3, 1}}, "kt", kin)
		s := b.node("MatMul", nil, "s", q, kt)
		s = b.node("Div", nil, "sd", s, b.scalar("sc", float32(math.Sqrt(8))))
		if withMask {
			s = b.node("Add", nil, "sm", s, b.randParam("mask", 1, 1, 4, 5))
		}
		p := b.node("Softmax", graph.Attrs{"axis": int64(-1)}, "p", s)
		b.output(b.node("MatMul", nil, "y", p, v))
		out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
		if got := countOps(out); got["Attention"] != 1 || got["Softmax"] != 0 {
			t.Fatalf("mask %v: got %v", withMask, got)
		}
		sameResults(t, b.g, out)
	}
}

// TestAttentionFusion3D: the heads-folded form PyTorch's MultiheadAttention
// exports: Q [B·H, S, D] divided by a scalar, Kᵀ as a Transpose of
// [S, B·H, D], scores over [B·H, Sq, T], with no mask, a 2-D mask, or a
// 3-D mask that gets a head axis.
func TestAttentionFusion3D(t *testing.T) {
	for _, mask := range []int{0, 2, 3} {
		b := newBuilder()
		qin := b.input("q", 6, 4, 8)
		kin := b.input("k", 5, 6, 8) // [T, B·H, D]
		v := b.input("v", 6, 5, 7)
		q := b.node("Div", nil, "qs", qin, b.scalar("sc", float32(math.Sqrt(8))))
		kt := b.node("Transpose", graph.Attrs{"perm": []int64{1, 2, 0}}, "kt", kin)
		s := b.node("MatMul", nil, "s", q, kt)
		switch mask {
		case 2:
			s = b.node("Add", nil, "sm", s, b.randParam("mask", 4, 5))
		case 3:
			s = b.node("Add", nil, "sm", b.randParam("mask", 6, 4, 5), s)
		}
		p := b.node("Softmax", graph.Attrs{"axis": int64(2)}, "p", s)
		b.output(b.node("MatMul", nil, "y", p, v))
		out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
		got := countOps(out)
		if got["Attention"] != 1 || got["Softmax"] != 0 || got["Div"] != 0 {
			t.Fatalf("mask rank %d: got %v", mask, got)
		}
		for _, n := range out.Nodes {
			if n.Op == "Attention" && (n.Attrs.Int("q_num_heads", 0) != 1 || math.Abs(float64(n.Attrs.Float("scale", 0))-1/math.Sqrt(8)) > 1e-7) {
				t.Fatalf("mask rank %d: attributes %v", mask, n.Attrs)
			}
		}
		sameResults(t, b.g, out)
	}
}

func TestSubgraphsRewritten(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 5)
	w := b.randParam("w", 5, 4)
	body := &graph.Graph{
		Outputs: []*graph.Value{{Name: "o", Type: graph.UnrankedType(tensor.Float32)}},
		Nodes: []*graph.Node{
			{Name: "i", Op: "Identity", Inputs: []string{x}, Outputs: []string{"xi"}},
			{Name: "m", Op: "MatMul", Inputs: []string{"xi", w}, Outputs: []string{"o"}},
		},
	}
	cond := b.param("cond", tensor.From(tensor.Shape{}, []bool{true}))
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "if", Op: "If", Inputs: []string{cond}, Outputs: []string{"y"}, Attrs: graph.Attrs{"then_branch": body, "else_branch": body.Clone()}})
	b.output("y")
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	sub := out.Nodes[0].Attrs.Graph("then_branch")
	if len(sub.Nodes) != 1 || sub.Nodes[0].Inputs[0] != "x" {
		t.Fatalf("subgraph not cleaned: %v", countOps(sub))
	}
	sameResults(t, b.g, out)
}
