package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/train/layer"
)

// Dialect selects the JSON dialect of a Keras model config.
type Dialect int

const (
	// Keras2 is the dialect of Keras 2 and tf.keras 2.x: layers as
	// {"class_name", "config"}, functional calls as inbound_nodes
	// [[[layer, node, tensor, kwargs], ...]], InputLayer batch_input_shape.
	Keras2 Dialect = 2
	// Keras3 is the dialect of Keras 3 (.keras config.json and Keras 3's
	// legacy .h5): every object as {"module", "class_name", "config",
	// "registered_name"}, layers with build_config, calls as {"args",
	// "kwargs"} with __keras_tensor__ references, InputLayer batch_shape.
	Keras3 Dialect = 3
)

// ErrDialect is wrapped by KerasConfig errors for layers whose meaning
// differs between the Keras 2 and Keras 3 dialects.
var ErrDialect = errors.New("the layer means something else in the other Keras dialect")

// savedConfig is the config a model was decoded from: the model's own
// config object and each layer's entry, verbatim, so writing the model back
// in the same dialect keeps every field kiln does not interpret
// (initializers, regularizers, constraints, names, node structure).
type savedConfig struct {
	body    json.RawMessage
	version layer.Version
	entries map[string]json.RawMessage // by layer name
}

func dialectOf(v layer.Version) Dialect {
	if v.Major >= 3 {
		return Keras3
	}
	return Keras2
}

// NativeDialect is the dialect of the config the model was read from:
// Keras3 for files written by Keras 3, Keras2 for Keras 1 and 2 files.
// Models built in Go write Keras 3.
func (m *Model) NativeDialect() Dialect {
	if m.saved == nil {
		return Keras3
	}
	return dialectOf(m.saved.version)
}

// KerasConfig returns the model's config as Keras writes it in the
// model_config attribute of a legacy .h5 file (Keras2, or Keras3 as Keras
// 3's legacy saving does) and in config.json of a .keras archive (Keras3):
// {"class_name": "Sequential"|"Functional"|"Model", "config": {...}}, in
// Keras 3 with module, registered_name and build_config.
//
// Layers decoded from a file of the same dialect are written with the
// entry the file held (so fields kiln does not use survive a round trip),
// their name and trainable flag taken from the model. Other layers are
// written from their Go fields (json.Marshal of the layer) plus name,
// trainable and dtype. Between dialects the InputLayer shape field, the
// dtype policy and the call structure (inbound_nodes) are translated; other
// layer fields are passed on as they are, which Keras accepts for the
// initializer, regularizer and constraint objects of either dialect. It
// fails, naming the layer, when a layer's fields cannot be marshalled, and
// with ErrDialect when a layer decoded from one dialect uses hard_sigmoid
// (or Keras 1's inner_activation, whose default is hard_sigmoid) and is
// written in the other: Keras 2 and Keras 3 define that function
// differently.
func (m *Model) KerasConfig(d Dialect) ([]byte, error) {
	e, err := m.modelEntry(d)
	if err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

func (m *Model) modelEntry(d Dialect) (*jsonObj, error) {
	body, err := m.modelBody(d)
	if err != nil {
		return nil, err
	}
	class := m.ClassName
	switch {
	case m.sequential:
		class = "Sequential"
	case class == "" || (d == Keras3 && class == "Model"):
		class = "Functional"
	}
	e := &jsonObj{}
	if d == Keras3 {
		e.set("module", "keras")
		e.set("class_name", class)
		e.setRaw("config", body.raw())
		e.set("registered_name", nil)
		if in := m.InputShapes(); len(in) > 0 {
			e.set("build_config", buildConfig(in))
		}
		return e, nil
	}
	e.set("class_name", class)
	e.setRaw("config", body.raw())
	return e, nil
}

// modelBody is the "config" object of the model.
func (m *Model) modelBody(d Dialect) (*jsonObj, error) {
	body := &jsonObj{}
	sameDialect := m.saved != nil && dialectOf(m.saved.version) == d
	if m.saved != nil {
		if t := bytes.TrimSpace(m.saved.body); len(t) > 0 && t[0] == '{' {
			if o, err := parseObj(m.saved.body); err == nil {
				body = o
			}
		}
	}
	body.set("name", m.Name())
	if _, ok := body.get("trainable"); ok || d == Keras3 {
		body.set("trainable", m.Trainable())
	}
	if raw, ok := body.get("dtype"); ok && (!sameDialect || d == Keras2) {
		body.setRaw("dtype", dtypeFor(raw, d))
	}
	var entries []any
	for i, l := range m.layers {
		if m.sequential && i == 0 && m.implicitInput && d == Keras2 {
			continue
		}
		e, err := m.layerEntry(l, d)
		if err != nil {
			return nil, err
		}
		if m.sequential && m.implicitInput && d == Keras2 && i == 1 {
			// The first layer carries the model's input shape.
			cfg, _ := e.get("config")
			if c, err := parseObj(cfg); err == nil {
				_, a := c.get("batch_input_shape")
				_, b := c.get("input_shape")
				_, k1 := c.get("input_dim")
				if !a && !b && !k1 {
					c.set("batch_input_shape", shapeJSON(m.InputShapes()[0]))
					e.setRaw("config", c.raw())
				}
			}
		}
		entries = append(entries, e)
	}
	body.set("layers", entries)
	if m.sequential {
		if d == Keras3 {
			if _, ok := body.get("build_input_shape"); !ok && len(m.inputs) == 1 {
				body.set("build_input_shape", shapeJSON(m.InputShapes()[0]))
			}
		}
		return body, nil
	}
	body.set("input_layers", refsJSON(m.inputs))
	body.set("output_layers", refsJSON(m.outputs))
	return body, nil
}

func refsJSON(rs []TensorRef) []any {
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = []any{r.Layer, r.Node, r.Tensor}
	}
	return out
}

