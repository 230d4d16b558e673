package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/train/layer"
)

// modelClasses are the Keras model classes FromKerasConfig decodes itself.
// "Model" is the Keras 1 and 2 functional class name, "Functional" the
// tf.keras 2.4+ and Keras 3 one.
var modelClasses = map[string]bool{"Sequential": true, "Model": true, "Functional": true}

func init() {
	for c := range modelClasses {
		class := c
		layer.Register(class, func() layer.Layer { return &Model{} })
	}
}

// FromKerasConfig builds a model from a Keras model_config JSON: the
// "model_config" attribute of a legacy .h5 file, the config.json of a .keras
// archive, or the output of model.to_json(). It accepts the Keras 1, 2 and 3
// dialects:
//
//   - Sequential whose config is a list of layers (Keras 1, Keras 2.0-2.2.2)
//     or {"name", "layers"} (later), the first layer carrying
//     batch_input_shape, or an explicit InputLayer (batch_shape in Keras 3);
//   - functional models ("Model", "Functional") whose layers list their
//     calls in inbound_nodes, as [[name, node, tensor, kwargs], ...] (Keras
//     1 and 2) or as {"args": [...], "kwargs": {...}} with __keras_tensor__
//     references (Keras 3), with input_layers and output_layers;
//   - nested models, shared layers and multiple inputs and outputs.
//
// v is the Keras version that wrote the file; when v.Major is 0 the
// "keras_version" and "backend" fields of the JSON are used, if present,
// and a config with Keras 3 fields (module, build_config,
// __keras_tensor__) is taken as Keras 3.
// Each layer is decoded by layer.New; an error names the layer, its class
// and what the user can do, and wraps layer.ErrUnsupported when kiln cannot
// run the layer. The model is built (weights created, zero-filled, with
// Keras's shapes) before it is returned.
func FromKerasConfig(modelConfig []byte, v layer.Version) (*Model, error) {
	var top struct {
		ClassName    string          `json:"class_name"`
		Config       json.RawMessage `json:"config"`
		KerasVersion string          `json:"keras_version"`
		Backend      string          `json:"backend"`
		Registered   *string         `json:"registered_name"`
		Module       *string         `json:"module"`
	}
	if err := json.Unmarshal(modelConfig, &top); err != nil {
		return nil, fmt.Errorf("train: model config is not a Keras model JSON object: %w", err)
	}
	if v.Major == 0 && top.KerasVersion != "" {
		v = ParseKerasVersion(top.KerasVersion, top.Backend)
	}
	if v.Major == 0 && (top.Module != nil || bytes.Contains(top.Config, []byte(`"__keras_tensor__"`)) || bytes.Contains(top.Config, []byte(`"build_config"`))) {
		// No version given, but only Keras 3 writes these fields.
		v.Major = 3
	}
	if v.Backend == "" && top.Backend != "" {
		v.Backend = top.Backend
	}
	if top.ClassName == "" {
		return nil, errors.New("train: model config has no class_name; want a Keras model JSON such as {\"class_name\": \"Sequential\", \"config\": ...}")
	}
	if !modelClasses[top.ClassName] {
		msg := fmt.Sprintf("train: model class %s is not Sequential or Functional", top.ClassName)
		if top.Registered != nil && *top.Registered != "" {
			msg += fmt.Sprintf(" (registered as %q)", *top.Registered)
		}
		return nil, fmt.Errorf("%s: it is a subclassed model defined by Python code that the file does not contain; rebuild it in Python as a Functional or Sequential model and save that: %w", msg, layer.ErrUnsupported)
	}
	m := &Model{}
	ctx := newDecodeContext(v)
	if err := m.decode(top.ClassName, top.Config, ctx); err != nil {
		return nil, err
	}
	if _, err := m.Build(nil); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseKerasVersion reads a keras_version string ("2.2.4-tf", "3.8.0",
// "1.2.2") and a backend name into a layer.Version.
func ParseKerasVersion(s, backend string) layer.Version {
	v := layer.Version{Backend: backend}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' })
	if len(parts) > 0 {
		v.Major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) > 1 {
		v.Minor, _ = strconv.Atoi(parts[1])
	}
	return v
}

func newDecodeContext(v layer.Version) *layer.DecodeContext {
	ctx := &layer.DecodeContext{Version: v}
	ctx.Layer = func(raw json.RawMessage) (layer.Layer, error) {
		var e layerEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("nested layer: want {\"class_name\": ..., \"config\": ...}: %w", err)
		}
		return decodeLayer(&e, ctx)
	}
	return ctx
}

// layerEntry is one element of a model's "layers" list.
type layerEntry struct {
	ClassName    string          `json:"class_name"`
	Name         string          `json:"name"`
	Config       json.RawMessage `json:"config"`
	InboundNodes json.RawMessage `json:"inbound_nodes"`
	Module       *string         `json:"module"`
	Registered   *string         `json:"registered_name"`
	BuildConfig  json.RawMessage `json:"build_config"`
}

// configName reads "name" from a layer config.
func configName(raw json.RawMessage) string {
	var c struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Name
}

// decodeLayer makes a layer from a {"class_name", "config"} entry.
func decodeLayer(e *layerEntry, ctx *layer.DecodeContext) (layer.Layer, error) {
	name := e.Name
	if name == "" {
		name = configName(e.Config)
	}
	if e.ClassName == "" {
		return nil, fmt.Errorf("train: layer %q has no class_name", name)
	}
	class := e.ClassName
	var err error
	var l layer.Layer
	if e.Module != nil {
		if oc := layer.OpClass(*e.Module, e.ClassName); oc != "" {
			class = oc
			if !layer.Registered(oc) {
				err = fmt.Errorf("Keras 3 op %s: %s: %w", e.ClassName, layer.OpAdvice, layer.ErrUnsupported)
			}
		}
	}
	if err == nil {
		l, err = newLayer(class, e.Config, ctx)
	}
	if err != nil {
		what := fmt.Sprintf("layer %q (%s", name, e.ClassName)
		if e.Registered != nil && *e.Registered != "" && *e.Registered != e.ClassName {
			what += ", registered as " + strconv.Quote(*e.Registered)
		}
		if e.Module != nil && *e.Module != "" {
			what += ", module " + *e.Module
		}
		what += ")"
		var me *modelError
		if errors.As(err, &me) {
			// A nested model already named the inner layer.
			return nil, fmt.Errorf("in %s: %w", what, err)
		}
		return nil, &modelError{fmt.Errorf("train: %s: %w", what, err)}
	}
	b := layer.BaseOf(l)
	b.ClassName = e.ClassName
	if name != "" {
		b.LayerName = name
	}
	if b.LayerName == "" {
		return nil, fmt.Errorf("train: a %s layer has no name", e.ClassName)
	}
	return l, nil
}

// newLayer is layer.New with a layer's panic turned into an error.
func newLayer(class string, config json.RawMessage, ctx *layer.DecodeContext) (l layer.Layer, err error) {
	defer func() {
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("decoding the config panicked (a bug in the layer's Go implementation): %v", r)
		}
	}()
	return layer.New(class, config, ctx)
}

