// Package train is kiln's Keras-like model API. A Model is a Keras
// Sequential or functional model made of train/layer layers and the graph
// of their calls; it builds its layers' weights, lowers to an op graph for
// the runtime and prints itself as Keras's model.summary() does.
package train

import (
	"errors"
	"fmt"
	"sort"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
)

// Call is one application of a layer inside a model (a Keras "node"). A
// layer called several times (a shared layer) has one Call per
// application, indexed in the order the config lists them.
type Call struct {
	Layer layer.Layer
	// Index is the node index of this call among the layer's calls.
	Index int
	// Args are the tensors the layer reads, flattened: positional ones
	// first, then the ones passed by keyword (see layer.CallInfo).
	Args []TensorRef
	// Mask is a tensor passed as the call's mask keyword, if any (the
	// first input's mask).
	Mask *TensorRef
	// Masks holds, when the mask keyword is a list (Attention's
	// mask=[query_mask, value_mask]), one entry per positional input (nil
	// where the list has null). When set it supersedes Mask.
	Masks []*TensorRef
	// Info carries the keyword arguments to layers that want them.
	Info layer.CallInfo
	// Connected lists the input tensors as Keras does in "Connected to"
	// (positional, then keyword tensors by sorted keyword).
	Connected []TensorRef
	// InShapes and OutShapes are set by Build.
	InShapes, OutShapes []layer.Shape
}

// Model is a Keras Sequential or functional model. It is itself a
// layer.Layer, so models nest as layers of other models.
type Model struct {
	layer.Base
	version       layer.Version
	saved         *savedConfig // the config the model was decoded from (config_write.go)
	sequential    bool
	implicitInput bool
	layers        []layer.Layer // config order, InputLayers included
	byName        map[string]layer.Layer
	calls         map[string][]*Call // by layer name, in node order
	callList      []*Call            // config order
	order         []*Call            // topological order (set by Build)
	inputs        []TensorRef
	outputs       []TensorRef
	outShapes     []layer.Shape
	training      *trainState // set by Compile
	optimizer     *OptimizerParams
	savedOpt      *savedOptimizer
}

// OptimizerParams describes the optimizer state stored with a model
// (Keras 3 .keras files keep it under optimizer/vars in model.weights.h5).
// kiln does not train with it; Summary reports it as Keras does for a
// compiled model whose optimizer is built.
type OptimizerParams struct {
	// Count is the number of scalars in the optimizer's variables.
	Count int
	// Bytes is their size (each variable's element count times its
	// dtype's size).
	Bytes float64
}

// SetOptimizerParams records the stored optimizer state (nil for none).
func (m *Model) SetOptimizerParams(p *OptimizerParams) { m.optimizer = p }

// OptimizerParams returns the stored optimizer state, or nil.
func (m *Model) OptimizerParams() *OptimizerParams { return m.optimizer }

// Version is the Keras version the model's config was written by.
func (m *Model) Version() layer.Version { return m.version }

// IsSequential reports whether the model is a Keras Sequential model.
func (m *Model) IsSequential() bool { return m.sequential }

// Layers returns the model's top-level layers in config order, as Keras's
// model.layers does: a functional model lists its InputLayers, a
// Sequential model does not.
func (m *Model) Layers() []layer.Layer {
	if m.sequential {
		var out []layer.Layer
		for _, l := range m.layers {
			if _, ok := l.(*layer.InputLayer); !ok {
				out = append(out, l)
			}
		}
		return out
	}
	return append([]layer.Layer(nil), m.layers...)
}

// Layer returns the layer with the given name, looking into nested models
// (top level first), or nil.
func (m *Model) Layer(name string) layer.Layer {
	if l, ok := m.byName[name]; ok {
		return l
	}
	for _, l := range m.layers {
		if sub, ok := l.(*Model); ok {
			if found := sub.Layer(name); found != nil {
				return found
			}
		}
	}
	return nil
}

// Calls returns the calls of the named top-level layer, in node order.
func (m *Model) Calls(name string) []*Call { return m.calls[name] }

// InputNames returns the names of the model's input layers, in order.
func (m *Model) InputNames() []string {
	out := make([]string, len(m.inputs))
	for i, r := range m.inputs {
		out[i] = r.Layer
	}
	return out
}

// OutputNames returns the model's output names as Keras's
// model.output_names does: the output layers' names, with "_1", "_2", ...
// added when a layer provides several outputs.
func (m *Model) OutputNames() []string {
	out := make([]string, len(m.outputs))
	used := map[string]bool{}
	count := map[string]int{}
	for i, r := range m.outputs {
		name := r.Layer
		for used[name] {
			count[r.Layer]++
			name = fmt.Sprintf("%s_%d", r.Layer, count[r.Layer])
		}
		used[name] = true
		out[i] = name
	}
	return out
}

