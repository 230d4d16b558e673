package train

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/train/layer"
)

// The functional API: Input makes a symbolic input, Apply calls a layer on
// symbolic tensors, NewFunctional turns the graph of calls between some
// inputs and outputs into a Model, as keras.Input, layer(x) and
// keras.Model(inputs, outputs) do:
//
//	x := train.Input("image", layer.Shape{-1, 28, 28, 1})
//	h := train.Apply(conv, x)
//	h = train.Apply(pool, h)
//	y := train.Apply(dense, train.Apply(flatten, h))
//	m, err := train.NewFunctional("classifier", []*train.Symbol{x}, []*train.Symbol{y})
//
// A layer applied to several tensors takes them all (merge layers such as
// Add and Concatenate, Attention, MultiHeadAttention's query and value); a
// layer applied more than once shares its weights between the calls; a
// Model is a layer too, so models nest. Each Apply infers its output shapes
// at once, building the layer's weights on its first call as Keras does;
// an error (shapes that do not fit the layer, say) is kept in the symbols
// it would have made and returned by NewFunctional, naming the layer.

// A Symbol is a symbolic tensor: a model input or an output of a layer
// call, with its shape (batch first, -1 for unknown).
type Symbol struct {
	call  *symCall
	index int
}

type symCall struct {
	layer  layer.Layer
	args   []*Symbol
	shapes []layer.Shape
	err    error
	input  bool
}

// Input returns a symbolic float32 model input of the given shape, batch
// first (-1 for None), named name ("input_layer" and a suffix when empty).
func Input(name string, batchShape layer.Shape) *Symbol {
	return InputOf(name, "float32", batchShape)
}

// InputOf is Input for another Keras dtype ("int32", "int64", "bool", ...).
func InputOf(name, dtype string, batchShape layer.Shape) *Symbol {
	in := &layer.InputLayer{BatchShape: batchShape.Clone(), DType: dtype}
	in.LayerName = name
	in.ClassName = "InputLayer"
	c := &symCall{layer: in, input: true, shapes: []layer.Shape{batchShape.Clone()}}
	if len(batchShape) == 0 {
		c.err = fmt.Errorf("train: Input %q has no shape; give its shape with the batch dimension first", name)
	}
	return &Symbol{call: c}
}

// Apply calls l on args and returns its first output.
func Apply(l layer.Layer, args ...*Symbol) *Symbol { return ApplyAll(l, args...)[0] }

// ApplyAll calls l on args and returns all its outputs (an LSTM with
// return_state has three).
func ApplyAll(l layer.Layer, args ...*Symbol) []*Symbol {
	c := &symCall{layer: l, args: args}
	c.err = c.build()
	n := max(len(c.shapes), 1)
	out := make([]*Symbol, n)
	for i := range out {
		out[i] = &Symbol{call: c, index: i}
	}
	return out
}

func (c *symCall) build() error {
	if c.layer == nil {
		return errors.New("train: Apply: nil layer")
	}
	if len(c.args) == 0 {
		return fmt.Errorf("train: layer %q (%s) applied to no tensors", c.layer.Name(), c.layer.Class())
	}
	ins := make([]layer.Shape, len(c.args))
	for i, a := range c.args {
		if a == nil || a.call == nil {
			return fmt.Errorf("train: layer %q (%s): argument %d is not a symbol from Input or Apply", c.layer.Name(), c.layer.Class(), i)
		}
		if err := a.Err(); err != nil {
			return err
		}
		ins[i] = a.Shape()
	}
	call := &Call{Layer: c.layer, Info: layer.CallInfo{NArgs: len(ins)}}
	out, err := buildCall(call, ins)
	if err != nil {
		name := c.layer.Name()
		if name == "" {
			name = "(unnamed)"
		}
		return fmt.Errorf("train: layer %q (%s) on input shapes %s: %w", name, c.layer.Class(), shapesString(ins), err)
	}
	c.shapes = out
	return nil
}

// Shape returns the symbol's shape (nil after an error).
func (s *Symbol) Shape() layer.Shape {
	if s == nil || s.call == nil || s.index >= len(s.call.shapes) {
		return nil
	}
	return s.call.shapes[s.index].Clone()
}

// Err returns the first error met while making the symbol.
func (s *Symbol) Err() error {
	if s == nil || s.call == nil {
		return errors.New("train: nil symbol")
	}
	if s.call.err != nil {
		return s.call.err
	}
	if s.index >= len(s.call.shapes) {
		return fmt.Errorf("train: layer %q (%s) has %d outputs; output %d does not exist", s.call.layer.Name(), s.call.layer.Class(), len(s.call.shapes), s.index)
	}
	return nil
}