// buildConfig is Keras 3's build_config: the input shape, or the list of
// them for several inputs.
func buildConfig(in []layer.Shape) map[string]any {
	if len(in) == 1 {
		return map[string]any{"input_shape": shapeJSON(in[0])}
	}
	var ss []any
	for _, s := range in {
		ss = append(ss, shapeJSON(s))
	}
	return map[string]any{"input_shape": ss}
}

// shapeJSON writes a Keras shape with null for unknown dimensions.
func shapeJSON(s layer.Shape) []any {
	out := make([]any, len(s))
	for i, d := range s {
		if d >= 0 {
			out[i] = d
		}
	}
	return out
}

// dtypeFor writes a dtype in the dialect: Keras 2 a plain name, Keras 3 a
// name or a DTypePolicy object (either is accepted).
func dtypeFor(raw json.RawMessage, d Dialect) json.RawMessage {
	if d == Keras3 {
		return raw
	}
	var pol struct {
		Config struct {
			Name string `json:"name"`
		} `json:"config"`
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' && json.Unmarshal(raw, &pol) == nil && pol.Config.Name != "" {
		b, _ := json.Marshal(pol.Config.Name)
		if strings.HasPrefix(pol.Config.Name, "mixed_") {
			return raw
		}
		return b
	}
	return raw
}

// layerEntry writes one element of the model's "layers" list.
func (m *Model) layerEntry(l layer.Layer, d Dialect) (*jsonObj, error) {
	var raw json.RawMessage
	sameDialect := m.saved != nil && dialectOf(m.saved.version) == d
	if m.saved != nil {
		raw = m.saved.entries[l.Name()]
	}
	var rawCfg json.RawMessage
	var e *jsonObj
	if len(raw) > 0 {
		if o, err := parseObj(raw); err == nil {
			rawCfg, _ = o.get("config")
			if sameDialect {
				e = o
			}
		}
	}
	cfg, err := m.layerConfig(l, d, rawCfg)
	if err != nil {
		return nil, err
	}
	if e != nil {
		e.setRaw("config", cfg.raw())
		if _, ok := e.get("name"); ok {
			e.set("name", l.Name())
		}
		return e, nil
	}
	e = &jsonObj{}
	_, isInput := l.(*layer.InputLayer)
	sub, isModel := l.(*Model)
	class := l.Class()
	if isModel {
		me, err := sub.modelEntry(d)
		if err != nil {
			return nil, err
		}
		e = me
	} else if d == Keras3 {
		e.set("module", "keras.layers")
		e.set("class_name", class)
		e.setRaw("config", cfg.raw())
		e.set("registered_name", nil)
		if !isInput {
			if calls := m.calls[l.Name()]; len(calls) > 0 && len(calls[0].InShapes) > 0 {
				e.set("build_config", buildConfig(calls[0].InShapes))
			}
		}
	} else {
		e.set("class_name", class)
		e.setRaw("config", cfg.raw())
	}
	if !m.sequential {
		e.set("name", l.Name())
		nodes, err := m.inboundNodes(l, d)
		if err != nil {
			return nil, err
		}
		e.set("inbound_nodes", nodes)
	}
	return e, nil
}

