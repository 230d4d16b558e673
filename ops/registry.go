// Package ops is kiln's op set. Each op registers a Def in init(): its type
// and shape inference and a plain-Go reference kernel, which is the
// specification every fast kernel is tested against. Op names and semantics
// follow the newest ONNX definition of the op; importers rewrite older
// opset forms into it.
package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ErrUnsupported marks a feature kiln does not implement (an op, an
// attribute value, an element type). Test with errors.Is.
var ErrUnsupported = errors.New("unsupported")

// Value is a runtime value: *tensor.Tensor, *Sequence or *Optional. A nil
// Value in a kernel's input list is an omitted optional input.
type Value = any

// Sequence is an ONNX sequence: an ordered list of tensors of one type.
type Sequence struct {
	DType tensor.DType
	Items []*tensor.Tensor
}

// Optional is an ONNX optional: either a value (tensor or sequence) or none.
// Type describes the contained value when it is absent.
type Optional struct {
	Type  graph.Type
	Value Value // nil when empty
}

// InferContext is what a Def's Infer function sees.
type InferContext struct {
	Node *graph.Node
	// In holds the input types; an omitted optional input has DType Undefined
	// and Kind KindTensor (use Has).
	In []graph.Type
	// Consts holds the values of inputs known at compile time (params and
	// constants), nil where unknown.
	Consts []*tensor.Tensor
}

// Has reports whether input i is present.
func (ic *InferContext) Has(i int) bool {
	return i < len(ic.Node.Inputs) && ic.Node.Inputs[i] != ""
}

// Const returns input i's compile-time value, or nil.
func (ic *InferContext) Const(i int) *tensor.Tensor {
	if i < len(ic.Consts) {
		return ic.Consts[i]
	}
	return nil
}

// Errorf returns an error that names the node.
func (ic *InferContext) Errorf(format string, args ...any) error {
	return Errorf(ic.Node, format, args...)
}

// EvalContext is what a Def's Eval function sees.
type EvalContext struct {
	Ctx  context.Context
	Node *graph.Node
	// RunGraph executes a subgraph held in one of the node's attributes with
	// the given inputs (in the subgraph's input order) and returns its
	// outputs. Values of the enclosing scopes are visible to the subgraph.
	RunGraph func(g *graph.Graph, inputs []Value) ([]Value, error)
}

// Errorf returns an error that names the node.
func (ec *EvalContext) Errorf(format string, args ...any) error {
	return Errorf(ec.Node, format, args...)
}

// Def defines an op. Exactly one of Kernel and Eval is set.
type Def struct {
	// Name is the op name, spelled as ONNX spells it where ONNX has the op.
	Name string
	// Domain is "" for ONNX's default domain, else e.g. "ai.onnx.ml" or "kiln".
	Domain string
	// Infer computes output types from input types; nil means outputs are
	// unknown until run time.
	Infer func(ic *InferContext) ([]graph.Type, error)
	// Kernel is the reference implementation for ops whose inputs and
	// outputs are all tensors. Absent optional inputs are nil. Returned
	// tensors must be new (or an unmodified input, which is shared).
	Kernel func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error)
	// Eval is the general form, for ops on sequences, optionals or subgraphs.
	Eval func(ec *EvalContext, in []Value) ([]Value, error)
}

var (
	mu   sync.RWMutex
	defs = map[string]*Def{}
)

func key(domain, name string) string {
	if domain == "ai.onnx" {
		domain = ""
	}
	return domain + "\x00" + name
}

// Register adds an op definition; it panics on a duplicate (a programming
// error caught by any test run).
func Register(d *Def) {
	if (d.Kernel == nil) == (d.Eval == nil) {
		panic(fmt.Sprintf("ops: %s must set exactly one of Kernel and Eval", d.Name))
	}
	mu.Lock()
	defer mu.Unlock()
	k := key(d.Domain, d.Name)
	if _, dup := defs[k]; dup {
		panic(fmt.Sprintf("ops: %s:%s registered twice", d.Domain, d.Name))
	}
	defs[k] = d
}

// Lookup returns the definition of an op, or nil.
func Lookup(domain, name string) *Def {
	mu.RLock()
	defer mu.RUnlock()
	return defs[key(domain, name)]
}

// All returns every registered op, sorted by domain and name.
func All() []*Def {
	mu.RLock()
	out := make([]*Def, 0, len(defs))
	for _, d := range defs {
		out = append(out, d)
	}
	mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Errorf formats an error prefixed with the op package and the node.
func Errorf(n *graph.Node, format string, args ...any) error {
	return fmt.Errorf("ops: node %s: %w", n.Describe(), fmt.Errorf(format, args...))
}

// Unsupported returns an error wrapping ErrUnsupported that names the node.
func Unsupported(n *graph.Node, format string, args ...any) error {
	return fmt.Errorf("ops: node %s: %s: %w", n.Describe(), fmt.Sprintf(format, args...), ErrUnsupported)
}

// Eval runs a node's op on concrete values, with no subgraph support unless
// ec.RunGraph is set. It dispatches to Kernel or Eval and checks that the
// number of outputs matches the node.
func (d *Def) Run(ec *EvalContext, in []Value) ([]Value, error) {
	if d.Eval != nil {
		return d.Eval(ec, in)
	}
	ts := make([]*tensor.Tensor, len(in))
	for i, v := range in {
		switch x := v.(type) {
		case nil:
		case *tensor.Tensor:
			ts[i] = x
		default:
			return nil, ec.Errorf("input %d is a %T, want a tensor", i, v)
		}
	}
	outs, err := d.Kernel(ec.Node, ts)
	if err != nil {
		return nil, err
	}
	vs := make([]Value, len(outs))
	for i, t := range outs {
		if t != nil {
			vs[i] = t
		}
	}
	return vs, nil
}
