package autodiff

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// emitter implements ops.GradEmitter: it appends nodes to a graph (the
// graph being differentiated, or the body of a backward Scan), names them
// so they shadow nothing, and keeps the static types of forward and
// backward values from the ops' Infer functions.
type emitter struct {
	g      *graph.Graph
	types  map[string]graph.Type
	consts map[string]*tensor.Tensor
	// names holds every name in use in the whole graph tree, shared with
	// nested emitters.
	names map[string]bool
	seq   *int
	// needs reports whether a value needs a gradient (set by backprop).
	needs func(string) bool
}

// newEmitter makes an emitter for g. parent, when non-nil, is the emitter
// of the enclosing graph: its types, constants and names stay visible.
func newEmitter(g *graph.Graph, parent *emitter, extra map[string]graph.Type) *emitter {
	e := &emitter{g: g, types: map[string]graph.Type{}, consts: map[string]*tensor.Tensor{}}
	if parent != nil {
		for k, v := range parent.types {
			e.types[k] = v
		}
		for k, v := range parent.consts {
			e.consts[k] = v
		}
		e.names = parent.names
		e.seq = parent.seq
	} else {
		e.names = map[string]bool{}
		e.seq = new(int)
		g.Walk(func(sg *graph.Graph, n *graph.Node) {
			e.names[n.Name] = true
			for _, o := range n.Outputs {
				e.names[o] = true
			}
			for _, v := range sg.Inputs {
				e.names[v.Name] = true
			}
			for _, p := range sg.Params {
				e.names[p.Name] = true
			}
		})
	}
	for k, v := range extra {
		e.types[k] = v
	}
	for _, v := range g.Inputs {
		e.names[v.Name] = true
		e.types[v.Name] = v.Type
	}
	for _, p := range g.Params {
		e.names[p.Name] = true
		e.consts[p.Name] = p.Tensor
		e.types[p.Name] = graph.TensorType(p.Tensor.DType(), p.Tensor.Shape()...)
	}
	for k, v := range g.Types {
		if _, ok := e.types[k]; !ok {
			e.types[k] = v
		}
	}
	for _, n := range g.Nodes {
		e.names[n.Name] = true
		for _, o := range n.Outputs {
			e.names[o] = true
		}
		e.infer(n)
	}
	return e
}

// defined reports whether name is a value visible in e's graph.
func (e *emitter) defined(name string) bool {
	if _, ok := e.types[name]; ok {
		return true
	}
	for _, n := range e.g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return true
			}
		}
	}
	return false
}

// infer records the output types of n where its op's Infer can tell them.
func (e *emitter) infer(n *graph.Node) {
	d := ops.Lookup(n.Domain, n.Op)
	if d == nil || d.Infer == nil {
		return
	}
	ic := &ops.InferContext{Node: n, In: make([]graph.Type, len(n.Inputs)), Consts: make([]*tensor.Tensor, len(n.Inputs))}
	for i, in := range n.Inputs {
		if in == "" {
			ic.In[i] = graph.Type{Kind: graph.KindTensor}
			continue
		}
		t, ok := e.types[in]
		if !ok {
			return // an input of unknown type: leave the outputs unknown
		}
		ic.In[i] = t
		ic.Consts[i] = e.consts[in]
	}
	ts, err := safeInfer(d, ic)
	if err != nil {
		return
	}
	for i, o := range n.Outputs {
		if o != "" && i < len(ts) {
			e.types[o] = ts[i]
		}
	}
}

func safeInfer(d *ops.Def, ic *ops.InferContext) (ts []graph.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("infer panicked: %v", r)
		}
	}()
	return d.Infer(ic)
}

// fresh returns a name not used anywhere in the graph tree.
func (e *emitter) fresh(hint string) string {
	for {
		*e.seq++
		name := fmt.Sprintf("grad/%s_%d", hint, *e.seq)
		if !e.names[name] {
			e.names[name] = true
			return name
		}
	}
}

// Op appends a single-output ONNX node.
func (e *emitter) Op(op string, attrs graph.Attrs, inputs ...string) string {
	return e.OpN("", op, attrs, 1, inputs...)[0]
}

// OpN appends a node with nOut outputs.
func (e *emitter) OpN(domain, op string, attrs graph.Attrs, nOut int, inputs ...string) []string {
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = e.fresh(op)
	}
	n := &graph.Node{Name: e.fresh(op + "_node"), Op: op, Domain: domain, Inputs: inputs, Outputs: outs, Attrs: attrs, Meta: graph.Meta{Source: "autodiff"}}
	e.g.Nodes = append(e.g.Nodes, n)
	e.infer(n)
	return outs
}

// Const adds t as a frozen param.
func (e *emitter) Const(t *tensor.Tensor) string {
	name := e.fresh("const")
	e.g.Params = append(e.g.Params, &graph.Param{Name: name, Tensor: t})
	e.consts[name] = t
	e.types[name] = graph.TensorType(t.DType(), t.Shape()...)
	return name
}

// Type returns a value's static type, when known.
func (e *emitter) Type(name string) (graph.Type, bool) {
	t, ok := e.types[name]
	return t, ok
}

// ConstValue returns the value of a param or constant, or nil.
func (e *emitter) ConstValue(name string) *tensor.Tensor { return e.consts[name] }

// Needs reports whether a value needs a gradient in the current pass.
func (e *emitter) Needs(name string) bool { return e.needs == nil || e.needs(name) }

func (e *emitter) isFloatOrUnknown(name string) bool {
	t, ok := e.types[name]
	if !ok || t.Kind != graph.KindTensor || t.DType == tensor.Undefined {
		return true
	}
	return t.DType.IsFloat()
}

func (e *emitter) dtype(name string) tensor.DType {
	if t, ok := e.types[name]; ok && t.DType != tensor.Undefined {
		return t.DType
	}
	return tensor.Float32
}

// sum returns the sum of the gradients accumulated for a value ("" when
// none) and keeps it as the value's only entry.
func (e *emitter) sum(acc map[string][]string, name string) string {
	l := acc[name]
	switch len(l) {
	case 0:
		return ""
	case 1:
		return l[0]
	}
	s := e.Op("Sum", nil, l...)
	acc[name] = []string{s}
	return s
}

// fill returns a tensor of ref's shape filled with v, of element type dt,
// or of ref's element type at run time when dt is Undefined.
func (e *emitter) fill(ref string, dt tensor.DType, v float64) string {
	if dt == tensor.Undefined {
		c := e.Op("CastLike", nil, e.Const(tensor.Scalar(v)), ref)
		return e.Op("Expand", nil, c, e.Op("Shape", nil, ref))
	}
	if t, ok := e.types[ref]; ok && t.Static() {
		n := tensor.Shape(t.Shape).Size()
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = v
		}
		return e.Const(tensor.ConvertFloat64s(dt, tensor.Shape(t.Shape), vals, false, 0))
	}
	return e.Op("ConstantOfShape", graph.Attrs{"value": tensor.ConvertFloat64s(dt, tensor.Shape{1}, []float64{v}, false, 0)}, e.Op("Shape", nil, ref))
}

// knownDType returns a value's element type, or Undefined.
func (e *emitter) knownDType(name string) tensor.DType {
	if t, ok := e.types[name]; ok {
		return t.DType
	}
	return tensor.Undefined
}

// zerosLike returns zeros of ref's shape and type.
func (e *emitter) zerosLike(ref string) string {
	return e.fill(ref, e.knownDType(ref), 0)
}
