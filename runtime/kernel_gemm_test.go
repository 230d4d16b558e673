package runtime

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/kernel"
)

// gemmCase is a Conv, MatMul or Gemm node checked against its reference
// op. k is the length of the dot products behind each output (the
// tolerance scales with it).
type gemmCase struct {
	kcase
	k      int
	want   string // kernel name expected to be chosen ("" = any fast kernel)
	domain string
}

// ints64 turns ints into an int64 attribute value.
func ints64(v ...int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func convCase(x, w tensor.Shape, bias bool, attrs graph.Attrs, want string) gemmCase {
	shapes := []tensor.Shape{x, w}
	params := map[int]bool{1: true}
	if bias {
		shapes = append(shapes, tensor.Shape{w[0]})
		params[2] = true
	}
	k := w[1]
	for _, d := range w[2:] {
		k *= d
	}
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	return gemmCase{kcase: kcase{op: "Conv", attrs: attrs, shapes: shapes, params: params}, k: k, want: want}
}

// TestGemmKernelsMatchReference holds the Conv, MatMul and Gemm kernels to
// the reference ops on random N(0, 1) inputs, on 1 and 2 threads. The
// tolerance is 1e-5*(k+1) absolute plus 1e-5 relative: a float32 dot
// product of k such terms (each |term| a few units, partial sums up to
// about sqrt(k)) accumulates at most k roundings of 2^-24 times its
// running magnitude, well inside that bound, while a wrong index gives
// errors of order 1.
func TestGemmKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	a := func(kv ...any) graph.Attrs {
		m := graph.Attrs{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []gemmCase{
		convCase(tensor.Shape{1, 3, 9, 9}, tensor.Shape{4, 3, 3, 3}, true, a("pads", ints64(1, 1, 1, 1)), "Conv/f32-gemm"),
		convCase(tensor.Shape{2, 3, 9, 11}, tensor.Shape{5, 3, 3, 3}, false, a("pads", ints64(1, 0, 2, 1), "strides", ints64(2, 2)), "Conv/f32-gemm"),
		convCase(tensor.Shape{2, 3, 20, 20}, tensor.Shape{9, 3, 7, 7}, true, a("pads", ints64(3, 3, 3, 3), "strides", ints64(2, 2)), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 16, 7, 7}, tensor.Shape{40, 16, 1, 1}, true, nil, "Conv/f32-gemm"),
		convCase(tensor.Shape{3, 16, 8, 8}, tensor.Shape{8, 16, 1, 1}, true, a("strides", ints64(2, 2)), "Conv/f32-gemm"),
		convCase(tensor.Shape{2, 8, 10, 9}, tensor.Shape{12, 2, 3, 3}, true, a("group", int64(4), "pads", ints64(1, 1, 1, 1)), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 2, 9, 9}, tensor.Shape{3, 2, 3, 2}, false, a("dilations", ints64(2, 2), "strides", ints64(1, 3), "pads", ints64(0, 2, 1, 0)), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 3, 10, 10}, tensor.Shape{4, 3, 3, 3}, true, a("auto_pad", "SAME_UPPER", "strides", ints64(2, 2)), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 3, 10, 10}, tensor.Shape{4, 3, 4, 4}, true, a("auto_pad", "SAME_LOWER"), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 1, 5, 5}, tensor.Shape{2, 1, 3, 3}, true, a("pads", ints64(4, 4, 4, 4)), "Conv/f32-gemm"),
		convCase(tensor.Shape{2, 4, 30}, tensor.Shape{6, 4, 5}, true, a("pads", ints64(2, 2), "strides", ints64(2)), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 6, 28, 28}, tensor.Shape{16, 6, 5, 5}, true, nil, "Conv/f32-gemm"),
		convCase(tensor.Shape{2, 64, 14, 14}, tensor.Shape{128, 64, 3, 3}, true, a("pads", ints64(1, 1, 1, 1)), "Conv/f32-gemm"),
		convCase(tensor.Shape{1, 256, 7, 7}, tensor.Shape{300, 256, 3, 3}, true, a("pads", ints64(1, 1, 1, 1)), "Conv/f32-gemm"),
		// Depthwise 3x3.
		convCase(tensor.Shape{1, 8, 9, 9}, tensor.Shape{8, 1, 3, 3}, true, a("group", int64(8), "pads", ints64(1, 1, 1, 1)), "Conv/f32-dw3x3"),
		convCase(tensor.Shape{2, 5, 20, 19}, tensor.Shape{5, 1, 3, 3}, false, a("group", int64(5), "pads", ints64(1, 1, 1, 1), "strides", ints64(2, 2)), "Conv/f32-dw3x3"),
		convCase(tensor.Shape{1, 3, 40, 37}, tensor.Shape{3, 1, 3, 3}, true, a("group", int64(3), "pads", ints64(0, 2, 1, 0), "dilations", ints64(2, 1)), "Conv/f32-dw3x3"),
		convCase(tensor.Shape{1, 32, 112, 112}, tensor.Shape{32, 1, 3, 3}, true, a("group", int64(32), "pads", ints64(1, 1, 1, 1)), "Conv/f32-dw3x3"),
		convCase(tensor.Shape{1, 4, 7, 7}, tensor.Shape{4, 1, 3, 3}, true, a("group", int64(4), "auto_pad", "SAME_UPPER", "strides", ints64(2, 2)), "Conv/f32-dw3x3"),
	}
	mm := func(a, b tensor.Shape, constB bool, want string) gemmCase {
		c := gemmCase{kcase: kcase{op: "MatMul", shapes: []tensor.Shape{a, b}, params: map[int]bool{1: constB}}, k: a[len(a)-1], want: want}
		return c
	}
	cases = append(cases,
		mm(tensor.Shape{2, 3, 5, 7}, tensor.Shape{7, 9}, true, "MatMul/f32"),
		mm(tensor.Shape{1, 784}, tensor.Shape{784, 512}, true, "MatMul/f32"),
		mm(tensor.Shape{8, 512}, tensor.Shape{512, 10}, true, "MatMul/f32"),
		mm(tensor.Shape{784}, tensor.Shape{784, 70}, true, "MatMul/f32"),
		mm(tensor.Shape{5, 33}, tensor.Shape{33}, true, "MatMul/f32"),
		mm(tensor.Shape{2, 4, 16, 8}, tensor.Shape{2, 4, 8, 16}, false, "MatMul/f32"),
		mm(tensor.Shape{2, 4, 1, 8}, tensor.Shape{2, 4, 8, 40}, false, "MatMul/f32"),
		mm(tensor.Shape{3, 1, 4, 5}, tensor.Shape{2, 5, 6}, false, "MatMul/f32"),
		mm(tensor.Shape{3, 1, 4, 5}, tensor.Shape{2, 5, 6}, true, "MatMul/f32"),
		mm(tensor.Shape{4, 5}, tensor.Shape{3, 5, 6}, false, "MatMul/f32"),
		mm(tensor.Shape{6, 50, 64}, tensor.Shape{64, 64}, false, "MatMul/f32"),
	)
	gm := func(m, k, n int, ta, tb bool, alpha, beta float32, c tensor.Shape, constC bool) gemmCase {
		as, bs := tensor.Shape{m, k}, tensor.Shape{k, n}
		if ta {
			as = tensor.Shape{k, m}
		}
		if tb {
			bs = tensor.Shape{n, k}
		}
		attrs := graph.Attrs{"alpha": alpha, "beta": beta}
		if ta {
			attrs["transA"] = int64(1)
		}
		if tb {
			attrs["transB"] = int64(1)
		}
		shapes := []tensor.Shape{as, bs}
		params := map[int]bool{1: true}
		if c != nil {
			shapes = append(shapes, c)
			params[2] = constC
		}
		return gemmCase{kcase: kcase{op: "Gemm", attrs: attrs, shapes: shapes, params: params}, k: k, want: "Gemm/f32"}
	}
	cases = append(cases,
		gm(8, 512, 1000, false, true, 1, 1, tensor.Shape{1000}, true),
		gm(1, 512, 1000, false, true, 1, 1, tensor.Shape{1000}, true),
		gm(7, 30, 20, true, false, 0.5, 2, tensor.Shape{1, 20}, true),
		gm(7, 30, 20, true, true, 1, -1, tensor.Shape{7, 1}, true),
		gm(7, 30, 20, false, false, 1, 0.5, tensor.Shape{7, 20}, true),
		gm(7, 30, 20, false, false, 1, 0.5, tensor.Shape{7, 20}, false),
		gm(7, 30, 20, false, true, 2, 3, tensor.Shape{}, true),
		gm(9, 30, 20, false, true, 1, 1, tensor.Shape{20}, false),
		gm(9, 30, 20, false, false, 1, 1, nil, false),
		gm(1, 64, 1, false, false, 1, 1, tensor.Shape{1}, true),
		gemmCase{kcase: kcase{op: "Gemm", attrs: graph.Attrs{"transB": int64(1)}, shapes: []tensor.Shape{{5, 6}, {7, 6}, {7}}}, k: 6, want: "Gemm/f32"},
	)
	fused := func(c gemmCase, act string, kv ...any) gemmCase {
		c.domain = "kiln"
		c.op = "Fused" + c.op
		c.want = "Fused" + c.want
		attrs := graph.Attrs{}
		for k, v := range c.attrs {
			attrs[k] = v
		}
		if act != "" {
			attrs["activation"] = act
		}
		for i := 0; i < len(kv); i += 2 {
			attrs[kv[i].(string)] = kv[i+1]
		}
		c.attrs = attrs
		return c
	}
	// residual adds FusedConv's Z input (ResNet's conv + shortcut + relu)
	// to a same-size convolution case.
	residual := func(c gemmCase) gemmCase {
		x, w := c.shapes[0], c.shapes[1]
		c.shapes = append(append([]tensor.Shape{}, c.shapes...), tensor.Shape{x[0], w[0], x[2], x[3]})
		return c
	}
	conv3 := convCase(tensor.Shape{2, 8, 10, 10}, tensor.Shape{16, 8, 3, 3}, true, a("pads", ints64(1, 1, 1, 1)), "Conv/f32-gemm")
	conv1 := convCase(tensor.Shape{2, 8, 6, 6}, tensor.Shape{16, 8, 1, 1}, true, nil, "Conv/f32-gemm")
	convBig := convCase(tensor.Shape{3, 4, 20, 20}, tensor.Shape{8, 4, 3, 3}, true, a("pads", ints64(1, 1, 1, 1)), "Conv/f32-gemm")
	cases = append(cases, convBig, residual(fused(convBig, "Relu")))
	convDW := convCase(tensor.Shape{2, 8, 10, 10}, tensor.Shape{8, 1, 3, 3}, true, a("pads", ints64(1, 1, 1, 1), "group", int64(8)), "Conv/f32-dw3x3")
	for _, base := range []gemmCase{conv3, conv1, convDW} {
		cases = append(cases,
			fused(base, "Relu"),
			fused(base, "Clip", "activation_alpha", float32(0), "activation_beta", float32(6)),
			fused(base, "Clip", "activation_beta", float32(0.5)),
			fused(base, "LeakyRelu", "activation_alpha", float32(0.2)),
			fused(base, "Sigmoid"),
			fused(base, "Tanh"),
			fused(base, "Swish"),
			fused(base, "Gelu"),
			fused(base, "Gelu", "activation_approximate", "tanh"),
			fused(base, "HardSwish"),
			fused(base, ""),
			residual(fused(base, "Relu")),
			residual(fused(base, "Sigmoid")),
			residual(fused(base, "")),
		)
	}
	// Weights and bias fed at run time (the evaluation graphs of models in
	// training), fused or not.
	runtimeW := func(c gemmCase) gemmCase {
		c.params = map[int]bool{}
		c.want = c.op + "/f32-runtime-weight"
		return c
	}
	cases = append(cases,
		runtimeW(conv3), runtimeW(conv1),
		runtimeW(fused(conv3, "Relu")), runtimeW(fused(conv1, "Tanh")), runtimeW(fused(conv3, "")),
		runtimeW(residual(fused(conv3, "Relu"))), runtimeW(residual(fused(convBig, "Sigmoid"))),
	)
	mmB := mm(tensor.Shape{3, 5, 40}, tensor.Shape{40, 24}, true, "MatMul/f32")
	mmB.shapes = append(mmB.shapes, tensor.Shape{24})
	mmB.params = map[int]bool{1: true, 2: true}
	cases = append(cases,
		fused(mmB, "Relu"),
		fused(mmB, "Gelu"),
		fused(mm(tensor.Shape{1, 300}, tensor.Shape{300, 70}, true, "MatMul/f32"), "Tanh"),
		fused(mm(tensor.Shape{2, 3, 9, 16}, tensor.Shape{2, 3, 16, 9}, false, "MatMul/f32"), "Sigmoid"),
		fused(gm(8, 512, 100, false, true, 1, 1, tensor.Shape{100}, true), "Relu"),
		fused(gm(1, 512, 100, false, true, 1, 1, tensor.Shape{100}, true), "Relu"),
		fused(gm(7, 30, 20, false, false, 1, 0.5, tensor.Shape{7, 20}, false), "LeakyRelu", "activation_alpha", float32(0.1)),
	)
	for _, c := range cases {
		checkGemmCase(t, r, c)
	}
}

