// Package layer is kiln's Keras layer catalog. Each Keras layer class is
// defined once here: its config (JSON field names exactly as Keras writes
// them), its weights (names and order as Keras saves them), how it lowers to
// graph nodes, and (later) how it is lifted back from them. Importers and the
// Go training API build models from these same layers.
//
// A user can add a layer kiln does not know with Register.
package layer

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// ErrUnsupported marks a layer class or config kiln cannot run.
var ErrUnsupported = errors.New("unsupported")

// Shape is a Keras tensor shape, batch dimension first; -1 stands for None.
type Shape []int

// String renders the shape as Keras does: (None, 28, 28, 1).
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "None"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Clone copies the shape.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Weight is one variable of a layer.
type Weight struct {
	// Name is the Keras variable name without scope or ":0" ("kernel",
	// "bias", "moving_mean", "recurrent_kernel", ...).
	Name string
	// Shape is the Keras shape of the variable.
	Shape []int
	// Value holds the data once built or loaded (float32 unless the layer
	// says otherwise).
	Value *tensor.Tensor
	// Trainable is false for state such as BatchNormalization's moving
	// statistics.
	Trainable bool
	// Path locates the variable inside a Keras 3 .keras weights file,
	// relative to the layer's group ("vars/0", "forward_layer/cell/vars/1").
	// Empty means "vars/<index among the layer's own weights>".
	Path string
}

// Base holds what every layer has. Layers embed it.
type Base struct {
	LayerName  string `json:"name"`
	Trainable_ *bool  `json:"trainable,omitempty"`
	// ClassName is the Keras class this layer was decoded as.
	ClassName string `json:"-"`
	// W lists the layer's weights in Keras's saving order (set by Build).
	W []*Weight `json:"-"`
	// Built is set once Build has created the weights.
	Built bool `json:"-"`
	// Regularizers holds the layer's non-null weight regularizer configs
	// by config key ("kernel_regularizer", "bias_regularizer",
	// "recurrent_regularizer", ...), as Keras serialises them; training
	// adds their penalties to the loss.
	Regularizers map[string]json.RawMessage `json:"-"`
	// Activity is the layer's activity_regularizer config, when not null:
	// training adds its penalty on each of the layer's outputs to the loss
	// (Keras 3: as is; Keras 1 and 2: divided by the batch size).
	Activity json.RawMessage `json:"-"`
}

// RegularizerKey is the config key of the regularizer of a weight named
// name: "kernel" -> "kernel_regularizer", "recurrent_kernel" ->
// "recurrent_regularizer", "embeddings" -> "embeddings_regularizer",
// "depthwise_kernel" -> "depthwise_regularizer".
func RegularizerKey(name string) string {
	switch name {
	case "recurrent_kernel":
		return "recurrent_regularizer"
	case "depthwise_kernel":
		return "depthwise_regularizer"
	case "pointwise_kernel":
		return "pointwise_regularizer"
	}
	return name + "_regularizer"
}

// Name returns the layer name.
func (b *Base) Name() string { return b.LayerName }

// SetName renames the layer (before it joins a model).
func (b *Base) SetName(name string) { b.LayerName = name }

// Class returns the Keras class name.
func (b *Base) Class() string { return b.ClassName }

// Weights returns the weights in Keras's order.
func (b *Base) Weights() []*Weight { return b.W }

// Trainable reports whether the layer's weights are updated by training.
func (b *Base) Trainable() bool { return b.Trainable_ == nil || *b.Trainable_ }

// SetTrainable freezes (false) or unfreezes (true) the layer.
func (b *Base) SetTrainable(t bool) { b.Trainable_ = &t }

// MaxWeightElements bounds the element count of one weight that AddWeight
// will allocate (2^31 float32 values are 8 GiB, beyond any Keras layer's
// single variable). A config asking for more is damaged or hostile.
var MaxWeightElements = 1 << 31

// WeightSizeError is the panic value of AddWeight for a shape with a
// negative dimension or more than MaxWeightElements elements. Models
// (train.Model) recover it and return it as an error naming the layer.
type WeightSizeError struct {
	Layer, Weight string
	Shape         []int
}

func (e *WeightSizeError) Error() string {
	return fmt.Sprintf("layer %q: weight %s has shape %v, which is negative or larger than %d elements; the config is damaged", e.Layer, e.Weight, e.Shape, MaxWeightElements)
}

// AddWeight appends a zero-filled float32 weight and returns it. Like make
// with a bad length, it panics (with a *WeightSizeError) when a dimension
// is negative or the weight would exceed MaxWeightElements.
func (b *Base) AddWeight(name string, shape []int, trainable bool) *Weight {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > MaxWeightElements/d) {
			panic(&WeightSizeError{Layer: b.LayerName, Weight: name, Shape: append([]int(nil), shape...)})
		}
		n *= d
	}
	w := &Weight{Name: name, Shape: append([]int(nil), shape...), Value: tensor.New(tensor.Float32, shape...), Trainable: trainable}
	b.W = append(b.W, w)
	return w
}

