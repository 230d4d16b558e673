package layer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// InputLayer is a model's entry point (keras.layers.InputLayer, the layer
// behind keras.Input). It has no weights; its output is the model input.
//
// Config fields by Keras version: the shape is "batch_input_shape" in Keras
// 1 and 2, "batch_shape" in Keras 3, and "input_shape" (no batch dimension)
// where a writer omitted the batch; the dtype is "input_dtype" in Keras 1
// and "dtype" later (a string, or a Keras 3 DTypePolicy object). Sparse and
// ragged inputs are refused with ErrUnsupported.
type InputLayer struct {
	Base
	// BatchShape is the input shape with the batch dimension first (-1
	// for None).
	BatchShape Shape
	// DType is the input's dtype ("float32" unless the config says).
	DType string
	// Sparse and Ragged are Keras's flags; kiln only accepts false.
	Sparse bool
	Ragged bool
}

func init() {
	Register("InputLayer", func() Layer { return &InputLayer{} })
}

// DecodeConfig reads the Keras 1, 2 or 3 InputLayer config.
func (l *InputLayer) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	var c struct {
		Name            string          `json:"name"`
		BatchInputShape json.RawMessage `json:"batch_input_shape"`
		BatchShape      json.RawMessage `json:"batch_shape"`
		InputShape      json.RawMessage `json:"input_shape"`
		Shape           json.RawMessage `json:"shape"`
		BatchSize       *int            `json:"batch_size"`
		DType           json.RawMessage `json:"dtype"`
		InputDType      json.RawMessage `json:"input_dtype"`
		Sparse          *bool           `json:"sparse"`
		Ragged          *bool           `json:"ragged"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("InputLayer config: %w", err)
	}
	l.LayerName = c.Name
	var err error
	switch {
	case isSet(c.BatchShape):
		l.BatchShape, err = DecodeShape(c.BatchShape)
	case isSet(c.BatchInputShape):
		l.BatchShape, err = DecodeShape(c.BatchInputShape)
	case isSet(c.InputShape) || isSet(c.Shape):
		src := c.InputShape
		if !isSet(src) {
			src = c.Shape
		}
		var s Shape
		s, err = DecodeShape(src)
		batch := -1
		if c.BatchSize != nil {
			batch = *c.BatchSize
		}
		l.BatchShape = append(Shape{batch}, s...)
	default:
		return fmt.Errorf("InputLayer %q has no batch_shape, batch_input_shape or input_shape; give the model an input shape before saving it", c.Name)
	}
	if err != nil {
		return fmt.Errorf("InputLayer %q: shape: %w", c.Name, err)
	}
	// The batch dimension is left free: Keras models run on any batch size
	// unless they are stateful.
	if len(l.BatchShape) > 0 {
		l.BatchShape[0] = -1
	}
	l.DType = "float32"
	for _, d := range []json.RawMessage{c.DType, c.InputDType} {
		if name := DecodeDTypeName(d); name != "" {
			l.DType = name
			break
		}
	}
	if d, ok := tensor.ParseDType(l.DType); !ok || !d.Supported() {
		return fmt.Errorf("InputLayer %q: field dtype %q is not a tensor type kiln can feed (want float16/32/64, bfloat16, int8..int64, uint8..uint64, bool or string): %w", c.Name, l.DType, ErrUnsupported)
	}
	if c.Sparse != nil && *c.Sparse {
		l.Sparse = true
		return fmt.Errorf("InputLayer %q: field sparse=true (a sparse input): %w; save the model with a dense input", c.Name, ErrUnsupported)
	}
	if c.Ragged != nil && *c.Ragged {
		l.Ragged = true
		return fmt.Errorf("InputLayer %q: field ragged=true (a ragged input): %w; save the model with a dense, padded input", c.Name, ErrUnsupported)
	}
	return nil
}

// Build returns the declared shape; an InputLayer takes no inputs.
func (l *InputLayer) Build(in []Shape) ([]Shape, error) {
	l.Built = true
	return []Shape{l.BatchShape.Clone()}, nil
}

// Lower passes its input through: the model feeds an InputLayer the graph
// input (or, inside a nested model, the outer tensor).
func (l *InputLayer) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("InputLayer %q: want the model input, got %d tensors", l.LayerName, len(in))
	}
	return in, nil
}

// TensorDType returns the input's dtype as a tensor.DType (float32 if the
// name is unknown).
func (l *InputLayer) TensorDType() tensor.DType {
	if d, ok := tensor.ParseDType(l.DType); ok {
		return d
	}
	return tensor.Float32
}

func isSet(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// DecodeShape reads a Keras shape: a JSON list of ints with null for an
// unknown dimension ([null, 28, 28, 1]). Null becomes -1.
func DecodeShape(raw json.RawMessage) (Shape, error) {
	var dims []*float64
	if err := json.Unmarshal(raw, &dims); err != nil {
		return nil, fmt.Errorf("want a list of ints and nulls, got %s", truncate(string(raw)))
	}
	s := make(Shape, len(dims))
	for i, d := range dims {
		switch {
		case d == nil:
			s[i] = -1
		case *d != float64(int(*d)) || *d < -1:
			return nil, fmt.Errorf("dimension %d is %v, want a non-negative int or null", i, *d)
		default:
			s[i] = int(*d)
		}
	}
	return s, nil
}

// DecodeDTypeName reads a Keras dtype field: a name ("float32"), a Keras 3
// DTypePolicy object ({"class_name": "DTypePolicy", "config": {"name":
// "mixed_float16"}}) or null. For a mixed policy it returns the variable
// dtype's compute side as Keras does ("mixed_float16" -> "float16"). It
// returns "" for null or an unreadable value.
func DecodeDTypeName(raw json.RawMessage) string {
	if !isSet(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var obj struct {
			Config struct {
				Name string `json:"name"`
			} `json:"config"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return ""
		}
		s = obj.Config.Name
	}
	return CanonicalDTypeName(s)
}