// modelError marks an error that already names the failing layer.
type modelError struct{ err error }

func (e *modelError) Error() string { return e.err.Error() }
func (e *modelError) Unwrap() error { return e.err }

// TensorRef names a tensor produced by a layer call, as Keras does:
// (layer name, node index, tensor index). Node is the index of the call
// among the layer's calls in this model; Tensor the index of the output.
type TensorRef struct {
	Layer  string
	Node   int
	Tensor int
}

func (r TensorRef) String() string { return fmt.Sprintf("%s[%d][%d]", r.Layer, r.Node, r.Tensor) }

// decode reads the config of a Sequential or functional model.
func (m *Model) decode(class string, raw json.RawMessage, ctx *layer.DecodeContext) error {
	m.ClassName = class
	m.version = ctx.Version
	m.saved = &savedConfig{body: raw, version: ctx.Version, entries: map[string]json.RawMessage{}}
	m.byName = map[string]layer.Layer{}
	m.calls = map[string][]*Call{}
	if class == "Sequential" {
		return m.decodeSequential(raw, ctx)
	}
	return m.decodeFunctional(raw, ctx)
}

// DecodeConfig lets a model be a layer of another model (nested
// Sequential or Functional).
func (m *Model) DecodeConfig(raw json.RawMessage, ctx *layer.DecodeContext) error {
	class := "Functional"
	var probe struct {
		Layers json.RawMessage `json:"layers"`
		Inputs json.RawMessage `json:"input_layers"`
	}
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		class = "Sequential"
	} else if err := json.Unmarshal(raw, &probe); err == nil && !isSet(probe.Inputs) {
		class = "Sequential"
	}
	return m.decode(class, raw, ctx)
}