func checkGemmCase(t *testing.T, r *rand.Rand, c gemmCase) {
	t.Helper()
	g, feeds := singleNode(r, c.kcase)
	g.Nodes[0].Domain = c.domain
	ref, err := Compile(g, Options{NoPlan: true})
	if err != nil {
		t.Fatalf("%s %v: %v", c.op, c.shapes, err)
	}
	want := make([]*tensor.Tensor, 1)
	if err := ref.RunInto(context.Background(), feeds, want); err != nil {
		t.Fatalf("%s %v: %v", c.op, c.shapes, err)
	}
	tol := 1e-5 * float64(c.k+1)
	for _, threads := range []int{1, 2} {
		fast, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		for run := 0; run < 2; run++ {
			got := make([]*tensor.Tensor, 1)
			if err := fast.RunInto(context.Background(), feeds, got); err != nil {
				t.Fatalf("%s %v: %v", c.op, c.shapes, err)
			}
			if !got[0].Shape().Equal(want[0].Shape()) {
				t.Fatalf("%s %v: shape %v, want %v", c.op, c.shapes, got[0].Shape(), want[0].Shape())
			}
			gw, ww := got[0].F32(), want[0].F32()
			for i := range ww {
				if d := math.Abs(float64(gw[i] - ww[i])); !(d <= tol+1e-5*math.Abs(float64(ww[i]))) {
					t.Fatalf("%s %v %v threads %d run %d: element %d is %v, want %v", c.op, c.shapes, c.attrs, threads, run, i, gw[i], ww[i])
				}
			}
		}
		pl, _, _ := fast.planFor(context.Background(), feeds)
		if pl == nil || pl.kernels != 1 {
			t.Errorf("%s %v: no fast kernel was selected", c.op, c.shapes)
		} else if c.want != "" && pl.steps[0].kname != c.want {
			t.Errorf("%s %v %v: kernel %s, want %s", c.op, c.shapes, c.attrs, pl.steps[0].kname, c.want)
		}
		fast.Close()
	}
}

