package onnx

// ONNX mappings of the newer single-purpose ops: gated activations,
// cache updates, linear attention, FlexAttention, TreeEnsemble, image
// decoding and Gradient. Each was introduced at the opset below and has
// one version so far.

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	RegisterOps(20, "ImageDecoder")
	RegisterOps(24, "TensorScatter")
	RegisterOps(27, "LinearAttention", "CausalConvWithState")
	RegisterOps(28, "SwiGLU")
	RegisterOp(OpMapping{Domain: "ai.onnx.preview", OpType: "FlexAttention", MinOpset: 1})
	RegisterOp(OpMapping{Domain: "ai.onnx.ml", OpType: "TreeEnsemble", MinOpset: 5})
	RegisterOp(OpMapping{Domain: "ai.onnx.preview.training", OpType: "Gradient", MinOpset: 1, Convert: rsGradient})
}

// rsGradient attaches to a Gradient node the forward computation it
// differentiates: the nodes already imported that lie between the xs and y,
// cloned into a forward graph whose inputs are the xs under fresh names and
// whose output is y, which ops.GradientGraph turns into the backward graph
// the op runs (attribute kiln_backward). Values the computation reads
// that are not xs (zs, params, other inputs) stay references to the
// enclosing graph.
func rsGradient(c *Converter, n *graph.Node) error {
	xs := n.Attrs.Strings("xs")
	y := n.Attrs.String("y", "")
	if len(xs) == 0 || y == "" {
		return fmt.Errorf("Gradient needs the xs and y attributes")
	}
	if len(n.Outputs) != len(xs) {
		return fmt.Errorf("Gradient has %d outputs for %d xs", len(n.Outputs), len(xs))
	}
	if len(n.Inputs) < len(xs) {
		return fmt.Errorf("Gradient has %d inputs for %d xs", len(n.Inputs), len(xs))
	}
	for i, x := range xs {
		if n.Inputs[i] != x {
			return fmt.Errorf("Gradient input %d is %q but xs[%d] is %q", i, n.Inputs[i], i, x)
		}
	}
	rename := map[string]string{}
	isX := map[string]bool{}
	for _, x := range xs {
		isX[x] = true
		rename[x] = c.NewName("grad_x")
	}
	producer := map[string]int{}
	for i, nd := range c.g.Nodes {
		for _, o := range nd.Outputs {
			if o != "" {
				producer[o] = i
			}
		}
	}
	// Walk back from y to the xs.
	need := map[int]bool{}
	stack := []string{y}
	seen := map[string]bool{}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v] || isX[v] {
			continue
		}
		seen[v] = true
		i, ok := producer[v]
		if !ok {
			continue // a graph input or param: read from the enclosing graph
		}
		if !need[i] {
			need[i] = true
			stack = append(stack, c.g.Nodes[i].Inputs...)
		}
	}
	if !isX[y] && len(need) == 0 {
		if _, ok := producer[y]; !ok {
			return fmt.Errorf("Gradient's y %q is not computed by any node before it", y)
		}
	}
	fwd := &graph.Graph{Name: n.Name + "_forward"}
	for _, x := range xs {
		fwd.Inputs = append(fwd.Inputs, &graph.Value{Name: rename[x], Type: graph.UnrankedType(tensor.Undefined)})
	}
	for i, nd := range c.g.Nodes {
		if !need[i] {
			continue
		}
		cl := nd.Clone()
		for j, s := range cl.Inputs {
			if r, ok := rename[s]; ok {
				cl.Inputs[j] = r
			}
		}
		fwd.Nodes = append(fwd.Nodes, cl)
	}
	out := y
	if r, ok := rename[y]; ok {
		out = r
	}
	fwd.Outputs = []*graph.Value{{Name: out, Type: graph.UnrankedType(tensor.Undefined)}}
	bwd, err := ops.GradientGraph(n, fwd)
	if err != nil {
		return err
	}
	n.Attrs["kiln_backward"] = bwd
	return nil
}