func isSet(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

func (m *Model) addLayer(l layer.Layer) error {
	name := l.Name()
	if _, dup := m.byName[name]; dup {
		return fmt.Errorf("train: model %q has two layers named %q; Keras layer names are unique within a model, so the config is damaged", m.Name(), name)
	}
	m.byName[name] = l
	m.layers = append(m.layers, l)
	return nil
}

func (m *Model) decodeSequential(raw json.RawMessage, ctx *layer.DecodeContext) error {
	var c struct {
		Name            string            `json:"name"`
		Layers          []json.RawMessage `json:"layers"`
		BuildInputShape json.RawMessage   `json:"build_input_shape"`
		Trainable       *bool             `json:"trainable"`
	}
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &c.Layers); err != nil {
			return fmt.Errorf("train: Sequential config: %w", err)
		}
	} else if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("train: Sequential config: %w", err)
	}
	m.LayerName = c.Name
	if m.LayerName == "" {
		m.LayerName = "sequential"
	}
	m.Trainable_ = c.Trainable
	m.sequential = true
	if len(c.Layers) == 0 {
		return fmt.Errorf("train: Sequential model %q has no layers", m.LayerName)
	}
	var entries []*layerEntry
	for i, lr := range c.Layers {
		e := &layerEntry{}
		if err := json.Unmarshal(lr, e); err != nil {
			return fmt.Errorf("train: Sequential model %q: layer %d: %w", m.LayerName, i, err)
		}
		entries = append(entries, e)
	}
	var decoded []layer.Layer
	for i, e := range entries {
		l, err := decodeLayer(e, ctx)
		if err != nil {
			return err
		}
		decoded = append(decoded, l)
		m.saved.entries[l.Name()] = c.Layers[i]
	}
	var prev *Call
	if _, ok := decoded[0].(*layer.InputLayer); !ok {
		// Keras makes an InputLayer named "<first layer>_input" from the
		// first layer's batch_input_shape (or the model's build shape); a
		// nested model as first layer lends its own input.
		first := entries[0]
		name := decoded[0].Name() + "_input"
		var shape layer.Shape
		dtype := "float32"
		var err error
		if sub, ok := decoded[0].(*Model); ok && len(sub.inputs) == 1 {
			name = sub.inputs[0].Layer
			shape = sub.InputShapes()[0]
			dtype = sub.byName[name].(*layer.InputLayer).DType
		} else {
			shape, dtype, err = sequentialInputShape(first, c.BuildInputShape)
		}
		if err != nil {
			return fmt.Errorf("train: Sequential model %q: first layer %q (%s): %w", m.LayerName, decoded[0].Name(), first.ClassName, err)
		}
		in := &layer.InputLayer{BatchShape: shape, DType: dtype}
		in.LayerName = name
		in.ClassName = "InputLayer"
		if err := m.addLayer(in); err != nil {
			return err
		}
		prev = m.addCall(in, nil)
		m.implicitInput = true
	}
	for _, l := range decoded {
		if err := m.addLayer(l); err != nil {
			return err
		}
		var args []TensorRef
		if prev != nil {
			args = []TensorRef{{Layer: prev.Layer.Name(), Node: prev.Index}}
		}
		c := m.addCall(l, args)
		c.Info.NArgs = len(args)
		prev = c
	}
	first := m.calls[m.layers[0].Name()][0]
	m.inputs = []TensorRef{{Layer: first.Layer.Name()}}
	m.outputs = []TensorRef{{Layer: prev.Layer.Name(), Node: prev.Index}}
	return nil
}