// Outputs returns the tensors the model outputs.
func (m *Model) Outputs() []TensorRef { return append([]TensorRef(nil), m.outputs...) }

// Inputs returns the tensors the model takes (its InputLayers' outputs).
func (m *Model) Inputs() []TensorRef { return append([]TensorRef(nil), m.inputs...) }

// InputShapes returns the Keras shapes of the model inputs.
func (m *Model) InputShapes() []layer.Shape {
	out := make([]layer.Shape, len(m.inputs))
	for i, r := range m.inputs {
		if in, ok := m.byName[r.Layer].(*layer.InputLayer); ok {
			out[i] = in.BatchShape.Clone()
		}
	}
	return out
}

// OutputShapes returns the Keras shapes of the model outputs (after Build).
func (m *Model) OutputShapes() []layer.Shape {
	out := make([]layer.Shape, len(m.outShapes))
	for i, s := range m.outShapes {
		out[i] = s.Clone()
	}
	return out
}

// Weights returns every weight of the model in Keras's model.weights
// order. Keras 3 lists them layer by layer in config order, recursing into
// nested models. Keras 1 and 2 list a model's trainable weights (over all
// its layers, recursively) before its non-trainable ones; for a model
// without frozen layers or BatchNormalization-style state the two orders
// agree. To fill weights saved per layer (legacy .h5 "layer_names"), take
// Layers() and each layer's Weights().
func (m *Model) Weights() []*layer.Weight {
	all := m.leafWeights(true)
	if m.version.Major >= 3 {
		out := make([]*layer.Weight, len(all))
		for i, w := range all {
			out[i] = w.w
		}
		return out
	}
	var tr, nt []*layer.Weight
	for _, w := range all {
		if w.trainable {
			tr = append(tr, w.w)
		} else {
			nt = append(nt, w.w)
		}
	}
	return append(tr, nt...)
}

// TrainableWeights returns the weights training updates: those marked
// trainable whose layer and enclosing models are trainable.
func (m *Model) TrainableWeights() []*layer.Weight {
	var out []*layer.Weight
	for _, w := range m.leafWeights(true) {
		if w.trainable {
			out = append(out, w.w)
		}
	}
	return out
}

// NonTrainableWeights returns the other weights.
func (m *Model) NonTrainableWeights() []*layer.Weight {
	var out []*layer.Weight
	for _, w := range m.leafWeights(true) {
		if !w.trainable {
			out = append(out, w.w)
		}
	}
	return out
}

type leafWeight struct {
	w         *layer.Weight
	trainable bool
}

