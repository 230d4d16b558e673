package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Test-only ops in their own domain, so these tests do not depend on the op set.
func init() {
	ops.Register(&ops.Def{Name: "AddOne", Domain: "kiln.rttest", Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x := in[0].F32()
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = v + 1
		}
		return []*tensor.Tensor{tensor.From(in[0].Shape(), y)}, nil
	}})
	ops.Register(&ops.Def{Name: "Boom", Domain: "kiln.rttest", Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		var s []int
		_ = s[3] // a kernel bug
		return nil, nil
	}})
	// CallBody runs its "body" subgraph on its input; the body reads the
	// outer value "outer" by name.
	ops.Register(&ops.Def{Name: "CallBody", Domain: "kiln.rttest", Eval: func(ec *ops.EvalContext, in []ops.Value) ([]ops.Value, error) {
		return ec.RunGraph(ec.Node.Attrs.Graph("body"), in)
	}})
}

func node(name, op string, in, out []string) *graph.Node {
	return &graph.Node{Name: name, Op: op, Domain: "kiln.rttest", Inputs: in, Outputs: out, Attrs: graph.Attrs{}}
}

func chain() *graph.Graph {
	return &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 2)}},
		Outputs: []*graph.Value{{Name: "z", Type: graph.TensorType(tensor.Float32, -1, 2)}},
		Nodes:   []*graph.Node{node("a", "AddOne", []string{"x"}, []string{"y"}), node("b", "AddOne", []string{"y"}, []string{"z"})},
	}
}

func TestRunChain(t *testing.T) {
	p, err := Compile(chain())
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 2}, []float32{1, 2})})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["z"].String(); got != "float32(1, 2) [3 4]" {
		t.Fatal(got)
	}
}

func TestInputErrors(t *testing.T) {
	p, _ := Compile(chain())
	cases := map[string]map[string]*tensor.Tensor{
		`missing input "x"`:     {},
		`want dtype float32`:    {"x": tensor.From(tensor.Shape{1, 2}, []int64{1, 2})},
		`dimension 1 must be 2`: {"x": tensor.From(tensor.Shape{1, 3}, []float32{1, 2, 3})},
		`want rank 2`:           {"x": tensor.From(tensor.Shape{2}, []float32{1, 2})},
		`unknown input "nope"`:  {"x": tensor.From(tensor.Shape{1, 2}, []float32{1, 2}), "nope": tensor.Scalar(float32(1))},
	}
	for want, in := range cases {
		_, err := p.Run(in)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInput) {
			t.Errorf("want error containing %q wrapping ErrInput, got %v", want, err)
		}
	}
}

func TestUnknownOpsListed(t *testing.T) {
	g := chain()
	g.Nodes[0].Op, g.Nodes[1].Op = "Nope1", "Nope2"
	_, err := Compile(g)
	if err == nil || !errors.Is(err, ops.ErrUnsupported) || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("got %v", err)
	}
}

func TestKernelPanicBecomesError(t *testing.T) {
	g := chain()
	g.Nodes[1].Op = "Boom"
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 2}, []float32{1, 2})})
	if err == nil || !strings.Contains(err.Error(), `node "b"`) {
		t.Fatalf("got %v", err)
	}
}

func TestSubgraphSeesOuterScope(t *testing.T) {
	body := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "v", Type: graph.UnrankedType(tensor.Float32)}},
		Outputs: []*graph.Value{{Name: "w"}},
		Nodes:   []*graph.Node{node("inner", "AddOne", []string{"outer"}, []string{"w"})},
	}
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: graph.UnrankedType(tensor.Float32)}},
		Outputs: []*graph.Value{{Name: "r"}},
		Nodes: []*graph.Node{
			node("o", "AddOne", []string{"x"}, []string{"outer"}),
			{Name: "call", Op: "CallBody", Domain: "kiln.rttest", Inputs: []string{"x"}, Outputs: []string{"r"}, Attrs: graph.Attrs{"body": body}},
		},
	}
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1}, []float32{5})})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["r"].String(); got != "float32(1,) [7]" {
		t.Fatal(got)
	}
}

func TestConcurrentRuns(t *testing.T) {
	p, _ := Compile(chain())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				v := float32(i*100 + j)
				out, err := p.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 2}, []float32{v, v})})
				if err != nil || out["z"].F32()[0] != v+2 {
					t.Errorf("run %d/%d: %v %v", i, j, out, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

func TestCancel(t *testing.T) {
	p, _ := Compile(chain())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.RunContext(ctx, map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 2}, []float32{1, 2})})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