// sequentialInputShape finds the input shape of a Sequential model that
// has no InputLayer: the first layer's batch_input_shape (or batch_shape,
// input_shape, Keras 1's input_dim/input_length), else the model's
// build_input_shape, else the first layer's Keras 3 build_config.
func sequentialInputShape(first *layerEntry, buildShape json.RawMessage) (layer.Shape, string, error) {
	var c struct {
		BatchInputShape json.RawMessage `json:"batch_input_shape"`
		BatchShape      json.RawMessage `json:"batch_shape"`
		InputShape      json.RawMessage `json:"input_shape"`
		InputDim        *int            `json:"input_dim"`
		InputLength     *int            `json:"input_length"`
		DType           json.RawMessage `json:"dtype"`
		InputDType      json.RawMessage `json:"input_dtype"`
	}
	_ = json.Unmarshal(first.Config, &c)
	dtype := "float32"
	// Keras 1 wrote the input dtype as input_dtype; Keras 2 uses the
	// first layer's dtype for the implicit InputLayer.
	for _, d := range []json.RawMessage{c.InputDType, c.DType} {
		if n := layer.DecodeDTypeName(d); n != "" {
			dtype = n
			break
		}
	}
	var s layer.Shape
	var err error
	switch {
	case isSet(c.BatchInputShape):
		s, err = layer.DecodeShape(c.BatchInputShape)
	case isSet(c.BatchShape):
		s, err = layer.DecodeShape(c.BatchShape)
	case isSet(c.InputShape):
		s, err = layer.DecodeShape(c.InputShape)
		s = append(layer.Shape{-1}, s...)
	case isSet(buildShape):
		s, err = layer.DecodeShape(buildShape)
	case isSet(first.BuildConfig):
		var bc struct {
			InputShape json.RawMessage `json:"input_shape"`
		}
		if err := json.Unmarshal(first.BuildConfig, &bc); err == nil && isSet(bc.InputShape) {
			s, err = layer.DecodeShape(bc.InputShape)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("input shape: %w", err)
	}
	if s == nil {
		return nil, "", errors.New("the model declares no input shape (no InputLayer, batch_input_shape or build_input_shape); save it after building it, or add an Input layer")
	}
	if len(s) > 0 {
		s[0] = -1
	}
	return s, dtype, nil
}

func (m *Model) addCall(l layer.Layer, args []TensorRef) *Call {
	c := &Call{Layer: l, Index: len(m.calls[l.Name()]), Args: args}
	c.Info.Node = c.Index
	c.Connected = args
	m.calls[l.Name()] = append(m.calls[l.Name()], c)
	m.callList = append(m.callList, c)
	return c
}

func (m *Model) decodeFunctional(raw json.RawMessage, ctx *layer.DecodeContext) error {
	var c struct {
		Name         string          `json:"name"`
		Layers       []layerEntry    `json:"layers"`
		InputLayers  json.RawMessage `json:"input_layers"`
		OutputLayers json.RawMessage `json:"output_layers"`
		Trainable    *bool           `json:"trainable"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("train: functional model config: %w", err)
	}
	m.LayerName = c.Name
	if m.LayerName == "" {
		m.LayerName = "model"
	}
	m.Trainable_ = c.Trainable
	var rawLayers struct {
		Layers []json.RawMessage `json:"layers"`
	}
	_ = json.Unmarshal(raw, &rawLayers)
	// Decode every layer first: a node may refer to a layer listed later.
	for i := range c.Layers {
		l, err := decodeLayer(&c.Layers[i], ctx)
		if err != nil {
			return err
		}
		if i < len(rawLayers.Layers) {
			m.saved.entries[l.Name()] = rawLayers.Layers[i]
		}
		if err := m.addLayer(l); err != nil {
			return err
		}
	}
	for i := range c.Layers {
		e := &c.Layers[i]
		l := m.layers[i]
		if _, ok := l.(*layer.InputLayer); ok {
			m.addCall(l, nil)
			continue
		}
		nodes, err := parseInboundNodes(e.InboundNodes)
		if err != nil {
			return fmt.Errorf("train: model %q: layer %q (%s): inbound_nodes: %w", m.LayerName, l.Name(), l.Class(), err)
		}
		for _, n := range nodes {
			call := m.addCall(l, n.args)
			call.Info = n.info
			call.Info.Node = call.Index
			call.Masks = n.masks
			if len(n.masks) > 0 {
				call.Mask = n.masks[0]
			}
			call.Connected = n.connected
		}
	}
	var err error
	if m.inputs, err = parseRefList(c.InputLayers); err != nil {
		return fmt.Errorf("train: model %q: input_layers: %w", m.LayerName, err)
	}
	if m.outputs, err = parseRefList(c.OutputLayers); err != nil {
		return fmt.Errorf("train: model %q: output_layers: %w", m.LayerName, err)
	}
	if len(m.inputs) == 0 || len(m.outputs) == 0 {
		return fmt.Errorf("train: model %q lists no input_layers or output_layers", m.LayerName)
	}
	// Check every reference now, so later stages can trust them.
	check := func(r TensorRef, what string) error {
		calls, ok := m.calls[r.Layer]
		if !ok {
			return fmt.Errorf("train: model %q: %s refers to layer %q, which is not in the model", m.LayerName, what, r.Layer)
		}
		if r.Node < 0 || r.Node >= len(calls) {
			return fmt.Errorf("train: model %q: %s refers to call %d of layer %q, which has %d calls", m.LayerName, what, r.Node, r.Layer, len(calls))
		}
		return nil
	}
	for _, r := range m.inputs {
		if err := check(r, "input_layers"); err != nil {
			return err
		}
		if _, ok := m.byName[r.Layer].(*layer.InputLayer); !ok {
			return fmt.Errorf("train: model %q: input %q is a %s, not an InputLayer; kiln needs models whose inputs are Input layers: %w", m.LayerName, r.Layer, m.byName[r.Layer].Class(), layer.ErrUnsupported)
		}
	}
	for _, r := range m.outputs {
		if err := check(r, "output_layers"); err != nil {
			return err
		}
	}
	for _, call := range m.callList {
		for _, r := range append(append([]TensorRef(nil), call.Args...), maskRefs(call)...) {
			if err := check(r, fmt.Sprintf("layer %q (%s)", call.Layer.Name(), call.Layer.Class())); err != nil {
				return err
			}
		}
	}
	return nil
}

// maskRefs lists the mask tensors a call reads.
func maskRefs(c *Call) []TensorRef {
	var out []TensorRef
	for _, m := range c.Masks {
		if m != nil {
			out = append(out, *m)
		}
	}
	if len(c.Masks) == 0 && c.Mask != nil {
		out = append(out, *c.Mask)
	}
	return out
}

// maskList reads a call's mask keyword: one tensor (the first input's
// mask) or a list with a tensor or null per positional input.
func maskList(raw json.RawMessage, isTensor func(json.RawMessage) (TensorRef, bool)) ([]*TensorRef, error) {
	if r, ok := isTensor(raw); ok {
		return []*TensorRef{&r}, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("kwargs: mask: want a tensor or a list of tensors and nulls, got %s: %w", short(raw), layer.ErrUnsupported)
	}
	out := make([]*TensorRef, len(list))
	for i, e := range list {
		if !isSet(e) {
			continue
		}
		r, ok := isTensor(e)
		if !ok {
			return nil, fmt.Errorf("kwargs: mask: entry %d is %s, not a tensor or null: %w", i, short(e), layer.ErrUnsupported)
		}
		out[i] = &r
	}
	return out, nil
}

// parseRefList reads input_layers/output_layers: a list of [name, node,
// tensor] triples, a single triple, a nested list, or (Keras 3 dict
// inputs) an object whose values are triples, in the order written.
func parseRefList(raw json.RawMessage) ([]TensorRef, error) {
	if !isSet(raw) {
		return nil, nil
	}
	if r, ok := asRef(raw); ok {
		return []TensorRef{r}, nil
	}
	t := bytes.TrimSpace(raw)
	var out []TensorRef
	if t[0] == '{' {
		vals, err := orderedValues(raw)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			rs, err := parseRefList(v)
			if err != nil {
				return nil, err
			}
			out = append(out, rs...)
		}
		return out, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("want a list of [layer, node, tensor], got %s", short(raw))
	}
	for _, e := range list {
		rs, err := parseRefList(e)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// asRef reads a Keras 1/2 tensor reference [name, node, tensor] (a fourth
// element, the kwargs, is allowed and ignored here).
func asRef(raw json.RawMessage) (TensorRef, bool) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) < 3 || len(list) > 4 {
		return TensorRef{}, false
	}
	var r TensorRef
	if json.Unmarshal(list[0], &r.Layer) != nil {
		return TensorRef{}, false
	}
	var n, t float64
	if json.Unmarshal(list[1], &n) != nil || json.Unmarshal(list[2], &t) != nil {
		return TensorRef{}, false
	}
	r.Node, r.Tensor = int(n), int(t)
	return r, true
}

// orderedValues returns an object's keys and values in the order written.
func orderedKV(raw json.RawMessage) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("want a JSON object, got %s", short(raw))
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

func orderedValues(raw json.RawMessage) ([]json.RawMessage, error) {
	_, v, err := orderedKV(raw)
	return v, err
}

func short(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// parsedNode is one call read from inbound_nodes.
type parsedNode struct {
	args      []TensorRef  // flat tensor inputs (positional, then keywords)
	connected []TensorRef  // inputs as Keras lists them (Connected to)
	masks     []*TensorRef // the mask keyword, per positional input
	info      layer.CallInfo
}

// parseInboundNodes reads a layer's inbound_nodes in either dialect.
func parseInboundNodes(raw json.RawMessage) ([]parsedNode, error) {
	if !isSet(raw) {
		return nil, nil
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, fmt.Errorf("want a list, got %s", short(raw))
	}
	var out []parsedNode
	for i, n := range nodes {
		t := bytes.TrimSpace(n)
		var p parsedNode
		var err error
		if len(t) > 0 && t[0] == '{' {
			p, err = parseKeras3Node(n)
		} else {
			p, err = parseKeras2Node(n)
		}
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseKeras2Node reads [[name, node, tensor, kwargs], ...] (Keras 1 has no
// kwargs). Tensors passed by keyword appear in kwargs as [name, node,
// tensor] lists (tf.keras 2.x).
func parseKeras2Node(raw json.RawMessage) (parsedNode, error) {
	var p parsedNode
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return p, fmt.Errorf("want a list of [layer, node, tensor, kwargs], got %s", short(raw))
	}
	var kwargs json.RawMessage
	for _, e := range entries {
		var parts []json.RawMessage
		if err := json.Unmarshal(e, &parts); err != nil || len(parts) < 3 {
			return p, fmt.Errorf("want [layer, node, tensor, kwargs], got %s", short(e))
		}
		r, ok := asRef(e)
		if !ok {
			return p, fmt.Errorf("want [layer, node, tensor, kwargs], got %s", short(e))
		}
		if r.Layer == "_CONSTANT_VALUE" {
			return p, fmt.Errorf("the call takes a constant, not a layer output (a TensorFlow op recorded by tf.keras); kiln cannot run it: %w", layer.ErrUnsupported)
		}
		p.args = append(p.args, r)
		if len(parts) == 4 && kwargs == nil {
			kwargs = parts[3]
		}
	}
	p.info.NArgs = len(p.args)
	p.connected = append([]TensorRef(nil), p.args...)
	if err := p.readKwargs(kwargs, keras2Tensor); err != nil {
		return p, err
	}
	return p, nil
}

// keras2Tensor recognizes a tensor reference inside Keras 2 kwargs.
func keras2Tensor(raw json.RawMessage) (TensorRef, bool) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) != 3 {
		return TensorRef{}, false
	}
	return asRef(raw)
}

// keras3Tensor recognizes {"class_name": "__keras_tensor__", "config":
// {"keras_history": [name, node, tensor]}}.
func keras3Tensor(raw json.RawMessage) (TensorRef, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return TensorRef{}, false
	}
	var kt struct {
		ClassName string `json:"class_name"`
		Config    struct {
			KerasHistory json.RawMessage `json:"keras_history"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &kt) != nil || kt.ClassName != "__keras_tensor__" {
		return TensorRef{}, false
	}
	return asRef(kt.Config.KerasHistory)
}

// collectTensors walks a JSON value and returns the tensor references in
// it (flattened in order) and whether the value held anything else.
func collectTensors(raw json.RawMessage, isTensor func(json.RawMessage) (TensorRef, bool)) ([]TensorRef, bool) {
	if r, ok := isTensor(raw); ok {
		return []TensorRef{r}, false
	}
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			var out []TensorRef
			other := false
			for _, e := range list {
				rs, o := collectTensors(e, isTensor)
				out = append(out, rs...)
				other = other || o
			}
			return out, other
		}
	}
	if len(t) > 0 && t[0] == '{' {
		if _, vals, err := orderedKV(raw); err == nil {
			var out []TensorRef
			other := false
			for _, v := range vals {
				rs, o := collectTensors(v, isTensor)
				out = append(out, rs...)
				other = other || o
			}
			return out, other
		}
	}
	return nil, isSet(raw)
}

