package layer

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Tensor is a symbolic value while lowering: a graph value name with its
// Keras shape and dtype, and an optional Keras mask (a bool value of shape
// [batch, time], "" when there is none).
type Tensor struct {
	Name  string
	Shape Shape
	DType tensor.DType
	Mask  string
}

// Builder appends nodes to a graph on behalf of one layer at a time, so
// every node records the Keras layer it came from.
type Builder struct {
	G *graph.Graph
	// Layer is the layer being lowered (its name and class go into Meta).
	Layer Layer
	// Training is true when lowering for training (Dropout active,
	// BatchNormalization using batch statistics).
	Training bool
	// Version is the Keras version the model was saved with; it selects
	// between meanings that changed across versions.
	Version Version
	// WeightsAsInputs makes Param add weights as graph inputs (named as
	// the params would be) instead of params, for training graphs whose
	// weights change between runs.
	WeightsAsInputs bool
	// Updates lists the state updates lowering emitted in training mode
	// (BatchNormalization's moving statistics): after a training step the
	// weight takes the value the graph computes.
	Updates []Update
	// Losses lists scalar values lowering added to the loss (activity
	// regularizer penalties); a training or evaluation graph sums them
	// into its loss.
	Losses []string
	seq    int
	params map[*Weight]string
}

// Update is a state update of a training graph: Weight takes the value
// named Value after the step.
type Update struct {
	Weight *Weight
	Value  string
}

// WeightValue returns the graph value a weight was lowered to, if any.
func (b *Builder) WeightValue(w *Weight) (string, bool) {
	name, ok := b.params[w]
	return name, ok
}

// NewBuilder starts building into g.
func NewBuilder(g *graph.Graph) *Builder {
	return &Builder{G: g, params: map[*Weight]string{}}
}

// Fresh returns a new value name with the current layer's name as prefix.
func (b *Builder) Fresh(hint string) string {
	b.seq++
	prefix := "kiln"
	if b.Layer != nil {
		prefix = b.Layer.Name()
	}
	return fmt.Sprintf("%s/%s_%d", prefix, hint, b.seq)
}

// OpN appends a node with nOut outputs and returns their names.
func (b *Builder) OpN(op string, attrs graph.Attrs, nOut int, inputs ...string) []string {
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = b.Fresh(op)
	}
	n := &graph.Node{Name: b.Fresh(op + "_node"), Op: op, Inputs: inputs, Outputs: outs, Attrs: attrs, Meta: graph.Meta{Source: "keras"}}
	if b.Layer != nil {
		n.Meta.KerasLayer = b.Layer.Name()
		n.Meta.KerasClass = b.Layer.Class()
	}
	b.G.Nodes = append(b.G.Nodes, n)
	return outs
}

// Op appends a single-output node and returns its output name.
func (b *Builder) Op(op string, attrs graph.Attrs, inputs ...string) string {
	return b.OpN(op, attrs, 1, inputs...)[0]
}

// Param returns the graph value of a weight, adding it as a graph param
// named "<layer>/<weight>" the first time.
func (b *Builder) Param(w *Weight) string {
	if name, ok := b.params[w]; ok {
		return name
	}
	prefix := "kiln"
	if b.Layer != nil {
		prefix = b.Layer.Name()
	}
	name := prefix + "/" + w.Name
	for b.G.Param(name) != nil || b.hasInput(name) {
		b.seq++
		name = fmt.Sprintf("%s/%s_%d", prefix, w.Name, b.seq)
	}
	if b.WeightsAsInputs {
		b.G.Inputs = append(b.G.Inputs, &graph.Value{Name: name, Type: graph.TensorType(w.Value.DType(), w.Value.Shape()...)})
		b.params[w] = name
		return name
	}
	b.G.Params = append(b.G.Params, &graph.Param{Name: name, Tensor: w.Value, Trainable: w.Trainable})
	b.params[w] = name
	return name
}

func (b *Builder) hasInput(name string) bool {
	for _, v := range b.G.Inputs {
		if v.Name == name {
			return true
		}
	}
	return false
}

// Const adds a constant (a frozen param) and returns its name.
func (b *Builder) Const(t *tensor.Tensor) string {
	name := b.Fresh("const")
	b.G.Params = append(b.G.Params, &graph.Param{Name: name, Tensor: t})
	return name
}

// Ints adds a 1-D int64 constant.
func (b *Builder) Ints(v ...int64) string {
	return b.Const(tensor.FromInt64s(tensor.Shape{len(v)}, v))
}

// Scalar adds a float32 scalar constant.
func (b *Builder) Scalar(v float32) string {
	return b.Const(tensor.Scalar(v))
}