// NewFunctional makes a functional model (Keras 3 class Functional) of the
// calls that lead from inputs to outputs. Every input an output depends
// on must be listed; layers left unnamed get Keras's default names (the
// class in snake case, "_1", "_2" ... when taken), and two different
// layers may not share a name.
func NewFunctional(name string, inputs, outputs []*Symbol) (*Model, error) {
	if name == "" {
		name = "functional"
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, fmt.Errorf("train: functional model %q needs at least one input and one output", name)
	}
	listed := map[*symCall]bool{}
	for i, s := range inputs {
		if s == nil || s.call == nil || !s.call.input {
			return nil, fmt.Errorf("train: functional model %q: inputs[%d] is not a symbol made by Input", name, i)
		}
		if err := s.Err(); err != nil {
			return nil, err
		}
		if listed[s.call] {
			return nil, fmt.Errorf("train: functional model %q: input %q is listed twice", name, s.call.layer.Name())
		}
		listed[s.call] = true
	}
	// Calls in topological order (every call after those it reads).
	var order []*symCall
	state := map[*symCall]int{}
	var visit func(c *symCall) error
	visit = func(c *symCall) error {
		if state[c] == 2 {
			return nil
		}
		state[c] = 2
		if c.err != nil {
			return c.err
		}
		if c.input && !listed[c] {
			return fmt.Errorf("train: functional model %q: an output depends on input %q, which is not among the model's inputs", name, c.layer.Name())
		}
		for _, a := range c.args {
			if err := visit(a.call); err != nil {
				return err
			}
		}
		order = append(order, c)
		return nil
	}
	for i, s := range outputs {
		if s == nil || s.call == nil {
			return nil, fmt.Errorf("train: functional model %q: outputs[%d] is not a symbol from Input or Apply", name, i)
		}
		if err := s.Err(); err != nil {
			return nil, err
		}
		if err := visit(s.call); err != nil {
			return nil, err
		}
	}
	m := &Model{version: layer.Version{Major: 3}, byName: map[string]layer.Layer{}, calls: map[string][]*Call{}}
	m.LayerName = name
	m.ClassName = "Functional"
	// Layers: the inputs in the order given, then the others in call order.
	var layers []layer.Layer
	seen := map[layer.Layer]bool{}
	for _, s := range inputs {
		layers = append(layers, s.call.layer)
		seen[s.call.layer] = true
	}
	for _, c := range order {
		if !seen[c.layer] {
			seen[c.layer] = true
			layers = append(layers, c.layer)
		}
	}
	if err := nameLayers(name, layers); err != nil {
		return nil, err
	}
	for _, l := range layers {
		if err := m.addLayer(l); err != nil {
			return nil, err
		}
	}
	refs := map[*symCall]*Call{}
	for _, s := range inputs {
		refs[s.call] = m.addCall(s.call.layer, nil)
	}
	ref := func(s *Symbol) TensorRef {
		c := refs[s.call]
		return TensorRef{Layer: c.Layer.Name(), Node: c.Index, Tensor: s.index}
	}
	for _, c := range order {
		if c.input {
			continue
		}
		args := make([]TensorRef, len(c.args))
		for i, a := range c.args {
			args[i] = ref(a)
		}
		call := m.addCall(c.layer, args)
		call.Info.NArgs = len(args)
		refs[c] = call
	}
	for _, s := range inputs {
		m.inputs = append(m.inputs, ref(s))
	}
	for _, s := range outputs {
		m.outputs = append(m.outputs, ref(s))
	}
	if _, err := m.Build(nil); err != nil {
		return nil, err
	}
	return m, nil
}

// nameLayers gives unnamed layers Keras's default names and checks that
// no two layers share a name.
func nameLayers(model string, layers []layer.Layer) error {
	taken := map[string]layer.Layer{}
	for _, l := range layers {
		if n := l.Name(); n != "" {
			if other, dup := taken[n]; dup && other != l {
				return fmt.Errorf("train: model %q has two layers named %q (%s and %s); give one another name", model, n, other.Class(), l.Class())
			}
			taken[n] = l
		}
	}
	for _, l := range layers {
		if l.Name() != "" {
			continue
		}
		base := snakeCase(l.Class())
		if _, ok := l.(*layer.InputLayer); ok {
			base = "input_layer"
		}
		n := base
		for i := 1; taken[n] != nil; i++ {
			n = base + "_" + strconv.Itoa(i)
		}
		setName(l, n)
		taken[n] = l
	}
	return nil
}

// setName names a layer through its embedded layer.Base.
func setName(l layer.Layer, name string) {
	if b, ok := l.(interface{ SetName(string) }); ok {
		b.SetName(name)
	}
}

var (
	snakeWord  = regexp.MustCompile(`(.)([A-Z][a-z0-9]+)`)
	snakeUpper = regexp.MustCompile(`([a-z])([A-Z])`)
)

// snakeCase turns a class name into Keras's default layer name: Conv2D ->
// conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu.
func snakeCase(class string) string {
	s := snakeWord.ReplaceAllString(class, "${1}_${2}")
	return strings.ToLower(snakeUpper.ReplaceAllString(s, "${1}_${2}"))
}
