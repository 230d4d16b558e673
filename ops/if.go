package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// If runs one of two subgraphs (ONNX If-21): when the scalar bool input cond
// is true it runs the graph attribute then_branch, else else_branch. Neither
// branch takes inputs; both read enclosing values by name and must produce
// as many outputs as the node has. Outputs may be tensors, sequences or
// optionals, and the two branches may produce tensors of different shapes
// (the node's inferred type then leaves those dimensions unknown). A
// one-element cond of any shape is accepted, as ONNX Runtime does.
var If = &Def{Name: "If", Infer: cfInferIf, Eval: cfEvalIf}

func init() { Register(If) }

func cfEvalIf(ec *EvalContext, in []Value) ([]Value, error) {
	if len(in) < 1 {
		return nil, ec.Errorf("needs the cond input")
	}
	ct, err := cfAsTensor(ec, in[0], "cond")
	if err != nil {
		return nil, err
	}
	c, err := cfScalarBool(ec, ct, "cond")
	if err != nil {
		return nil, err
	}
	name := "else_branch"
	if c {
		name = "then_branch"
	}
	g := ec.Node.Attrs.Graph(name)
	if g == nil {
		return nil, ec.Errorf("missing graph attribute %s", name)
	}
	outs, err := cfRun(ec, g, nil)
	if err != nil {
		return nil, err
	}
	if len(outs) != len(ec.Node.Outputs) {
		return nil, ec.Errorf("%s produced %d outputs, the node has %d", name, len(outs), len(ec.Node.Outputs))
	}
	return outs, nil
}

func cfInferIf(ic *InferContext) ([]graph.Type, error) {
	tg, eg := ic.Node.Attrs.Graph("then_branch"), ic.Node.Attrs.Graph("else_branch")
	if tg == nil || eg == nil {
		return nil, ic.Errorf("needs graph attributes then_branch and else_branch")
	}
	n := len(ic.Node.Outputs)
	if len(tg.Outputs) != n || len(eg.Outputs) != n {
		return nil, ic.Errorf("then_branch has %d outputs and else_branch %d; the node has %d", len(tg.Outputs), len(eg.Outputs), n)
	}
	out := make([]graph.Type, n)
	for i := range out {
		out[i] = cfMergeTypes(tg.Outputs[i].Type, eg.Outputs[i].Type)
	}
	return out, nil
}
