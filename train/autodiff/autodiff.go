// Package autodiff computes gradients over kiln's op graph by reverse-mode
// differentiation. Grad appends to a graph the nodes that compute the
// gradient of a scalar loss with respect to chosen values; the gradient
// rules of the primitive ops are registered in package ops (ops/grad_*.go)
// with ops.RegisterGrad, and this package walks the graph, feeds each rule
// the gradients of its node's outputs and sums the gradients of values used
// more than once.
//
// Scan (the lowering of Keras's recurrent layers) is differentiated here,
// by a backward Scan: see scan.go.
package autodiff

import (
	"errors"
	"fmt"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ErrNoGradient marks a node on the path from the inputs to the loss whose
// op has no gradient rule. Test with errors.Is.
var ErrNoGradient = errors.New("no gradient rule")

// Grad appends to g the nodes that compute d(loss)/d(w) for each w in wrt
// and returns the names of those gradient values, in wrt's order. loss must
// be a float value of g holding one element (a scalar or a shape of ones);
// each w may be a graph input, a param or an intermediate value. A w that
// does not reach the loss gets a zeros value of its shape. Gradients have
// w's shape and element type.
//
// The nodes are appended after g's existing nodes and read only forward
// values, so g stays in topological order; g's outputs are not changed (add
// the gradient names to g.Outputs to fetch them). Constants the backward
// pass needs are added as frozen params. Weights that change between
// training steps should be graph inputs, not params: the runtime packs
// params once.
//
// Errors name the node and op on the path that has no gradient rule
// (wrapping ErrNoGradient), or a rule's own error.
func Grad(g *graph.Graph, loss string, wrt []string) (grads []string, err error) {
	prepare(g)
	e := newEmitter(g, nil, nil)
	lt, ok := e.types[loss]
	if !e.defined(loss) {
		return nil, fmt.Errorf("autodiff: loss %q is not a value of graph %q", loss, g.Name)
	}
	for _, w := range wrt {
		if !e.defined(w) {
			return nil, fmt.Errorf("autodiff: %q is not a value of graph %q", w, g.Name)
		}
	}
	dt := tensor.Undefined
	if ok && lt.DType != tensor.Undefined {
		dt = lt.DType
		if !dt.IsFloat() {
			return nil, fmt.Errorf("autodiff: loss %q is %v, want a float tensor", loss, lt)
		}
	}
	var seed string
	if ok && lt.Static() && dt != tensor.Undefined {
		if tensor.Shape(lt.Shape).Size() != 1 {
			return nil, fmt.Errorf("autodiff: loss %q has type %v; want a scalar (reduce it first)", loss, lt)
		}
		seed = e.Const(tensor.ConvertFloat64s(dt, tensor.Shape(lt.Shape), []float64{1}, false, 0))
	} else {
		seed = e.fill(loss, dt, 1)
	}
	res, err := backprop(e, g.Nodes, map[string][]string{loss: {seed}}, wrt)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// prepare makes the forward graph expose what the backward pass reads:
// a Dropout node without its mask output gets one (an added output changes
// nothing the node computes).
func prepare(g *graph.Graph) {
	used := map[string]bool{}
	g.Walk(func(_ *graph.Graph, n *graph.Node) {
		for _, o := range n.Outputs {
			used[o] = true
		}
	})
	for _, n := range g.Nodes {
		if n.Domain == "" && n.Op == "Dropout" && (len(n.Outputs) < 2 || n.Outputs[1] == "") {
			name := n.Outputs[0] + "/mask"
			for i := 1; used[name]; i++ {
				name = fmt.Sprintf("%s/mask_%d", n.Outputs[0], i)
			}
			used[name] = true
			n.Outputs = append(n.Outputs[:1], name)
		}
	}
}

// backprop appends to e's graph the gradients of the seeded values with
// respect to wrt, walking nodes (in topological order) in reverse. seeds
// maps values to the gradients flowing into them. A w that gets no gradient
// gets zeros of its shape.
func backprop(e *emitter, nodes []*graph.Node, seeds map[string][]string, wrt []string) ([]string, error) {
	// dep: values that depend on some w (only float values carry gradients).
	dep := map[string]bool{}
	for _, w := range wrt {
		dep[w] = true
	}
	for _, n := range nodes {
		hit := false
		for _, in := range nodeInputs(n) {
			if in != "" && dep[in] {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		for _, o := range n.Outputs {
			if o != "" && e.isFloatOrUnknown(o) {
				dep[o] = true
			}
		}
	}
	// reach: values the seeded values depend on.
	reach := map[string]bool{}
	for s := range seeds {
		reach[s] = true
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		hit := false
		for _, o := range n.Outputs {
			if o != "" && reach[o] {
				hit = true
				break
			}
		}
		if hit {
			for _, in := range nodeInputs(n) {
				if in != "" {
					reach[in] = true
				}
			}
		}
	}
	e.needs = func(name string) bool { return dep[name] && reach[name] }

	acc := map[string][]string{}
	for k, v := range seeds {
		acc[k] = append([]string(nil), v...)
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		ins := nodeInputs(n)
		need := false
		for _, in := range ins {
			if in != "" && dep[in] && reach[in] {
				need = true
				break
			}
		}
		if !need {
			continue
		}
		dy := make([]string, len(n.Outputs))
		any := false
		for j, o := range n.Outputs {
			if o == "" {
				continue
			}
			dy[j] = e.sum(acc, o)
			any = any || dy[j] != ""
		}
		if !any {
			continue
		}
		rule := ops.GradOf(n.Domain, n.Op)
		if rule == nil {
			return nil, fmt.Errorf("autodiff: node %s lies between the inputs and the loss and has no gradient rule: %w", n.Describe(), ErrNoGradient)
		}
		dx, err := rule(e, n, dy)
		if err != nil {
			return nil, fmt.Errorf("autodiff: gradient of node %s: %w", n.Describe(), err)
		}
		for j, in := range ins {
			if j >= len(dx) || dx[j] == "" || in == "" || !dep[in] {
				continue
			}
			acc[in] = append(acc[in], dx[j])
		}
	}
	out := make([]string, len(wrt))
	for i, w := range wrt {
		out[i] = e.sum(acc, w)
		if out[i] == "" {
			out[i] = e.zerosLike(w)
		}
	}
	return out, nil
}

// nodeInputs lists what a node reads: its inputs and, for nodes with
// subgraphs, the outer values the subgraphs capture (see captures).
func nodeInputs(n *graph.Node) []string {
	if len(n.Subgraphs()) == 0 {
		return n.Inputs
	}
	return append(append([]string(nil), n.Inputs...), captures(n)...)
}

// captures returns the values a node's subgraphs read from enclosing scopes,
// in order of first use. A gradient rule of such a node returns their
// gradients after those of the node's inputs.
func captures(n *graph.Node) []string {
	seen := map[string]bool{}
	var out []string
	for _, sg := range n.Subgraphs() {
		for _, c := range freeVars(sg, nil) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// freeVars lists the names g reads that it does not define, in order of
// first use; outer holds names defined by enclosing subgraphs up to g's
// caller.
func freeVars(g *graph.Graph, outer map[string]bool) []string {
	def := map[string]bool{}
	for k := range outer {
		def[k] = true
	}
	for _, v := range g.Inputs {
		def[v.Name] = true
	}
	for _, p := range g.Params {
		def[p.Name] = true
	}
	seen := map[string]bool{}
	var out []string
	use := func(name string) {
		if name != "" && !def[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			use(in)
		}
		for _, sg := range n.Subgraphs() {
			for _, c := range freeVars(sg, def) {
				use(c)
			}
		}
		for _, o := range n.Outputs {
			if o != "" {
				def[o] = true
			}
		}
	}
	return out
}
