package pass_test

import (
	"errors"
	"github.com/kiln-ml/kiln/runtime/pass"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestUnknownDisable(t *testing.T) {
	_, err := pass.Apply(newBuilder().g, pass.Options{Level: 2, Disable: []string{"nope"}})
	if !errors.Is(err, pass.ErrUnknownPass) {
		t.Fatalf("got %v, want pass.ErrUnknownPass", err)
	}
}

func TestLevelZeroIsCopy(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2)
	b.output(b.node("Identity", nil, "y", x))
	out := apply(t, b.g, pass.Options{Level: 0})
	if len(out.Nodes) != 1 || out == b.g || out.Nodes[0] == b.g.Nodes[0] {
		t.Fatalf("level 0 must return an unchanged copy")
	}
}

func TestConstantFolding(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 3)
	w := b.randParam("w", 3, 2)
	wt := b.node("Transpose", graph.Attrs{"perm": []int64{1, 0}}, "wt", w)
	c := b.node("Constant", graph.Attrs{"value": tensor.From(tensor.Shape{3}, []float32{1, 2, 3})}, "c")
	wc := b.node("Mul", nil, "wc", wt, c)
	b.output(b.node("Add", nil, "y", x, wc))
	out := apply(t, b.g, only("constant-folding", "dead-code"))
	if got := countOps(out); len(out.Nodes) != 1 || got["Add"] != 1 {
		t.Fatalf("nodes after folding: %v", got)
	}
	if len(out.Params) != 1 || out.Params[0].Name != "wc" {
		t.Fatalf("params after folding: %v", out.Params)
	}
	sameResults(t, b.g, out)
}

func TestConstantFoldingKeepsOutputsAndCaps(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 1)
	shape := b.param("shape", tensor.FromInt64s(tensor.Shape{1}, []int64{pass.MaxFoldBytes}))
	big := b.node("ConstantOfShape", nil, "big", shape)
	s := b.node("ReduceSum", graph.Attrs{"keepdims": int64(1)}, "s", big)
	c := b.node("Neg", nil, "c", b.scalar("one", 1))
	b.output(b.node("Add", nil, "y", x, s), c)
	out := apply(t, b.g, only("constant-folding"))
	if countOps(out)["ConstantOfShape"] != 1 {
		t.Fatalf("a 512 MiB result was folded")
	}
	if countOps(out)["Neg"] != 0 || out.Param("c") == nil {
		t.Fatalf("graph output c not folded into a param of the same name")
	}
}

func TestDeadCode(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2)
	b.randParam("unused", 4)
	b.node("Relu", nil, "dead", x)
	b.output(b.node("Neg", nil, "y", x))
	out := apply(t, b.g, only("dead-code"))
	if len(out.Nodes) != 1 || len(out.Params) != 0 {
		t.Fatalf("got %d nodes, %d params", len(out.Nodes), len(out.Params))
	}
}

func TestDeadCodeKeepsSubgraphReads(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2)
	v := b.node("Relu", nil, "v", x)
	body := &graph.Graph{
		Outputs: []*graph.Value{{Name: "o", Type: graph.UnrankedType(tensor.Float32)}},
		Nodes: []*graph.Node{
			{Name: "i", Op: "Identity", Inputs: []string{v}, Outputs: []string{"o"}},
			{Name: "d", Op: "Neg", Inputs: []string{v}, Outputs: []string{"dead"}},
		},
	}
	cond := b.param("cond", tensor.From(tensor.Shape{}, []bool{true}))
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "if", Op: "If", Inputs: []string{cond}, Outputs: []string{"y"}, Attrs: graph.Attrs{"then_branch": body, "else_branch": body.Clone()}})
	b.output("y")
	out := apply(t, b.g, only("dead-code"))
	if countOps(out)["Relu"] != 1 {
		t.Fatalf("a value read only by a subgraph was removed")
	}
	if n := len(out.Nodes[1].Attrs.Graph("then_branch").Nodes); n != 1 {
		t.Fatalf("subgraph has %d nodes, want 1", n)
	}
	sameResults(t, b.g, out)
}

func TestIdentityElimination(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 3)
	a := b.node("Identity", nil, "a", x)
	r := b.node("Relu", nil, "r", a)
	c := b.node("Cast", graph.Attrs{"to": int64(tensor.Float32)}, "c", r)
	d := b.node("Dropout", nil, "d", c)
	s := b.node("Reshape", nil, "s", d, b.param("shp", tensor.FromInt64s(tensor.Shape{2}, []int64{2, 3})))
	b.output(b.node("Identity", nil, "y", s))
	out := apply(t, b.g, only("identity-elimination"))
	if len(out.Nodes) != 1 || out.Nodes[0].Op != "Relu" || out.Nodes[0].Inputs[0] != "x" || out.Nodes[0].Outputs[0] != "y" {
		t.Fatalf("got %v", countOps(out))
	}
	sameResults(t, b.g, out)
}

func TestIdentityKeepsInputToOutput(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2)
	b.output(b.node("Identity", nil, "y", x))
	out := apply(t, b.g, only("identity-elimination"))
	if len(out.Nodes) != 1 {
		t.Fatalf("an Identity from a graph input to a graph output must stay")
	}
}

func TestCSE(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 4)
	a1 := b.node("Relu", nil, "a1", x)
	a2 := b.node("Relu", nil, "a2", x)
	c1 := b.scalar("c1", 2)
	c2 := b.scalar("c2", 2)
	m1 := b.node("Mul", nil, "m1", a1, c1)
	m2 := b.node("Mul", nil, "m2", a2, c2)
	b.output(b.node("Sub", nil, "y", m1, m2), b.node("Sigmoid", graph.Attrs{}, "z", m2))
	out := apply(t, b.g, only("cse", "dead-code"))
	if got := countOps(out); got["Relu"] != 1 || got["Mul"] != 1 {
		t.Fatalf("got %v", got)
	}
	sameResults(t, b.g, out)
}

func TestShapeFolding(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 3, 4)
	s := b.node("Shape", nil, "s", x)
	n := b.node("Gather", graph.Attrs{"axis": int64(0)}, "n", s, b.param("i0", tensor.FromInt64s(tensor.Shape{1}, []int64{0})))
	shp := b.node("Concat", graph.Attrs{"axis": int64(0)}, "shp", n, b.param("m1", tensor.FromInt64s(tensor.Shape{1}, []int64{-1})))
	b.output(b.node("Reshape", nil, "y", x, shp))
	out := apply(t, b.g, only("shape-folding", "constant-folding", "dead-code"))
	if got := countOps(out); len(out.Nodes) != 1 || got["Reshape"] != 1 {
		t.Fatalf("got %v", got)
	}
	sameResults(t, b.g, out)
}

func TestShapeFoldingPartial(t *testing.T) {
	b := newBuilder()
	b.g.Inputs = append(b.g.Inputs, &graph.Value{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 3, 4)})
	s := b.node("Shape", nil, "s", "x")
	n := b.node("Gather", graph.Attrs{"axis": int64(0)}, "n", s, b.param("i", tensor.FromInt64s(tensor.Shape{2}, []int64{1, -1})))
	b.output(n)
	out := apply(t, b.g, only("shape-folding"))
	if countOps(out)["Gather"] != 0 || out.Param("n") == nil || out.Param("n").Tensor.Int64s()[1] != 4 {
		t.Fatalf("Gather of known dims not folded: %v", countOps(out))
	}
}
