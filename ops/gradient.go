package ops

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Gradient computes the gradients of one value with respect to others
// (ONNX ai.onnx.preview.training Gradient-1): its outputs are ∂y/∂xs[i],
// each the shape of xs[i], where y (attribute) is computed from xs
// (attribute: value names, which are also the node's first inputs) by the
// nodes of the enclosing graph. As in ONNX, a non-scalar y is seeded with
// ones, giving the gradient of Σy. zs (inputs that y depends on but whose
// gradients are not wanted) are read, not differentiated.
//
// The importer extracts the forward computation (inputs: the xs, output: y;
// other values are read from the enclosing graph), turns it into a backward
// graph with GradientGraph and attaches that as the attribute kiln_backward,
// which the kernel runs through EvalContext.RunGraph. An op on the path
// without a gradient rule is ErrUnsupported at import; an x that y does not
// depend on gets zeros.
var Gradient = &Def{Name: "Gradient", Domain: "ai.onnx.preview.training", Infer: rsGradInfer, Eval: rsGradEval}

func init() { Register(Gradient) }

func rsGradInfer(ic *InferContext) ([]graph.Type, error) {
	xs := ic.Node.Attrs.Strings("xs")
	if len(ic.Node.Outputs) != len(xs) {
		return nil, ic.Errorf("has %d outputs for %d xs", len(ic.Node.Outputs), len(xs))
	}
	out := make([]graph.Type, len(xs))
	for i := range xs {
		if i < len(ic.In) && ic.Has(i) {
			out[i] = ic.In[i]
		} else {
			out[i] = graph.UnrankedType(tensor.Float32)
		}
	}
	return out, nil
}

func rsGradEval(ec *EvalContext, in []Value) ([]Value, error) {
	n := ec.Node
	bwd := n.Attrs.Graph("kiln_backward")
	if bwd == nil {
		return nil, Unsupported(n, "Gradient needs the backward subgraph the ONNX importer attaches (kiln_backward)")
	}
	xs := n.Attrs.Strings("xs")
	if len(bwd.Inputs) != len(xs) || len(bwd.Outputs) != len(xs) || len(in) < len(xs) {
		return nil, ec.Errorf("backward subgraph has %d inputs and %d outputs, want %d each", len(bwd.Inputs), len(bwd.Outputs), len(xs))
	}
	return cfRun(ec, bwd, in[:len(xs)])
}

// rsGradEmitter appends backward nodes to a graph; it knows no static
// types, so gradient rules use their run-time-shape forms.
type rsGradEmitter struct {
	g   *graph.Graph
	seq int
}

func (e *rsGradEmitter) name() string {
	e.seq++
	return fmt.Sprintf("_kiln_grad_%d", e.seq)
}

func (e *rsGradEmitter) Op(op string, attrs graph.Attrs, inputs ...string) string {
	return e.OpN("", op, attrs, 1, inputs...)[0]
}

func (e *rsGradEmitter) OpN(domain, op string, attrs graph.Attrs, nOut int, inputs ...string) []string {
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = e.name()
	}
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	e.g.Nodes = append(e.g.Nodes, &graph.Node{Name: outs[0], Op: op, Domain: domain, Inputs: inputs, Outputs: outs, Attrs: attrs})
	return outs
}

func (e *rsGradEmitter) Const(t *tensor.Tensor) string {
	return e.Op("Constant", graph.Attrs{"value": t})
}

func (e *rsGradEmitter) Type(string) (graph.Type, bool) { return graph.Type{}, false }

// GradientGraph returns a graph with the inputs of fwd (a graph with one
// output y) whose outputs are the gradients of Σy with respect to each
// input, built from the ops' gradient rules (GradOf). Nodes of fwd that do
// not depend on an input are kept but not differentiated. n names the node
// in errors; an op on the path without a rule is ErrUnsupported.
func GradientGraph(n *graph.Node, fwd *graph.Graph) (*graph.Graph, error) {
	if len(fwd.Outputs) != 1 {
		return nil, Errorf(n, "the forward graph must have one output, has %d", len(fwd.Outputs))
	}
	g := fwd.Clone()
	e := &rsGradEmitter{g: g}
	y := g.Outputs[0].Name
	// Nodes that depend on an input (the only ones worth differentiating).
	live := map[string]bool{}
	for _, v := range g.Inputs {
		live[v.Name] = true
	}
	var path []*graph.Node
	for _, nd := range g.Nodes {
		dep := false
		for _, s := range nd.Inputs {
			dep = dep || live[s]
		}
		if dep {
			path = append(path, nd)
			for _, o := range nd.Outputs {
				live[o] = true
			}
		}
	}
	grads := map[string]string{}
	if live[y] {
		one := e.Op("CastLike", nil, e.Const(tensor.Scalar(1.0)), y)
		grads[y] = e.Op("Expand", nil, one, e.Op("Shape", nil, y))
	}
	for i := len(path) - 1; i >= 0; i-- {
		nd := path[i]
		dy := make([]string, len(nd.Outputs))
		any := false
		for j, o := range nd.Outputs {
			dy[j] = grads[o]
			any = any || dy[j] != ""
		}
		if !any {
			continue
		}
		rule := GradOf(nd.Domain, nd.Op)
		if rule == nil {
			return nil, Unsupported(n, "no gradient rule for %s (node %q) on the path to %q", nd.Op, nd.Name, y)
		}
		dx, err := rule(e, nd, dy)
		if err != nil {
			return nil, err
		}
		for j, d := range dx {
			if d == "" || j >= len(nd.Inputs) || !live[nd.Inputs[j]] {
				continue
			}
			x := nd.Inputs[j]
			if prev, ok := grads[x]; ok {
				grads[x] = e.Op("Add", nil, prev, d)
			} else {
				grads[x] = d
			}
		}
	}
	g.Outputs = nil
	for _, v := range g.Inputs {
		d, ok := grads[v.Name]
		if !ok {
			d = gZerosLike(e, v.Name)
		}
		// Give each output its own name so two inputs never share one.
		o := e.Op("Identity", nil, d)
		g.Outputs = append(g.Outputs, &graph.Value{Name: o, Type: v.Type})
	}
	return g, nil
}