// readKwargs sorts a call's keyword arguments into tensors (appended to
// args), the mask, and plain values.
func (p *parsedNode) readKwargs(raw json.RawMessage, isTensor func(json.RawMessage) (TensorRef, bool)) error {
	if !isSet(raw) {
		return nil
	}
	keys, vals, err := orderedKV(raw)
	if err != nil {
		return fmt.Errorf("kwargs: %w", err)
	}
	for i, k := range keys {
		refs, _ := collectTensors(vals[i], isTensor)
		switch {
		case len(refs) == 0:
			if isSet(vals[i]) {
				if p.info.Kwargs == nil {
					p.info.Kwargs = map[string]json.RawMessage{}
				}
				p.info.Kwargs[k] = vals[i]
			}
		case k == "mask":
			ms, err := maskList(vals[i], isTensor)
			if err != nil {
				return err
			}
			p.masks = ms
		default:
			if p.info.TensorKwargs == nil {
				p.info.TensorKwargs = map[string][]int{}
			}
			for _, r := range refs {
				p.info.TensorKwargs[k] = append(p.info.TensorKwargs[k], len(p.args))
				p.args = append(p.args, r)
			}
		}
	}
	// Keras lists a call's input tensors with keyword tensors after the
	// positional ones, keywords in sorted order.
	sorted := append([]string(nil), keys...)
	sortStrings(sorted)
	for _, k := range sorted {
		for i, kk := range keys {
			if kk == k {
				refs, _ := collectTensors(vals[i], isTensor)
				p.connected = append(p.connected, refs...)
			}
		}
	}
	return nil
}

// parseKeras3Node reads {"args": [...], "kwargs": {...}}.
func parseKeras3Node(raw json.RawMessage) (parsedNode, error) {
	var p parsedNode
	var n struct {
		Args   []json.RawMessage `json:"args"`
		Kwargs json.RawMessage   `json:"kwargs"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return p, fmt.Errorf("want {\"args\": [...], \"kwargs\": {...}}, got %s", short(raw))
	}
	for i, a := range n.Args {
		refs, other := collectTensors(a, keras3Tensor)
		if len(refs) == 0 && other {
			if p.info.Consts == nil {
				p.info.Consts = map[int]json.RawMessage{}
			}
			p.info.Consts[i] = a
		}
		p.args = append(p.args, refs...)
	}
	p.info.NArgs = len(p.args)
	p.connected = append([]TensorRef(nil), p.args...)
	if err := p.readKwargs(n.Kwargs, keras3Tensor); err != nil {
		return p, err
	}
	return p, nil
}
