package pass_test

import (
	"github.com/kiln-ml/kiln/runtime/pass"
	"math"
	"math/rand"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// builder makes small test graphs.
type builder struct {
	g   *graph.Graph
	rng *rand.Rand
	n   int
}

func newBuilder() *builder {
	return &builder{g: &graph.Graph{Name: "test", Types: map[string]graph.Type{}}, rng: rand.New(rand.NewSource(1))}
}

func (b *builder) input(name string, shape ...int) string {
	b.g.Inputs = append(b.g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(tensor.Float32, shape...)})
	return name
}

func (b *builder) output(names ...string) {
	for _, n := range names {
		b.g.Outputs = append(b.g.Outputs, &graph.Value{Name: n, Type: graph.UnrankedType(tensor.Float32)})
	}
}

func (b *builder) param(name string, t *tensor.Tensor) string {
	b.g.Params = append(b.g.Params, &graph.Param{Name: name, Tensor: t})
	return name
}

func (b *builder) randParam(name string, shape ...int) string {
	return b.param(name, b.rand(shape...))
}

func (b *builder) scalar(name string, v float32) string {
	return b.param(name, tensor.From(tensor.Shape{}, []float32{v}))
}

func (b *builder) rand(shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.Shape(shape).Size())
	for i := range v {
		v[i] = float32(b.rng.NormFloat64())
	}
	return tensor.From(tensor.Shape(shape), v)
}

// node appends a node with one output named out and returns out.
func (b *builder) node(op string, attrs graph.Attrs, out string, in ...string) string {
	b.n++
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: op + "_" + out, Op: op, Inputs: in, Outputs: []string{out}, Attrs: attrs, Meta: graph.Meta{Source: "test", ONNXName: out}})
	return out
}

func countOps(g *graph.Graph) map[string]int {
	c := map[string]int{}
	for _, n := range g.Nodes {
		c[n.Op]++
	}
	return c
}

// applyOne runs pass.Apply with every pass of level at most level, except those
// disabled.
func apply(t *testing.T, g *graph.Graph, o pass.Options) *graph.Graph {
	t.Helper()
	before := g.Clone()
	out, err := pass.Apply(g, o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// pass.Apply must not touch the caller's graph.
	if len(before.Nodes) != len(g.Nodes) || len(before.Params) != len(g.Params) {
		t.Fatalf("pass.Apply changed the caller's graph")
	}
	for i := range g.Nodes {
		if g.Nodes[i].Op != before.Nodes[i].Op || len(g.Nodes[i].Inputs) != len(before.Nodes[i].Inputs) {
			t.Fatalf("pass.Apply changed the caller's node %d", i)
		}
	}
	if len(out.Outputs) != len(g.Outputs) || len(out.Inputs) != len(g.Inputs) {
		t.Fatalf("pass.Apply changed inputs or outputs")
	}
	for i := range g.Outputs {
		if out.Outputs[i].Name != g.Outputs[i].Name {
			t.Fatalf("output %d renamed %q -> %q", i, g.Outputs[i].Name, out.Outputs[i].Name)
		}
	}
	return out
}

// only returns pass.Options running just the named passes (at every level).
func only(names ...string) pass.Options {
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	var off []string
	for _, n := range pass.Names() {
		if !keep[n] {
			off = append(off, n)
		}
	}
	return pass.Options{Level: pass.MaxLevel, Disable: off}
}

// sameResults compiles a without graph passes and b as given and compares
// them on seeded random inputs of the declared (static) input shapes. The
// tolerance covers float32 rounding of reassociated arithmetic (folded
// weights, fused epilogues).
func sameResults(t *testing.T, a, b *graph.Graph) {
	t.Helper()
	pa, err := runtime.Compile(a, runtime.Options{Passes: &pass.Options{}})
	if err != nil {
		t.Fatalf("compile original: %v", err)
	}
	pb, err := runtime.Compile(b)
	if err != nil {
		t.Fatalf("compile rewritten: %v", err)
	}
	rng := rand.New(rand.NewSource(42))
	for trial := 0; trial < 3; trial++ {
		in := map[string]*tensor.Tensor{}
		for _, v := range a.Inputs {
			v2 := make([]float32, tensor.Shape(v.Type.Shape).Size())
			for i := range v2 {
				v2[i] = float32(rng.NormFloat64() * 2)
			}
			in[v.Name] = tensor.From(tensor.Shape(v.Type.Shape), v2)
		}
		ra, err := pa.Run(in)
		if err != nil {
			t.Fatalf("run original: %v", err)
		}
		rb, err := pb.Run(in)
		if err != nil {
			t.Fatalf("run rewritten: %v", err)
		}
		for _, o := range a.Outputs {
			x, y := ra[o.Name], rb[o.Name]
			if y == nil || !x.Shape().Equal(y.Shape()) || x.DType() != y.DType() {
				t.Fatalf("output %q: %v vs %v", o.Name, x, y)
			}
			xv, yv := x.Float64s(), y.Float64s()
			for i := range xv {
				if d := math.Abs(xv[i] - yv[i]); d > 1e-5+1e-4*math.Abs(xv[i]) || math.IsNaN(yv[i]) != math.IsNaN(xv[i]) {
					t.Fatalf("output %q element %d: original %g, rewritten %g", o.Name, i, xv[i], yv[i])
				}
			}
		}
	}
}
