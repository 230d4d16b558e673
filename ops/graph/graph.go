// Package graph is kiln's intermediate representation: a Graph of Nodes that
// read and write named Values. It knows nothing about particular ops: a node
// is an op name, a domain and attributes. Importers build graphs, passes
// rewrite them and the runtime compiles them.
package graph

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Kind says whether a value is a tensor, a sequence of tensors or an optional.
type Kind uint8

// Value kinds, as in ONNX's TypeProto.
const (
	KindTensor Kind = iota
	KindSequence
	KindOptional
)

// Type is the static type of a value. For tensors Shape holds known sizes and
// -1 for unknown dimensions; DimNames, when non-nil, names symbolic
// dimensions ("batch"). Unranked means even the rank is unknown. Sequence and
// optional values describe their element in Elem.
type Type struct {
	Kind     Kind
	DType    tensor.DType
	Shape    []int
	DimNames []string
	Unranked bool
	Elem     *Type
}

// TensorType is a shorthand for a ranked tensor type.
func TensorType(dt tensor.DType, shape ...int) Type {
	s := make([]int, len(shape))
	copy(s, shape)
	return Type{Kind: KindTensor, DType: dt, Shape: s}
}

// UnrankedType is a tensor type of unknown rank.
func UnrankedType(dt tensor.DType) Type {
	return Type{Kind: KindTensor, DType: dt, Unranked: true}
}

// Static reports whether every dimension is known.
func (t Type) Static() bool {
	if t.Kind != KindTensor || t.Unranked {
		return false
	}
	for _, d := range t.Shape {
		if d < 0 {
			return false
		}
	}
	return true
}

// String renders the type as "float32[batch,3,224,224]", "seq(float32[?])" or
// "optional(...)".
func (t Type) String() string {
	switch t.Kind {
	case KindSequence:
		if t.Elem == nil {
			return "seq(?)"
		}
		return "seq(" + t.Elem.String() + ")"
	case KindOptional:
		if t.Elem == nil {
			return "optional(?)"
		}
		return "optional(" + t.Elem.String() + ")"
	}
	if t.Unranked {
		return t.DType.String() + "[...]"
	}
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		switch {
		case i < len(t.DimNames) && t.DimNames[i] != "":
			parts[i] = t.DimNames[i]
		case d < 0:
			parts[i] = "?"
		default:
			parts[i] = fmt.Sprint(d)
		}
	}
	return t.DType.String() + "[" + strings.Join(parts, ",") + "]"
}

// Value is a named graph input or output with its declared type.
type Value struct {
	Name string
	Type Type
}

// Param is a named constant of the graph: an ONNX initializer or a Keras
// weight. Trainable params are updated by training; others are frozen.
type Param struct {
	Name      string
	Tensor    *tensor.Tensor
	Trainable bool
}

// Meta is a node's provenance: where it came from, so errors can name the
// source and exporters can rebuild the original layers.
type Meta struct {
	Source     string // "onnx", "keras", "kiln", a pass name, ...
	ONNXName   string // the ONNX node name, if imported from ONNX
	ONNXOp     string // the ONNX op type as written in the file
	Opset      int    // the opset version the source node was written for
	KerasLayer string // the Keras layer name, if lowered from Keras
	KerasClass string // the Keras class name ("Conv2D")
}

// Node is one op application. Inputs and Outputs are value names; an empty
// name marks an omitted optional input or an unused optional output.
type Node struct {
	Name    string
	Op      string
	Domain  string // "" for the default (ONNX) domain
	Inputs  []string
	Outputs []string
	Attrs   Attrs
	Meta    Meta
}

// Describe names the node for error messages: `"conv_3" (Conv)`.
func (n *Node) Describe() string {
	op := n.Op
	if n.Domain != "" {
		op = n.Domain + ":" + op
	}
	if n.Meta.Opset > 0 {
		op = fmt.Sprintf("%s, opset %d", op, n.Meta.Opset)
	}
	if n.Meta.KerasLayer != "" {
		return fmt.Sprintf("%q (%s, from Keras layer %q %s)", n.Name, op, n.Meta.KerasLayer, n.Meta.KerasClass)
	}
	return fmt.Sprintf("%q (%s)", n.Name, op)
}

