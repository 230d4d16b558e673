package graph

import "github.com/kiln-ml/kiln/ops/tensor"

// Clone returns a deep copy of g that can be rewritten without touching g:
// inputs, outputs, nodes (with their input and output lists and attributes),
// the Types and Opsets maps and every subgraph held in an attribute are
// copied. Params are new Param structs that share their *tensor.Tensor with
// g, because tensors are treated as immutable once they are in a graph;
// replace a param's Tensor rather than writing into it. Type values are
// copied including their Shape, DimNames and Elem.
func (g *Graph) Clone() *Graph {
	if g == nil {
		return nil
	}
	c := &Graph{Name: g.Name, Doc: g.Doc}
	if g.Inputs != nil {
		c.Inputs = make([]*Value, len(g.Inputs))
		for i, v := range g.Inputs {
			c.Inputs[i] = cloneValue(v)
		}
	}
	if g.Outputs != nil {
		c.Outputs = make([]*Value, len(g.Outputs))
		for i, v := range g.Outputs {
			c.Outputs[i] = cloneValue(v)
		}
	}
	if g.Params != nil {
		c.Params = make([]*Param, len(g.Params))
		for i, p := range g.Params {
			if p != nil {
				cp := *p
				c.Params[i] = &cp
			}
		}
	}
	if g.Nodes != nil {
		c.Nodes = make([]*Node, len(g.Nodes))
		for i, n := range g.Nodes {
			c.Nodes[i] = n.Clone()
		}
	}
	if g.Types != nil {
		c.Types = make(map[string]Type, len(g.Types))
		for k, t := range g.Types {
			c.Types[k] = t.Clone()
		}
	}
	if g.Opsets != nil {
		c.Opsets = make(map[string]int, len(g.Opsets))
		for k, v := range g.Opsets {
			c.Opsets[k] = v
		}
	}
	return c
}

func cloneValue(v *Value) *Value {
	if v == nil {
		return nil
	}
	return &Value{Name: v.Name, Type: v.Type.Clone()}
}

// Clone returns a deep copy of the node: its input and output lists and its
// attributes are copied, subgraphs are cloned, and tensors held in
// attributes are shared (they are immutable).
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Inputs = append([]string(nil), n.Inputs...)
	c.Outputs = append([]string(nil), n.Outputs...)
	if n.Attrs != nil {
		c.Attrs = n.Attrs.DeepClone()
	}
	return &c
}

// DeepClone copies the attributes: slices are copied, graphs cloned, types
// copied; tensors are shared.
func (a Attrs) DeepClone() Attrs {
	if a == nil {
		return nil
	}
	c := make(Attrs, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case []int64:
			c[k] = append([]int64(nil), x...)
		case []float32:
			c[k] = append([]float32(nil), x...)
		case []string:
			c[k] = append([]string(nil), x...)
		case []*tensor.Tensor:
			c[k] = append([]*tensor.Tensor(nil), x...)
		case *Graph:
			c[k] = x.Clone()
		case []*Graph:
			gs := make([]*Graph, len(x))
			for i, sg := range x {
				gs[i] = sg.Clone()
			}
			c[k] = gs
		case Type:
			c[k] = x.Clone()
		case []Type:
			ts := make([]Type, len(x))
			for i, t := range x {
				ts[i] = t.Clone()
			}
			c[k] = ts
		default:
			c[k] = v
		}
	}
	return c
}

// Clone returns a copy of the type that shares no slices with t.
func (t Type) Clone() Type {
	c := t
	if t.Shape != nil {
		c.Shape = append([]int(nil), t.Shape...)
	}
	if t.DimNames != nil {
		c.DimNames = append([]string(nil), t.DimNames...)
	}
	if t.Elem != nil {
		e := t.Elem.Clone()
		c.Elem = &e
	}
	return c
}
