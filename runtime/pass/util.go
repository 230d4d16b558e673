package pass

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// index is a read-only view of one graph scope used by pattern matchers:
// producers, consumers and constants by value name. Rebuild it after a
// rewrite.
type index struct {
	g       *graph.Graph
	prod    map[string]*graph.Node
	cons    map[string][]*graph.Node
	outputs map[string]bool
	inputs  map[string]bool
	params  map[string]*graph.Param
	// subUses holds names read by subgraphs of this graph's nodes (from
	// this scope).
	subUses map[string]bool
}

func newIndex(g *graph.Graph) *index {
	ix := &index{
		g:       g,
		prod:    map[string]*graph.Node{},
		cons:    map[string][]*graph.Node{},
		outputs: map[string]bool{},
		inputs:  map[string]bool{},
		params:  g.ParamMap(),
		subUses: map[string]bool{},
	}
	for _, v := range g.Outputs {
		ix.outputs[v.Name] = true
	}
	for _, v := range g.Inputs {
		ix.inputs[v.Name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				ix.prod[o] = n
			}
		}
		seen := map[string]bool{}
		for _, in := range n.Inputs {
			if in != "" && !seen[in] {
				seen[in] = true
				ix.cons[in] = append(ix.cons[in], n)
			}
		}
		for _, sg := range n.Subgraphs() {
			for name := range sg.FreeVars() {
				ix.subUses[name] = true
			}
		}
	}
	return ix
}

// uses counts the readers of a value: consuming nodes, plus one if it is a
// graph output and one if a subgraph reads it.
func (ix *index) uses(name string) int {
	u := len(ix.cons[name])
	if ix.outputs[name] {
		u++
	}
	if ix.subUses[name] {
		u++
	}
	return u
}

// only reports whether name's single reader is node n (so n may absorb it).
func (ix *index) only(name string, n *graph.Node) bool {
	c := ix.cons[name]
	if len(c) != 1 || c[0] != n || ix.outputs[name] || ix.subUses[name] {
		return false
	}
	cnt := 0
	for _, in := range n.Inputs {
		if in == name {
			cnt++
		}
	}
	return cnt >= 1
}

// single returns the one node reading name, when that is its only use.
func (ix *index) single(name string) *graph.Node {
	c := ix.cons[name]
	if len(c) != 1 || ix.outputs[name] || ix.subUses[name] {
		return nil
	}
	return c[0]
}

// konst returns the value of a param of this scope, or nil.
func (ix *index) konst(name string) *tensor.Tensor {
	if name == "" {
		return nil
	}
	if p := ix.params[name]; p != nil && !ix.inputs[name] {
		return p.Tensor
	}
	return nil
}

// scalar returns the value of a one-element float or integer constant.
func (ix *index) scalar(name string) (float64, bool) {
	t := ix.konst(name)
	if t == nil || t.Len() != 1 || !t.DType().IsNumeric() {
		return 0, false
	}
	return t.At(0), true
}

// isScalar reports whether name is a one-element constant close to want
// (relative tolerance 1e-4, enough to recognise constants such as sqrt(2)
// written in float32 by exporters).
func (ix *index) isScalar(name string, want float64) bool {
	v, ok := ix.scalar(name)
	return ok && math.Abs(v-want) <= 1e-4*math.Max(1, math.Abs(want))
}

// producer returns the node producing name if its op is one of ops.
func (ix *index) producer(name string, ops ...string) *graph.Node {
	n := ix.prod[name]
	if n == nil || n.Domain != "" {
		return nil
	}
	for _, op := range ops {
		if n.Op == op {
			return n
		}
	}
	return nil
}

// other returns the input of a two-input node n that is not name, or "".
func other(n *graph.Node, name string) string {
	if len(n.Inputs) != 2 {
		return ""
	}
	if n.Inputs[0] == name {
		return n.Inputs[1]
	}
	if n.Inputs[1] == name {
		return n.Inputs[0]
	}
	return ""
}

// defines reports whether a graph scope defines name itself (so that it
// shadows an outer value of that name).
func defines(g *graph.Graph, name string) bool {
	for _, v := range g.Inputs {
		if v.Name == name {
			return true
		}
	}
	for _, p := range g.Params {
		if p.Name == name {
			return true
		}
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return true
			}
		}
	}
	return false
}

// rename makes every reader of old in g read new instead, including
// readers in subgraphs that see g's old (not a shadowing local of their
// own). Graph outputs of g are not touched.
func rename(g *graph.Graph, old, new string) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = new
			}
		}
		for _, sg := range n.Subgraphs() {
			renameOuter(sg, old, new)
		}
	}
}

func renameOuter(g *graph.Graph, old, new string) {
	if defines(g, old) {
		return
	}
	rename(g, old, new)
	for _, o := range g.Outputs {
		if o.Name == old {
			// A subgraph output that passes an outer value through:
			// outputs keep their names, so it cannot be renamed; the
			// caller only renames values that are still computed, so
			// keep reading old through an Identity.
			g.Nodes = append(g.Nodes, &graph.Node{Name: old + "_passthrough", Op: "Identity", Inputs: []string{new}, Outputs: []string{old}, Meta: graph.Meta{Source: "kiln"}})
			return
		}
	}
}