// TestGemmPlanDoesNotAllocate runs a small CNN and MLP made of the
// Conv, MatMul and Gemm kernels (and elementwise ones) and checks a planned
// run allocates nothing, on 1 and 2 threads.
func TestGemmPlanDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	r := rand.New(rand.NewPCG(3, 3))
	param := func(name string, s ...int) *graph.Param {
		return &graph.Param{Name: name, Tensor: randTensor(r, tensor.Shape(s))}
	}
	node := func(name, op string, in []string, attrs graph.Attrs) *graph.Node {
		if attrs == nil {
			attrs = graph.Attrs{}
		}
		return &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs}
	}
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, 2, 3, 16, 16)}},
		Outputs: []*graph.Value{{Name: "out", Type: graph.UnrankedType(tensor.Float32)}},
		Params: []*graph.Param{param("w1", 16, 3, 3, 3), param("b1", 16), param("wd", 16, 1, 3, 3), param("bd", 16),
			param("w2", 32, 16, 1, 1), param("w3", 32*8*8, 64), param("w4", 10, 64), param("b4", 10)},
		Nodes: []*graph.Node{
			node("c1", "Conv", []string{"x", "w1", "b1"}, graph.Attrs{"pads": ints64(1, 1, 1, 1)}),
			node("r1", "Relu", []string{"c1"}, nil),
			node("dw", "Conv", []string{"r1", "wd", "bd"}, graph.Attrs{"pads": ints64(1, 1, 1, 1), "strides": ints64(2, 2), "group": int64(16)}),
			node("c2", "Conv", []string{"dw", "w2"}, nil),
			node("f", "Flatten", []string{"c2"}, graph.Attrs{"axis": int64(1)}),
			node("mm", "MatMul", []string{"f", "w3"}, nil),
			node("out", "Gemm", []string{"mm", "w4", "b4"}, graph.Attrs{"transB": int64(1)}),
		},
	}
	for _, threads := range []int{1, 2} {
		p, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		in := []*tensor.Tensor{randTensor(r, tensor.Shape{2, 3, 16, 16})}
		out := []*tensor.Tensor{tensor.New(tensor.Float32, 2, 10)}
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if err := p.RunInto(ctx, in, out); err != nil {
				t.Fatal(err)
			}
		}
		if steps, k := p.planned(in); k != steps-1 { // Flatten is a view
			t.Errorf("threads %d: %d of %d steps have fast kernels", threads, k, steps)
		}
		if a := testing.AllocsPerRun(100, func() { p.RunInto(ctx, in, out) }); a != 0 {
			t.Errorf("threads %d: %v allocations per planned run, want 0", threads, a)
		}
		p.Close()
	}
}

var _ = kernel.ActNone