// dtypeAliases maps the dtype spellings Keras files carry besides the
// canonical numpy names to those names. TensorFlow's tf.as_dtype accepts
// "half", "float" and "double" (so tf.keras 2 wrote Input(dtype="float") as
// "float", meaning float32, unlike numpy where float is float64); Keras 3's
// standardize_dtype maps Python's float, int, bool and str to "float32",
// "int64" (TensorFlow backend; "int32" on the others, a difference that only
// changes the integer width of an index input), "bool" and "string"; and
// mixed-precision policies name the compute dtype after "mixed_".
var dtypeAliases = map[string]string{
	"float": "float32", "half": "float16", "double": "float64",
	"int": "int64", "long": "int64", "bool_": "bool", "boolean": "bool",
	"str": "string", "unicode": "string", "bytes": "string", "object": "string",
	"mixed_float16": "float16", "mixed_bfloat16": "bfloat16",
	"float64_ref": "float64",
}

// CanonicalDTypeName turns a Keras dtype spelling into kiln's name for it
// (tensor.DType.String): "float" -> "float32", "tf.int32" -> "int32",
// "float32_ref" (a TensorFlow 1 reference dtype) -> "float32",
// "<dtype: 'float32'>" -> "float32". Names it does not know are returned
// lower-cased, for tensor.ParseDType to accept or refuse.
func CanonicalDTypeName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "<dtype:") && strings.HasSuffix(s, ">") {
		s = strings.Trim(strings.TrimSpace(s[len("<dtype:"):len(s)-1]), "'\"")
	}
	for _, p := range []string{"tf.", "np.", "numpy.", "torch.", "jnp.", "jax.numpy."} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimSuffix(s, "_ref")
	if a, ok := dtypeAliases[s]; ok {
		return a
	}
	return s
}