// scopes calls f on g and on every subgraph under it, outer scope first.
func scopes(g *graph.Graph, f func(*graph.Graph) (bool, error)) (bool, error) {
	changed, err := f(g)
	if err != nil {
		return changed, err
	}
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			c, err := scopes(sg, f)
			if err != nil {
				return changed || c, fmt.Errorf("in a subgraph of node %s: %w", n.Describe(), err)
			}
			changed = changed || c
		}
	}
	return changed, nil
}

// namer hands out value and node names not used anywhere in a graph tree.
type namer struct {
	used map[string]bool
}

func newNamer(g *graph.Graph) *namer {
	nm := &namer{used: map[string]bool{}}
	var walk func(g *graph.Graph)
	walk = func(g *graph.Graph) {
		for _, v := range g.Inputs {
			nm.used[v.Name] = true
		}
		for _, v := range g.Outputs {
			nm.used[v.Name] = true
		}
		for _, p := range g.Params {
			nm.used[p.Name] = true
		}
		for _, n := range g.Nodes {
			nm.used[n.Name] = true
			for _, s := range n.Inputs {
				nm.used[s] = true
			}
			for _, s := range n.Outputs {
				nm.used[s] = true
			}
			for _, sg := range n.Subgraphs() {
				walk(sg)
			}
		}
	}
	walk(g)
	return nm
}

func (nm *namer) fresh(base string) string {
	if !nm.used[base] {
		nm.used[base] = true
		return base
	}
	for i := 1; ; i++ {
		s := fmt.Sprintf("%s_%d", base, i)
		if !nm.used[s] {
			nm.used[s] = true
			return s
		}
	}
}

// addParam adds a constant to g under a fresh name and returns the name.
func addParam(g *graph.Graph, nm *namer, base string, t *tensor.Tensor) string {
	name := nm.fresh(base)
	g.Params = append(g.Params, &graph.Param{Name: name, Tensor: t})
	return name
}

// removeDead deletes, repeatedly, nodes of g from cand whose outputs
// nobody reads. Fusions call it on the nodes they absorbed.
func removeDead(g *graph.Graph, cand []*graph.Node) {
	if len(cand) == 0 {
		return
	}
	for {
		ix := newIndex(g)
		drop := map[*graph.Node]bool{}
		for _, n := range cand {
			dead := true
			for _, o := range n.Outputs {
				if o != "" && ix.uses(o) > 0 {
					dead = false
				}
			}
			if dead && inGraph(g, n) {
				drop[n] = true
			}
		}
		if len(drop) == 0 {
			return
		}
		deleteNodes(g, drop)
	}
}

func inGraph(g *graph.Graph, n *graph.Node) bool {
	for _, m := range g.Nodes {
		if m == n {
			return true
		}
	}
	return false
}

func deleteNodes(g *graph.Graph, drop map[*graph.Node]bool) {
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !drop[n] {
			kept = append(kept, n)
		}
	}
	for i := len(kept); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = kept
}

// replaceNode puts m in old's place in g's node list.
func replaceNode(g *graph.Graph, old, m *graph.Node) {
	for i, n := range g.Nodes {
		if n == old {
			g.Nodes[i] = m
			return
		}
	}
}

// insertBefore puts m just before node at in g's node list.
func insertBefore(g *graph.Graph, at, m *graph.Node) {
	for i, n := range g.Nodes {
		if n == at {
			g.Nodes = append(g.Nodes, nil)
			copy(g.Nodes[i+1:], g.Nodes[i:])
			g.Nodes[i] = m
			return
		}
	}
	g.Nodes = append(g.Nodes, m)
}

// fusedMeta is the provenance of a node that replaces others: that of the
// node whose output it takes over (so errors still name the source layer),
// marked with the pass.
func fusedMeta(from *graph.Node, passName string) graph.Meta {
	m := from.Meta
	if m.Source == "" {
		m.Source = passName
	}
	return m
}

// nondeterministic lists ops whose results are random: never folded or
// merged.
var nondeterministic = map[string]bool{
	"RandomNormal": true, "RandomNormalLike": true, "RandomUniform": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

// isFloat reports whether dt is a float type.
func isFloat(dt tensor.DType) bool { return dt.IsFloat() }

// attrInts returns an ints attribute or input i's constant values.
func (ix *index) intsFrom(n *graph.Node, attr string, input int) ([]int64, bool) {
	if n.Attrs.Has(attr) {
		return n.Attrs.Ints(attr), true
	}
	name := n.Input(input)
	if name == "" {
		return nil, false
	}
	t := ix.konst(name)
	if t == nil || !t.DType().IsInt() {
		return nil, false
	}
	return t.Int64s(), true
}

// canRename reports whether rename(g, old, new) is sound: no subgraph that
// reads g's old defines a local named new (which would capture the
// renamed reads).
func canRename(g *graph.Graph, old, new string) bool {
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			if defines(sg, old) || !sg.FreeVars()[old] {
				continue
			}
			if defines(sg, new) || !canRename(sg, old, new) {
				return false
			}
		}
	}
	return true
}
