package pass

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// maxMergeParam bounds the size of params compared by content.
const maxMergeParam = 1 << 16

func init() {
	Register(Pass{
		Name:  "cse",
		Level: LevelBasic,
		Doc: "Common subexpression elimination: a node with the same op, attributes and inputs as an earlier " +
			"one is removed and its readers read the earlier node's outputs; params with equal contents " +
			"(up to 64 Ki elements) are merged. Random ops and nodes with subgraphs are left alone.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, eliminateCommon) },
	})
}

func eliminateCommon(g *graph.Graph) (bool, error) {
	changed := mergeParams(g)
	ix := newIndex(g)
	seen := map[string]*graph.Node{}
	drop := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		if nondeterministic[n.Op] || len(n.Subgraphs()) > 0 || len(n.Outputs) == 0 {
			continue
		}
		k := nodeKey(n)
		m, dup := seen[k]
		if !dup {
			seen[k] = n
			continue
		}
		ok := true
		for i, o := range n.Outputs {
			if o != "" && (ix.outputs[o] || m.Outputs[i] == "" || !canRename(g, o, m.Outputs[i])) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for i, o := range n.Outputs {
			if o != "" {
				rename(g, o, m.Outputs[i])
			}
		}
		drop[n] = true
		changed = true
	}
	if len(drop) > 0 {
		deleteNodes(g, drop)
	}
	return changed, nil
}

func nodeKey(n *graph.Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%d\x00%q\x00", n.Domain, n.Op, len(n.Outputs), n.Inputs)
	for _, k := range n.Attrs.Keys() {
		v := n.Attrs[k]
		switch x := v.(type) {
		case *tensor.Tensor:
			fmt.Fprintf(&b, "%s=%s;", k, tensorKey(x))
		case []*tensor.Tensor:
			fmt.Fprintf(&b, "%s=%p;", k, x)
		default:
			fmt.Fprintf(&b, "%s=%#v;", k, v)
		}
	}
	return b.String()
}

// tensorKey identifies a tensor by content when it is small, else by
// address.
func tensorKey(t *tensor.Tensor) string {
	if t == nil {
		return "nil"
	}
	if t.Len() > maxMergeParam {
		return fmt.Sprintf("%p", t)
	}
	return fmt.Sprintf("%s%v:%#v", t.DType(), t.Shape(), t.Data())
}

// mergeParams points readers of a param at an earlier param with the same
// contents.
func mergeParams(g *graph.Graph) bool {
	first := map[string]string{}
	changed := false
	for _, p := range g.Params {
		if p.Tensor == nil || p.Tensor.Len() > maxMergeParam || isInput(g, p.Name) {
			continue
		}
		k := tensorKey(p.Tensor)
		if q, ok := first[k]; ok {
			if usedAsInput(g, p.Name) && canRename(g, p.Name, q) {
				rename(g, p.Name, q)
				changed = true
			}
			continue
		}
		first[k] = p.Name
	}
	return changed
}

func usedAsInput(g *graph.Graph, name string) bool {
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == name {
				return true
			}
		}
		for _, sg := range n.Subgraphs() {
			if sg.FreeVars()[name] {
				return true
			}
		}
	}
	return false
}