// base is implemented by every type embedding Base.
func (b *Base) base() *Base { return b }

// Layer is a Keras layer.
type Layer interface {
	// Name is the layer's name in the model.
	Name() string
	// Class is the Keras class name ("Dense").
	Class() string
	// Weights lists the layer's weights in Keras's saving order; empty
	// before Build.
	Weights() []*Weight
	// Build creates the weights (once) for the given input shapes and
	// returns the output shapes. Calling it again with the same input
	// shapes (a shared layer) returns the output shapes without new weights.
	Build(in []Shape) ([]Shape, error)
	// Lower appends graph nodes that compute the layer's outputs from its
	// inputs. It is called after Build.
	Lower(b *Builder, in []Tensor) ([]Tensor, error)
	base() *Base
}

// BaseOf returns the embedded Base of a layer.
func BaseOf(l Layer) *Base { return l.base() }

// ConfigDecoder is implemented by layers whose config needs more than
// json.Unmarshal into the struct (Keras version differences, nested layers).
type ConfigDecoder interface {
	DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error
}

// Version identifies the Keras that wrote a file.
type Version struct {
	Major, Minor int
	// Backend is "tensorflow", "theano", "jax", ... ("" if unknown).
	Backend string
}

// DecodeContext is passed to config decoders.
type DecodeContext struct {
	Version Version
	// Layer decodes a nested layer config ({"class_name": ..., "config": ...}),
	// for wrappers such as Bidirectional and TimeDistributed.
	Layer func(raw json.RawMessage) (Layer, error)
}

// Factory makes an empty layer of one class.
type Factory func() Layer

var (
	regMu     sync.RWMutex
	factories = map[string]Factory{}
	rejected  = map[string]string{}
)

// Register makes a layer class known to kiln under its Keras class name (and
// any aliases, such as Keras 1 names). Users call it to supply their own
// layers; it replaces an earlier registration of the same name.
func Register(class string, f Factory, aliases ...string) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, c := range append([]string{class}, aliases...) {
		factories[c] = f
		delete(rejected, c)
	}
}

// Reject declares a class kiln will not run, with advice for the user
// (Lambda: "the layer holds Python code ...").
func Reject(class, advice string) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, ok := factories[class]; !ok {
		rejected[class] = advice
	}
}

// Classes lists the registered class names.
func Classes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var out []string
	for c := range factories {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Config holds a layer's Keras constructor arguments by their Keras names
// ({"units": 10, "activation": "softmax"}).
type Config map[string]any

// Make returns a Keras 3 layer of the given class configured as Keras's
// constructor would be with the arguments in cfg; omitted arguments take
// Keras's defaults, and a layer without "name" is named when it joins a
// model. It is New for code: layer.Make("Dense", layer.Config{"units": 10}).
func Make(class string, cfg Config) (Layer, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("layer class %s: config: %w", class, err)
	}
	if cfg == nil {
		raw = []byte("{}")
	}
	return New(class, raw, &DecodeContext{Version: Version{Major: 3}})
}

// MustMake is Make that panics on error, for layer literals in code.
func MustMake(class string, cfg Config) Layer {
	l, err := Make(class, cfg)
	if err != nil {
		panic(err)
	}
	return l
}

// New decodes one layer of the given class from its Keras config.
func New(class string, config json.RawMessage, ctx *DecodeContext) (Layer, error) {
	regMu.RLock()
	f, ok := factories[class]
	advice, isRejected := rejected[class]
	regMu.RUnlock()
	if !ok {
		if isRejected {
			return nil, fmt.Errorf("layer class %s: %s: %w", class, advice, ErrUnsupported)
		}
		return nil, fmt.Errorf("layer class %s is not a built-in Keras layer kiln knows (a custom layer?); register a Go implementation with layer.Register(%q, ...) or replace it in the model: %w", class, class, ErrUnsupported)
	}
	l := f()
	if d, ok := l.(ConfigDecoder); ok {
		if err := d.DecodeConfig(config, ctx); err != nil {
			return nil, fmt.Errorf("layer class %s: config: %w", class, err)
		}
	} else if len(config) > 0 {
		if err := json.Unmarshal(config, l); err != nil {
			return nil, fmt.Errorf("layer class %s: config: %w", class, err)
		}
	}
	l.base().ClassName = class
	var keys map[string]json.RawMessage
	if len(config) > 0 && json.Unmarshal(config, &keys) == nil {
		for k, v := range keys {
			if k == "activity_regularizer" && string(v) != "null" {
				l.base().Activity = v
				continue
			}
			if strings.HasSuffix(k, "_regularizer") && string(v) != "null" {
				if l.base().Regularizers == nil {
					l.base().Regularizers = map[string]json.RawMessage{}
				}
				l.base().Regularizers[k] = v
			}
		}
	}
	return l, nil
}