// leafWeights lists weights layer by layer, each once, with their
// effective trainability.
func (m *Model) leafWeights(trainable bool) []leafWeight {
	trainable = trainable && m.Trainable()
	var out []leafWeight
	seen := map[*layer.Weight]bool{}
	for _, l := range m.layers {
		var ws []leafWeight
		if sub, ok := l.(*Model); ok {
			ws = sub.leafWeights(trainable)
		} else {
			lt := trainable && layer.BaseOf(l).Trainable()
			for _, w := range l.Weights() {
				ws = append(ws, leafWeight{w, lt && w.Trainable})
			}
		}
		for _, w := range ws {
			if !seen[w.w] {
				seen[w.w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// CountParams returns the number of scalars in the model's weights.
func (m *Model) CountParams() int {
	n := 0
	for _, w := range m.Weights() {
		n += shapeSize(w.Shape)
	}
	return n
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Build infers every layer's input shapes and builds the layers in
// topological order, so their weights exist with Keras's shapes, and
// returns the model's output shapes. With in nil (a top-level model) the
// shapes come from the model's input layers; FromKerasConfig does this.
// When the model is a layer of another model, in are the shapes it is
// called on: the first call builds the weights from the declared input
// shapes (in fills any that are missing) and a call on other shapes
// re-infers the output shapes without new weights. Build is safe to call
// again. Errors name the layer, its class and its input shapes.
func (m *Model) Build(in []layer.Shape) ([]layer.Shape, error) {
	if m.Built {
		if in == nil || compatible(in, m.InputShapes()) {
			return m.OutputShapes(), nil
		}
		return m.propagate(in, false)
	}
	if err := m.sort(); err != nil {
		return nil, err
	}
	decl := m.InputShapes()
	for i := range decl {
		if decl[i] == nil && i < len(in) {
			decl[i] = in[i]
		}
	}
	out, err := m.propagate(decl, true)
	if err != nil {
		return nil, err
	}
	m.outShapes = out
	m.Built = true
	if in != nil && !compatible(in, decl) {
		return m.propagate(in, false)
	}
	return m.OutputShapes(), nil
}

// compatible reports whether shapes agree where both are known.
func compatible(a, b []layer.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] >= 0 && b[i][j] >= 0 && a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// sort orders all calls so each comes after the calls it reads.
func (m *Model) sort() error {
	state := map[*Call]int{} // 1 visiting, 2 done
	var order []*Call
	var visit func(c *Call) error
	visit = func(c *Call) error {
		switch state[c] {
		case 1:
			return fmt.Errorf("train: model %q: the layer graph has a cycle through layer %q", m.Name(), c.Layer.Name())
		case 2:
			return nil
		}
		state[c] = 1
		for _, r := range append(append([]TensorRef(nil), c.Args...), maskRefs(c)...) {
			if err := visit(m.calls[r.Layer][r.Node]); err != nil {
				return err
			}
		}
		state[c] = 2
		order = append(order, c)
		return nil
	}
	for _, c := range m.callList {
		if err := visit(c); err != nil {
			return err
		}
	}
	m.order = order
	return nil
}

// propagate runs shape inference over all calls from the given input
// shapes; with store it records the shapes on the calls.
func (m *Model) propagate(in []layer.Shape, store bool) ([]layer.Shape, error) {
	if len(in) != len(m.inputs) {
		return nil, fmt.Errorf("train: model %q takes %d inputs, got %d", m.Name(), len(m.inputs), len(in))
	}
	shapes := map[*Call][]layer.Shape{}
	for i, r := range m.inputs {
		if in[i] == nil {
			return nil, fmt.Errorf("train: model %q: input %q has no shape; give the model an input shape", m.Name(), r.Layer)
		}
		c := m.calls[r.Layer][r.Node]
		if _, err := c.Layer.Build(nil); err != nil {
			return nil, err
		}
		shapes[c] = []layer.Shape{in[i].Clone()}
	}
	get := func(r TensorRef) (layer.Shape, error) {
		s := shapes[m.calls[r.Layer][r.Node]]
		if r.Tensor < 0 || r.Tensor >= len(s) {
			return nil, fmt.Errorf("train: model %q: tensor %s does not exist (layer %q has %d outputs)", m.Name(), r, r.Layer, len(s))
		}
		return s[r.Tensor], nil
	}
	for _, c := range m.order {
		if _, done := shapes[c]; done {
			if store {
				c.OutShapes = shapes[c]
			}
			continue
		}
		if _, isInput := c.Layer.(*layer.InputLayer); isInput {
			// An input layer the model does not list as an input: use
			// its declared shape.
			out, err := c.Layer.Build(nil)
			if err != nil {
				return nil, err
			}
			shapes[c] = out
			if store {
				c.OutShapes = out
			}
			continue
		}
		ins := make([]layer.Shape, len(c.Args))
		for i, r := range c.Args {
			s, err := get(r)
			if err != nil {
				return nil, err
			}
			ins[i] = s.Clone()
		}
		out, err := buildCall(c, ins)
		if err != nil {
			var me *modelError
			if errors.As(err, &me) {
				return nil, fmt.Errorf("in layer %q (%s): %w", c.Layer.Name(), c.Layer.Class(), err)
			}
			return nil, &modelError{fmt.Errorf("train: model %q: layer %q (%s) on input shapes %s: %w", m.Name(), c.Layer.Name(), c.Layer.Class(), shapesString(ins), err)}
		}
		shapes[c] = out
		if store {
			c.InShapes = ins
			c.OutShapes = out
		}
	}
	outs := make([]layer.Shape, len(m.outputs))
	for i, r := range m.outputs {
		s, err := get(r)
		if err != nil {
			return nil, err
		}
		outs[i] = s.Clone()
	}
	return outs, nil
}

func shapesString(s []layer.Shape) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x.String()
	}
	return out
}

// Lower appends the nodes of the model's layers to b, computing the
// model's outputs from in (one tensor per model input). It is how a nested
// model lowers inside its parent.
func (m *Model) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	if !m.Built {
		return nil, fmt.Errorf("train: model %q is not built", m.Name())
	}
	if len(in) != len(m.inputs) {
		return nil, fmt.Errorf("train: model %q takes %d inputs, got %d", m.Name(), len(m.inputs), len(in))
	}
	saved := b.Layer
	defer func() { b.Layer = saved }()
	vals := map[*Call][]layer.Tensor{}
	for i, r := range m.inputs {
		vals[m.calls[r.Layer][r.Node]] = []layer.Tensor{in[i]}
	}
	get := func(r TensorRef) (layer.Tensor, error) {
		v := vals[m.calls[r.Layer][r.Node]]
		if r.Tensor < 0 || r.Tensor >= len(v) {
			return layer.Tensor{}, fmt.Errorf("train: model %q: tensor %s does not exist", m.Name(), r)
		}
		return v[r.Tensor], nil
	}
	for _, c := range m.needed() {
		if _, done := vals[c]; done {
			continue
		}
		ins := make([]layer.Tensor, len(c.Args))
		for i, r := range c.Args {
			t, err := get(r)
			if err != nil {
				return nil, err
			}
			ins[i] = t
		}
		masks := c.Masks
		if len(masks) == 0 && c.Mask != nil {
			masks = []*TensorRef{c.Mask}
		}
		for i, mr := range masks {
			if mr == nil || i >= len(ins) {
				continue
			}
			mt, err := get(*mr)
			if err != nil {
				return nil, err
			}
			ins[i].Mask = mt.Name
		}
		if _, isInput := c.Layer.(*layer.InputLayer); isInput && len(ins) == 0 {
			return nil, fmt.Errorf("train: model %q: the outputs depend on input layer %q, which is not a model input", m.Name(), c.Layer.Name())
		}
		b.Layer = c.Layer
		out, err := lowerCall(b, c, ins)
		if err != nil {
			var me *modelError
			if errors.As(err, &me) {
				return nil, fmt.Errorf("in layer %q (%s): %w", c.Layer.Name(), c.Layer.Class(), err)
			}
			return nil, &modelError{fmt.Errorf("train: model %q: lowering layer %q (%s): %w", m.Name(), c.Layer.Name(), c.Layer.Class(), err)}
		}
		if len(c.OutShapes) > 0 && len(out) != len(c.OutShapes) {
			return nil, fmt.Errorf("train: model %q: layer %q (%s) lowered to %d outputs, but its Build reported %d", m.Name(), c.Layer.Name(), c.Layer.Class(), len(out), len(c.OutShapes))
		}
		vals[c] = out
		if err := m.activityPenalty(b, c, out); err != nil {
			return nil, err
		}
	}
	outs := make([]layer.Tensor, len(m.outputs))
	for i, r := range m.outputs {
		t, err := get(r)
		if err != nil {
			return nil, err
		}
		outs[i] = t
	}
	return outs, nil
}

// activityPenalty adds the penalty of a layer's activity regularizer on
// each float output of one call to b.Losses: Keras 3 adds it as is, Keras
// 1 and 2 divide it by the batch size.
func (m *Model) activityPenalty(b *layer.Builder, c *Call, out []layer.Tensor) error {
	raw := layer.BaseOf(c.Layer).Activity
	if len(raw) == 0 {
		return nil
	}
	r, err := loss.RegularizerFromConfig(raw)
	if err != nil {
		return fmt.Errorf("train: layer %q (%s): activity_regularizer: %w", c.Layer.Name(), c.Layer.Class(), err)
	}
	for _, t := range out {
		if t.DType != tensor.Float32 && t.DType != tensor.Undefined {
			continue
		}
		p := r.Penalty(b, t.Name)
		if p == "" {
			continue
		}
		if m.version.Major > 0 && m.version.Major < 3 && len(t.Shape) > 0 {
			n := b.Op("Gather", graph.Attrs{"axis": int64(0)}, b.Op("Shape", nil, t.Name), b.Const(tensor.Scalar(int64(0))))
			p = b.Op("Div", nil, p, b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, n))
		}
		b.Losses = append(b.Losses, p)
	}
	return nil
}

// buildCall runs a layer's Build (or BuildCall) for one call. A panic in
// the layer becomes an error, so a bad layer cannot crash the caller.
func buildCall(c *Call, ins []layer.Shape) (out []layer.Shape, err error) {
	defer func() {
		if r := recover(); r != nil {
			if we, ok := r.(*layer.WeightSizeError); ok {
				out, err = nil, fmt.Errorf("%w: %w", we, layer.ErrUnsupported)
				return
			}
			out, err = nil, fmt.Errorf("the layer panicked (a bug in its Go implementation): %v", r)
		}
	}()
	if l, ok := c.Layer.(layer.CallBuilder); ok {
		info := c.Info
		return l.BuildCall(ins, &info)
	}
	return c.Layer.Build(ins)
}

// lowerCall runs a layer's Lower (or LowerCall) for one call, turning a
// panic into an error.
func lowerCall(b *layer.Builder, c *Call, ins []layer.Tensor) (out []layer.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("the layer panicked (a bug in its Go implementation): %v", r)
		}
	}()
	if l, ok := c.Layer.(layer.CallLowerer); ok {
		info := c.Info
		return l.LowerCall(b, ins, &info)
	}
	return c.Layer.Lower(b, ins)
}