// layerConfig writes a layer's "config" object.
func (m *Model) layerConfig(l layer.Layer, d Dialect, rawCfg json.RawMessage) (*jsonObj, error) {
	switch l := l.(type) {
	case *layer.InputLayer:
		c := &jsonObj{}
		key := "batch_input_shape"
		if d == Keras3 {
			key = "batch_shape"
		}
		c.set(key, shapeJSON(l.BatchShape))
		dt := l.DType
		if dt == "" {
			dt = "float32"
		}
		c.set("dtype", dt)
		c.set("sparse", false)
		if d == Keras2 {
			c.set("ragged", false)
		}
		c.set("name", l.Name())
		return c, nil
	case *Model:
		return l.modelBody(d)
	}
	if len(rawCfg) > 0 && m.saved != nil && dialectOf(m.saved.version) != d &&
		(bytes.Contains(rawCfg, []byte(`"hard_sigmoid"`)) || bytes.Contains(rawCfg, []byte(`"inner_activation"`))) {
		return nil, fmt.Errorf("train: layer %q (%s) uses hard_sigmoid, which Keras 1 and 2 define as clip(0.2x + 0.5, 0, 1) and Keras 3 as clip(x/6 + 0.5, 0, 1); the model cannot change dialect without changing its outputs, so save it in the dialect it was read in (a Keras 2 .h5): %w", l.Name(), l.Class(), ErrDialect)
	}
	var c *jsonObj
	if len(rawCfg) > 0 {
		if t := bytes.TrimSpace(rawCfg); len(t) > 0 && t[0] == '{' {
			o, err := parseObj(rawCfg)
			if err != nil {
				return nil, fmt.Errorf("train: layer %q (%s): stored config: %w", l.Name(), l.Class(), err)
			}
			c = o
		}
	}
	if c == nil {
		b, err := json.Marshal(l)
		if err != nil {
			return nil, fmt.Errorf("train: layer %q (%s): its config cannot be written: %w", l.Name(), l.Class(), err)
		}
		if c, err = parseObj(b); err != nil {
			return nil, fmt.Errorf("train: layer %q (%s): its config cannot be written: %w", l.Name(), l.Class(), err)
		}
		if _, ok := c.get("dtype"); !ok {
			c.set("dtype", "float32")
		}
	}
	c.set("name", l.Name())
	base := layer.BaseOf(l)
	c.set("trainable", base.Trainable())
	// Regularizers live outside the layers' Go fields (and may have been
	// set in Go since the config was read).
	for _, k := range sortedKeys(base.Regularizers) {
		c.setRaw(k, base.Regularizers[k])
	}
	if _, own := l.(*layer.ActivityRegularization); !own && len(base.Activity) > 0 {
		c.setRaw("activity_regularizer", base.Activity)
	}
	if raw, ok := c.get("dtype"); ok {
		c.setRaw("dtype", dtypeFor(raw, d))
	}
	return c, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mergeClasses take their inputs as one list argument.
var mergeClasses = map[string]bool{
	"Add": true, "Subtract": true, "Multiply": true, "Average": true, "Maximum": true,
	"Minimum": true, "Concatenate": true, "Dot": true,
}

// inboundNodes writes a layer's calls in the dialect.
func (m *Model) inboundNodes(l layer.Layer, d Dialect) ([]any, error) {
	var out []any
	for _, c := range m.calls[l.Name()] {
		if _, ok := l.(*layer.InputLayer); ok {
			continue
		}
		nargs := c.Info.NArgs
		if nargs == 0 && len(c.Info.TensorKwargs) == 0 {
			nargs = len(c.Args)
		}
		if nargs > len(c.Args) {
			nargs = len(c.Args)
		}
		ref := func(r TensorRef) any {
			if d == Keras2 {
				return []any{r.Layer, r.Node, r.Tensor}
			}
			return m.kerasTensor(r)
		}
		kwargs := &jsonObj{}
		for k, v := range c.Info.Kwargs {
			kwargs.setRaw(k, v)
		}
		for k, idx := range c.Info.TensorKwargs {
			var ts []any
			for _, i := range idx {
				if i < len(c.Args) {
					ts = append(ts, ref(c.Args[i]))
				}
			}
			if len(ts) == 1 && k != "initial_state" {
				kwargs.set(k, ts[0])
			} else {
				kwargs.set(k, ts)
			}
		}
		if c.Mask != nil {
			kwargs.set("mask", ref(*c.Mask))
		}
		kwargs.sortKeys()
		if d == Keras2 {
			var node []any
			for _, r := range c.Args[:nargs] {
				node = append(node, []any{r.Layer, r.Node, r.Tensor, kwargs})
			}
			out = append(out, node)
			continue
		}
		var args []any
		if mergeClasses[l.Class()] && nargs > 1 {
			var list []any
			for _, r := range c.Args[:nargs] {
				list = append(list, ref(r))
			}
			args = []any{list}
		} else {
			for _, r := range c.Args[:nargs] {
				args = append(args, ref(r))
			}
			for i := 0; i < nargs+len(c.Info.Consts); i++ {
				if v, ok := c.Info.Consts[i]; ok && i <= len(args) {
					args = append(args[:i], append([]any{v}, args[i:]...)...)
				}
			}
		}
		out = append(out, map[string]any{"args": args, "kwargs": kwargs})
	}
	return out, nil
}

// kerasTensor writes a Keras 3 tensor reference with its shape.
func (m *Model) kerasTensor(r TensorRef) any {
	var shape []any
	if calls := m.calls[r.Layer]; r.Node < len(calls) && r.Tensor < len(calls[r.Node].OutShapes) {
		shape = shapeJSON(calls[r.Node].OutShapes[r.Tensor])
	}
	dtype := "float32"
	if in, ok := m.byName[r.Layer].(*layer.InputLayer); ok && in.DType != "" {
		dtype = in.DType
	}
	return map[string]any{
		"class_name": "__keras_tensor__",
		"config": map[string]any{
			"shape":         shape,
			"dtype":         dtype,
			"keras_history": []any{r.Layer, r.Node, r.Tensor},
		},
	}
}

// jsonObj is a JSON object that keeps its key order.
type jsonObj struct {
	keys []string
	vals map[string]json.RawMessage
}

func parseObj(raw json.RawMessage) (*jsonObj, error) {
	keys, vals, err := orderedKV(raw)
	if err != nil {
		return nil, err
	}
	o := &jsonObj{}
	for i, k := range keys {
		o.setRaw(k, vals[i])
	}
	return o, nil
}

func (o *jsonObj) get(k string) (json.RawMessage, bool) {
	v, ok := o.vals[k]
	return v, ok
}

func (o *jsonObj) setRaw(k string, v json.RawMessage) {
	if o.vals == nil {
		o.vals = map[string]json.RawMessage{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = append(json.RawMessage(nil), v...)
}

func (o *jsonObj) set(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	o.setRaw(k, b)
}

func (o *jsonObj) sortKeys() { sortStrings(o.keys) }

func (o *jsonObj) raw() json.RawMessage {
	b, _ := o.MarshalJSON()
	return b
}

// MarshalJSON writes the keys in order.
func (o *jsonObj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteString(", ")
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteString(": ")
		buf.Write(o.vals[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
