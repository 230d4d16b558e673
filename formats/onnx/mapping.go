package onnx

import (
	"fmt"
	"sort"
	"sync"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// OpMapping tells the importer how to read one ONNX operator over a range of
// opset versions. kiln's ops follow the newest ONNX definition; a mapping for
// an older opset rewrites the node into that form (attributes that became
// inputs, changed defaults, changed meaning).
type OpMapping struct {
	Domain string // "" for ai.onnx
	OpType string
	// MinOpset and MaxOpset bound the opset versions (of the node's domain)
	// this mapping implements, inclusive; MaxOpset 0 means no upper bound.
	MinOpset, MaxOpset int
	// Op is the kiln op the node becomes; empty means OpType.
	Op string
	// Convert rewrites the node in place (it may also add constants and
	// nodes through c). Nil copies the node unchanged.
	Convert func(c *Converter, n *graph.Node) error
}

var (
	mapMu    sync.RWMutex
	mappings = map[string][]OpMapping{}
)

func mapKey(domain, op string) string {
	if domain == "ai.onnx" {
		domain = ""
	}
	return domain + "\x00" + op
}

// RegisterOp adds a mapping. Ranges for one operator must not overlap.
func RegisterOp(m OpMapping) {
	mapMu.Lock()
	defer mapMu.Unlock()
	k := mapKey(m.Domain, m.OpType)
	for _, o := range mappings[k] {
		if overlaps(o, m) {
			panic(fmt.Sprintf("onnx: mappings for %s overlap (opsets %d-%d and %d-%d)", m.OpType, o.MinOpset, o.MaxOpset, m.MinOpset, m.MaxOpset))
		}
	}
	mappings[k] = append(mappings[k], m)
}

func overlaps(a, b OpMapping) bool {
	aMax, bMax := a.MaxOpset, b.MaxOpset
	if aMax == 0 {
		aMax = 1 << 30
	}
	if bMax == 0 {
		bMax = 1 << 30
	}
	return a.MinOpset <= bMax && b.MinOpset <= aMax
}

// RegisterOps maps each named ai.onnx operator unchanged for every opset
// from minOpset on.
func RegisterOps(minOpset int, opTypes ...string) {
	for _, op := range opTypes {
		RegisterOp(OpMapping{OpType: op, MinOpset: minOpset})
	}
}

// lookupMapping finds the mapping for an operator at an opset version.
func lookupMapping(domain, op string, opset int) (OpMapping, bool) {
	mapMu.RLock()
	defer mapMu.RUnlock()
	for _, m := range mappings[mapKey(domain, op)] {
		if opset >= m.MinOpset && (m.MaxOpset == 0 || opset <= m.MaxOpset) {
			return m, true
		}
	}
	return OpMapping{}, false
}

// SupportedOps lists the mapped operators as "domain:op" (ai.onnx without
// prefix) with their opset ranges, sorted.
func SupportedOps() []string {
	mapMu.RLock()
	defer mapMu.RUnlock()
	var out []string
	for _, ms := range mappings {
		for _, m := range ms {
			name := m.OpType
			if m.Domain != "" {
				name = m.Domain + ":" + name
			}
			r := fmt.Sprintf("%s (opset %d+)", name, m.MinOpset)
			if m.MaxOpset != 0 {
				r = fmt.Sprintf("%s (opset %d-%d)", name, m.MinOpset, m.MaxOpset)
			}
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// Converter is what an OpMapping's Convert function uses to rewrite a node.
type Converter struct {
	// Opset is the version of the node's domain the model imports.
	Opset int
	g     *graph.Graph
	pre   []*graph.Node
	seq   *int
}

// Const adds a constant param holding t and returns its value name.
func (c *Converter) Const(t *tensor.Tensor) string {
	name := c.NewName("const")
	c.g.Params = append(c.g.Params, &graph.Param{Name: name, Tensor: t})
	return name
}

// Emit inserts n into the graph before the node being converted.
func (c *Converter) Emit(n *graph.Node) {
	if n.Meta.Source == "" {
		n.Meta.Source = "onnx"
	}
	c.pre = append(c.pre, n)
}

// NewName returns a value name not used by the model.
func (c *Converter) NewName(prefix string) string {
	*c.seq++
	return fmt.Sprintf("_kiln_%s_%d", prefix, *c.seq)
}

// AttrToInput moves an attribute that became an input in a later opset into
// input position idx (as a constant), padding with absent inputs. ints
// attributes become int64 tensors, floats float32 tensors; absent attributes
// leave the input absent.
func (c *Converter) AttrToInput(n *graph.Node, attr string, idx int) {
	v, ok := n.Attrs[attr]
	if !ok {
		return
	}
	delete(n.Attrs, attr)
	var t *tensor.Tensor
	switch x := v.(type) {
	case []int64:
		t = tensor.FromInt64s(tensor.Shape{len(x)}, x)
	case int64:
		t = tensor.Scalar(x)
	case float32:
		t = tensor.Scalar(x)
	case []float32:
		t = tensor.From(tensor.Shape{len(x)}, append([]float32(nil), x...))
	case *tensor.Tensor:
		t = x
	default:
		return
	}
	for len(n.Inputs) <= idx {
		n.Inputs = append(n.Inputs, "")
	}
	n.Inputs[idx] = c.Const(t)
}