// Input returns the i-th input name, or "" when absent.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// Graph is a computation: typed inputs, params, nodes in topological order
// and outputs. Nodes of a subgraph (the body of If, Loop, Scan) may read
// values of enclosing graphs by name.
type Graph struct {
	Name    string
	Inputs  []*Value
	Outputs []*Value
	Params  []*Param
	Nodes   []*Node
	// Types holds known types of intermediate values, by name.
	Types map[string]Type
	// Opsets records the source opset per domain ("" is ai.onnx), if any.
	Opsets map[string]int
	// Doc is free text carried from the source file.
	Doc string
}

// Param returns the param with the given name, or nil.
func (g *Graph) Param(name string) *Param {
	for _, p := range g.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ParamMap indexes the params by name.
func (g *Graph) ParamMap() map[string]*Param {
	m := make(map[string]*Param, len(g.Params))
	for _, p := range g.Params {
		m[p.Name] = p
	}
	return m
}

// Producers maps each value name to the node that writes it.
func (g *Graph) Producers() map[string]*Node {
	m := make(map[string]*Node)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				m[o] = n
			}
		}
	}
	return m
}

// Subgraphs returns the graphs held in a node's attributes.
func (n *Node) Subgraphs() []*Graph {
	var gs []*Graph
	for _, k := range n.Attrs.Keys() {
		switch v := n.Attrs[k].(type) {
		case *Graph:
			gs = append(gs, v)
		case []*Graph:
			gs = append(gs, v...)
		}
	}
	return gs
}

// Walk calls f for every node of g and of its subgraphs, depth first.
func (g *Graph) Walk(f func(g *Graph, n *Node)) {
	for _, n := range g.Nodes {
		f(g, n)
		for _, sg := range n.Subgraphs() {
			sg.Walk(f)
		}
	}
}

// Validate checks structural soundness: every node input is produced by an
// earlier node, a graph input, a param or (when outer is given) a value
// visible from the enclosing scope; names are produced once; outputs exist.
func (g *Graph) Validate(outer map[string]bool) error {
	defined := make(map[string]bool)
	for k := range outer {
		defined[k] = true
	}
	for _, v := range g.Inputs {
		defined[v.Name] = true
	}
	for _, p := range g.Params {
		defined[p.Name] = true
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !defined[in] {
				return fmt.Errorf("graph: node %s reads %q, which no earlier node, input or param defines", n.Describe(), in)
			}
		}
		for _, sg := range n.Subgraphs() {
			if err := sg.Validate(defined); err != nil {
				return fmt.Errorf("graph: in a subgraph of node %s: %w", n.Describe(), err)
			}
		}
		for _, o := range n.Outputs {
			if o != "" {
				defined[o] = true
			}
		}
	}
	for _, o := range g.Outputs {
		if !defined[o.Name] {
			return fmt.Errorf("graph: output %q is never produced", o.Name)
		}
	}
	return nil
}

// FreeVars returns the names g reads from its enclosing scopes: names its
// nodes (or their subgraphs) read that g itself does not define.
func (g *Graph) FreeVars() map[string]bool {
	local := map[string]bool{}
	for _, v := range g.Inputs {
		local[v.Name] = true
	}
	for _, p := range g.Params {
		local[p.Name] = true
	}
	free := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !local[in] {
				free[in] = true
			}
		}
		for _, sg := range n.Subgraphs() {
			for name := range sg.FreeVars() {
				if !local[name] {
					free[name] = true
				}
			}
		}
		for _, o := range n.Outputs {
			if o != "" {
				local[o] = true
			}
		}
	}
	for _, o := range g.Outputs {
		if !local[o.Name] {
			free[o.Name] = true
		}
	}
	return free
}
