package pass

import "github.com/kiln-ml/kiln/ops/graph"

func init() {
	Register(Pass{
		Name:  "dead-code",
		Level: LevelBasic,
		Doc: "Removes nodes none of whose outputs reach a graph output (directly, through other nodes or " +
			"through a subgraph reading them) and params nothing reads.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, eliminateDead) },
	})
}

func eliminateDead(g *graph.Graph) (bool, error) {
	live := map[string]bool{}
	for _, o := range g.Outputs {
		live[o.Name] = true
	}
	drop := map[*graph.Node]bool{}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		used := false
		for _, o := range n.Outputs {
			if o != "" && live[o] {
				used = true
			}
		}
		if !used {
			drop[n] = true
			continue
		}
		for _, in := range n.Inputs {
			if in != "" {
				live[in] = true
			}
		}
		for _, sg := range n.Subgraphs() {
			for name := range sg.FreeVars() {
				live[name] = true
			}
		}
	}
	changed := len(drop) > 0
	if changed {
		deleteNodes(g, drop)
	}
	kept := g.Params[:0]
	for _, p := range g.Params {
		if live[p.Name] {
			kept = append(kept, p)
		} else {
			changed = true
		}
	}
	for i := len(kept); i < len(g.Params); i++ {
		g.Params[i] = nil
	}
	g.Params = kept
	return changed, nil
}