// needed returns the calls the outputs depend on, in topological order.
func (m *Model) needed() []*Call {
	need := map[*Call]bool{}
	var mark func(c *Call)
	mark = func(c *Call) {
		if need[c] {
			return
		}
		need[c] = true
		for _, r := range append(append([]TensorRef(nil), c.Args...), maskRefs(c)...) {
			mark(m.calls[r.Layer][r.Node])
		}
	}
	for _, r := range m.outputs {
		mark(m.calls[r.Layer][r.Node])
	}
	var out []*Call
	for _, c := range m.order {
		if need[c] {
			out = append(out, c)
		}
	}
	return out
}

// Graph lowers the model to an inference graph. Graph inputs are named
// after the input layers and typed from their Keras shapes (the batch
// dimension -1, named "batch"); outputs are named as OutputNames. Weights
// become graph params named "<layer>/<weight>", sharing the layers'
// tensors, so loading weights into the model before or after Graph fills
// the params.
func (m *Model) Graph() (*graph.Graph, error) {
	if !m.Built {
		if _, err := m.Build(nil); err != nil {
			return nil, err
		}
	}
	g := &graph.Graph{Name: m.Name(), Types: map[string]graph.Type{}}
	b := layer.NewBuilder(g)
	b.Version = m.version
	ins := make([]layer.Tensor, len(m.inputs))
	for i, r := range m.inputs {
		il := m.byName[r.Layer].(*layer.InputLayer)
		dt := il.TensorDType()
		g.Inputs = append(g.Inputs, &graph.Value{Name: r.Layer, Type: kerasType(dt, il.BatchShape)})
		ins[i] = layer.Tensor{Name: r.Layer, Shape: il.BatchShape.Clone(), DType: dt}
	}
	outs, err := m.Lower(b, ins)
	if err != nil {
		return nil, err
	}
	b.Layer = nil
	names := m.OutputNames()
	taken := map[string]bool{}
	for _, v := range g.Inputs {
		taken[v.Name] = true
	}
	renamed := map[string]string{}
	for i, t := range outs {
		name := names[i]
		src := t.Name
		if r, ok := renamed[src]; ok {
			src = r
		}
		dt := t.DType
		if dt == tensor.Undefined {
			dt = tensor.Float32
		}
		g.Outputs = append(g.Outputs, &graph.Value{Name: name, Type: kerasType(dt, t.Shape)})
		if src == name {
			// A model input that is also an output.
			taken[name] = true
			continue
		}
		done := false
		if _, again := renamed[t.Name]; !again && !taken[src] && !taken[name] && g.Param(src) == nil {
			// Name the producer's output after the Keras output.
			if done = renameValue(g, src, name); done {
				renamed[src] = name
			}
		}
		if !done {
			g.Nodes = append(g.Nodes, &graph.Node{Name: name + "/output", Op: "Identity", Inputs: []string{src}, Outputs: []string{name}, Attrs: graph.Attrs{}, Meta: graph.Meta{Source: "keras", KerasLayer: m.outputs[i].Layer, KerasClass: m.byName[m.outputs[i].Layer].Class()}})
		}
		taken[name] = true
	}
	return g, nil
}

// renameValue renames a node output (and its uses) in g.
func renameValue(g *graph.Graph, from, to string) bool {
	found := false
	for _, n := range g.Nodes {
		for i, o := range n.Outputs {
			if o == from {
				n.Outputs[i] = to
				found = true
			}
		}
	}
	if !found {
		return false
	}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
	}
	if t, ok := g.Types[from]; ok {
		delete(g.Types, from)
		g.Types[to] = t
	}
	return true
}

// kerasType is the graph type of a Keras shape: batch first, -1 unknown.
func kerasType(dt tensor.DType, s layer.Shape) graph.Type {
	t := graph.TensorType(dt, s...)
	if len(s) > 0 {
		t.DimNames = make([]string, len(s))
		t.DimNames[0] = "batch"
		t.Shape[0] = -1
	}
	return t
}

// sortStrings sorts in place (kept here so config.go reads plainly).
func sortStrings(s []string) { sort.Strings(s) }
