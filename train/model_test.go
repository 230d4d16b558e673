package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train/layer"
)

func mustModel(t *testing.T, cfg string, v layer.Version) *Model {
	t.Helper()
	m, err := FromKerasConfig([]byte(cfg), v)
	if err != nil {
		t.Fatalf("FromKerasConfig: %v", err)
	}
	return m
}

func layerNames(ls []layer.Layer) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name())
	}
	return out
}

func weightShapes(ws []*layer.Weight) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s%v", w.Name, w.Shape))
	}
	return strings.Join(parts, " ")
}

// Keras 1.x Sequential: the config is a bare list and the first layer
// carries batch_input_shape; Keras names the implicit input
// "<first layer>_input".
const keras1Sequential = `{"class_name": "Sequential", "keras_version": "1.2.2", "config": [
 {"class_name": "KilnTestDense", "config": {"name": "dense_1", "units": 3, "batch_input_shape": [null, 4], "input_dtype": "float32", "trainable": true}},
 {"class_name": "KilnTestDense", "config": {"name": "dense_2", "units": 2, "use_bias": false}}]}`

func TestKeras1Sequential(t *testing.T) {
	m := mustModel(t, keras1Sequential, layer.Version{})
	if m.Version().Major != 1 || m.Version().Minor != 2 {
		t.Errorf("version from keras_version: got %+v", m.Version())
	}
	if !m.IsSequential() || m.Name() != "sequential" {
		t.Errorf("got sequential=%v name=%q", m.IsSequential(), m.Name())
	}
	if got := layerNames(m.Layers()); !slices.Equal(got, []string{"dense_1", "dense_2"}) {
		t.Errorf("Layers() = %v", got)
	}
	if got := m.InputNames(); !slices.Equal(got, []string{"dense_1_input"}) {
		t.Errorf("InputNames() = %v", got)
	}
	if got := m.OutputNames(); !slices.Equal(got, []string{"dense_2"}) {
		t.Errorf("OutputNames() = %v", got)
	}
	if got, want := weightShapes(m.Weights()), "kernel[4 3] bias[3] kernel[3 2]"; got != want {
		t.Errorf("Weights() = %s, want %s", got, want)
	}
	if got := m.OutputShapes(); len(got) != 1 || !slices.Equal(got[0], layer.Shape{-1, 2}) {
		t.Errorf("OutputShapes() = %v", got)
	}
}

// Keras 2.0-2.2.2 Sequential (bare list), Keras 2.2.3+ ({"name", "layers"})
// with an explicit InputLayer, and Keras 3 (batch_shape, module,
// registered_name, build_config, DTypePolicy) all give the same model.
func TestSequentialDialects(t *testing.T) {
	cases := map[string]string{
		"keras 2.1": `{"class_name": "Sequential", "config": [
 {"class_name": "KilnTestDense", "config": {"name": "d1", "units": 3, "batch_input_shape": [null, 4], "dtype": "float32"}},
 {"class_name": "KilnTestDense", "config": {"name": "d2", "units": 2}}]}`,
		"keras 2.4 explicit input": `{"class_name": "Sequential", "config": {"name": "seq", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "sparse": false, "ragged": false, "name": "d1_input"}},
 {"class_name": "KilnTestDense", "config": {"name": "d1", "units": 3}},
 {"class_name": "KilnTestDense", "config": {"name": "d2", "units": 2}}]}}`,
		"keras 2.11 implicit input": `{"class_name": "Sequential", "config": {"name": "seq", "layers": [
 {"class_name": "KilnTestDense", "config": {"name": "d1", "units": 3, "batch_input_shape": [null, 4]}},
 {"class_name": "KilnTestDense", "config": {"name": "d2", "units": 2}}]}}`,
		"keras 2 build_input_shape": `{"class_name": "Sequential", "config": {"name": "seq", "build_input_shape": [null, 4], "layers": [
 {"class_name": "KilnTestDense", "config": {"name": "d1", "units": 3}},
 {"class_name": "KilnTestDense", "config": {"name": "d2", "units": 2}}]}}`,
		"keras 3": `{"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "trainable": true,
 "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
 "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "sparse": false, "ragged": false, "name": "d1_input"}, "registered_name": null},
 {"module": "keras.layers", "class_name": "KilnTestDense", "config": {"name": "d1", "units": 3}, "registered_name": null, "build_config": {"input_shape": [null, 4]}},
 {"module": "keras.layers", "class_name": "KilnTestDense", "config": {"name": "d2", "units": 2}, "registered_name": null, "build_config": {"input_shape": [null, 3]}}]},
 "build_config": {"input_shape": [null, 4]}}`,
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			m := mustModel(t, cfg, layer.Version{Major: 2, Minor: 4})
			if got := layerNames(m.Layers()); !slices.Equal(got, []string{"d1", "d2"}) {
				t.Errorf("Layers() = %v", got)
			}
			if got := m.InputNames(); !slices.Equal(got, []string{"d1_input"}) {
				t.Errorf("InputNames() = %v", got)
			}
			if got, want := weightShapes(m.Weights()), "kernel[4 3] bias[3] kernel[3 2] bias[2]"; got != want {
				t.Errorf("Weights() = %s, want %s", got, want)
			}
			if m.Layer("d1_input") == nil || m.Layer("d2") == nil || m.Layer("nope") != nil {
				t.Errorf("Layer() lookups wrong")
			}
		})
	}
}

// A Keras 2 functional model: two inputs, a shared layer called twice
// (node indices 0 and 1), a merge, two outputs, kwargs on a node.
const keras2Functional = `{"class_name": "Model", "config": {"name": "two_towers",
 "layers": [
  {"name": "a", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "sparse": false, "name": "a"}, "inbound_nodes": []},
  {"name": "b", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "sparse": false, "name": "b"}, "inbound_nodes": []},
  {"name": "shared", "class_name": "KilnTestDense", "config": {"name": "shared", "units": 3}, "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]},
  {"name": "sum", "class_name": "KilnTestAdd", "config": {"name": "sum"}, "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]},
  {"name": "head", "class_name": "KilnTestDense", "config": {"name": "head", "units": 2}, "inbound_nodes": [[["sum", 0, 0, {"training": false}]]]}
 ],
 "input_layers": [["a", 0, 0], ["b", 0, 0]],
 "output_layers": [["head", 0, 0], ["shared", 1, 0]]}}`

func TestKeras2FunctionalSharedLayer(t *testing.T) {
	m := mustModel(t, keras2Functional, layer.Version{Major: 2, Minor: 2})
	if got := layerNames(m.Layers()); !slices.Equal(got, []string{"a", "b", "shared", "sum", "head"}) {
		t.Errorf("Layers() = %v", got)
	}
	if n := len(m.Calls("shared")); n != 2 {
		t.Errorf("shared has %d calls, want 2", n)
	}
	if got := m.OutputNames(); !slices.Equal(got, []string{"head", "shared"}) {
		t.Errorf("OutputNames() = %v", got)
	}
	if got, want := weightShapes(m.Weights()), "kernel[4 3] bias[3] kernel[3 2] bias[2]"; got != want {
		t.Errorf("Weights() = %s, want %s (a shared layer's weights once)", got, want)
	}
	if got := string(m.Calls("head")[0].Info.Kwargs["training"]); got != "false" {
		t.Errorf("kwargs training = %q", got)
	}

	// Run the graph with hand-set weights and compare with hand-computed
	// outputs.
	shared, head := m.Layer("shared"), m.Layer("head")
	fill := func(w *layer.Weight, f func(i int) float32) {
		d := w.Value.F32()
		for i := range d {
			d[i] = f(i)
		}
	}
	fill(shared.Weights()[0], func(i int) float32 { return float32(i%3 + 1) }) // kernel[r][c] = c+1
	fill(shared.Weights()[1], func(i int) float32 { return 0.5 })
	fill(head.Weights()[0], func(i int) float32 { return float32(i) }) // kernel[r][c] = 2r+c
	fill(head.Weights()[1], func(i int) float32 { return -1 })
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if g.Inputs[0].Name != "a" || g.Inputs[1].Name != "b" || g.Outputs[0].Name != "head" || g.Outputs[1].Name != "shared" {
		t.Fatalf("graph values: inputs %v %v outputs %v %v", g.Inputs[0].Name, g.Inputs[1].Name, g.Outputs[0].Name, g.Outputs[1].Name)
	}
	if got := g.Inputs[0].Type.String(); got != "float32[batch,4]" {
		t.Errorf("input type %s", got)
	}
	if got := g.Outputs[0].Type.String(); got != "float32[batch,2]" {
		t.Errorf("output type %s", got)
	}
	for _, p := range []string{"shared/kernel", "shared/bias", "head/kernel", "head/bias"} {
		if g.Param(p) == nil {
			t.Errorf("no param %q", p)
		}
	}
	if len(g.Params) != 4 {
		t.Errorf("%d params, want 4 (the shared layer's weights once)", len(g.Params))
	}
	prog, err := runtime.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	a := tensor.From(tensor.Shape{1, 4}, []float32{1, 0, 0, 0})
	b := tensor.From(tensor.Shape{1, 4}, []float32{0, 1, 1, 0})
	out, err := prog.Run(map[string]*tensor.Tensor{"a": a, "b": b})
	if err != nil {
		t.Fatal(err)
	}
	// shared(a) = [1,2,3]+0.5 = [1.5,2.5,3.5]; shared(b) = 2*[1,2,3]+0.5 =
	// [2.5,4.5,6.5]; sum = [4,7,10]; head = sum @ [[0,1],[2,3],[4,5]] - 1
	// = [4*0+7*2+10*4-1, 4*1+7*3+10*5-1] = [53, 74].
	want := map[string][]float32{"head": {53, 74}, "shared": {2.5, 4.5, 6.5}}
	for name, w := range want {
		got := out[name].F32()
		for i := range w {
			if math.Abs(float64(got[i]-w[i])) > 1e-6 {
				t.Errorf("%s = %v, want %v", name, got, w)
				break
			}
		}
	}
	for _, n := range g.Nodes {
		if n.Meta.KerasLayer == "" {
			t.Errorf("node %s has no Keras layer in its provenance", n.Describe())
		}
	}
}

// A Keras 3 functional model: __keras_tensor__ references, a merge layer
// whose args are a nested list, mask: null, a nested Sequential model, and
// keyword tensors.
const keras3Functional = `{"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
 "config": {"name": "functional", "trainable": true,
 "layers": [
  {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "sparse": false, "name": "input_layer"}, "registered_name": null, "name": "input_layer", "inbound_nodes": []},
  {"module": "keras.layers", "class_name": "KilnTestDense", "config": {"name": "dense", "units": 4}, "registered_name": null, "build_config": {"input_shape": [null, 4]}, "name": "dense",
   "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["input_layer", 0, 0]}}], "kwargs": {"mask": null}}]},
  {"module": "keras", "class_name": "Sequential", "config": {"name": "inner", "trainable": true, "layers": [
     {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "sparse": false, "name": "inner_in"}, "registered_name": null},
     {"module": "keras.layers", "class_name": "KilnTestNorm", "config": {"name": "norm"}, "registered_name": null},
     {"module": "keras.layers", "class_name": "KilnTestDense", "config": {"name": "inner_dense", "units": 4}, "registered_name": null}]},
   "registered_name": null, "build_config": {"input_shape": [null, 4]}, "name": "inner",
   "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["dense", 0, 0]}}], "kwargs": {"training": false}}]},
  {"module": "keras.layers", "class_name": "KilnTestAdd", "config": {"name": "add"}, "registered_name": null, "name": "add",
   "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["inner", 0, 0]}},
                                {"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["dense", 0, 0]}}]], "kwargs": {}}]},
  {"module": "keras.layers", "class_name": "KilnTestCall", "config": {"name": "attn"}, "registered_name": null, "name": "attn",
   "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["add", 0, 0]}}],
                      "kwargs": {"value": {"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["dense", 0, 0]}}, "use_causal_mask": true}}]}
 ],
 "input_layers": [["input_layer", 0, 0]],
 "output_layers": [["attn", 0, 0]]}}`

func TestKeras3FunctionalNested(t *testing.T) {
	m := mustModel(t, keras3Functional, layer.Version{Major: 3, Minor: 8})
	if got := layerNames(m.Layers()); !slices.Equal(got, []string{"input_layer", "dense", "inner", "add", "attn"}) {
		t.Errorf("Layers() = %v", got)
	}
	inner, ok := m.Layer("inner").(*Model)
	if !ok || !inner.IsSequential() || inner.Class() != "Sequential" {
		t.Fatalf("inner is %T", m.Layer("inner"))
	}
	if m.Layer("inner_dense") == nil {
		t.Errorf("Layer() does not search nested models")
	}
	// Keras 3 order: layer by layer, recursing.
	if got, want := weightShapes(m.Weights()), "kernel[4 4] bias[4] gamma[4] moving_mean[4] kernel[4 4] bias[4]"; got != want {
		t.Errorf("Weights() = %s, want %s", got, want)
	}
	if n := len(m.TrainableWeights()); n != 5 {
		t.Errorf("%d trainable weights, want 5", n)
	}
	attn := m.Layer("attn").(*fakeCall)
	if len(attn.built) != 1 {
		t.Fatalf("BuildCall called %d times", len(attn.built))
	}
	c := attn.built[0]
	if c.NArgs != 1 || !slices.Equal(c.TensorKwargs["value"], []int{1}) || string(c.Kwargs["use_causal_mask"]) != "true" || len(attn.ins[0]) != 2 {
		t.Errorf("call info %+v, inputs %v", c, attn.ins[0])
	}
	if got := m.Calls("add")[0].Args; len(got) != 2 || got[0].Layer != "inner" || got[1].Layer != "dense" {
		t.Errorf("merge args %v", got)
	}
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dense/kernel", "norm/gamma", "norm/moving_mean", "inner_dense/kernel"} {
		if g.Param(p) == nil {
			t.Errorf("no param %q", p)
		}
	}
	if p := g.Param("norm/moving_mean"); p != nil && p.Trainable {
		t.Errorf("moving_mean is a trainable param")
	}
	if _, err := runtime.Compile(g); err != nil {
		t.Errorf("compile: %v", err)
	}
}

// Keras 2 orders a nested model's weights trainable first.
func TestKeras2NestedWeightOrder(t *testing.T) {
	cfg := `{"class_name": "Sequential", "config": {"name": "outer", "layers": [
 {"class_name": "Sequential", "config": {"name": "inner", "layers": [
   {"class_name": "KilnTestNorm", "config": {"name": "n1", "batch_input_shape": [null, 2]}},
   {"class_name": "KilnTestDense", "config": {"name": "d1", "units": 2}}]}}]}}`
	m := mustModel(t, cfg, layer.Version{Major: 2, Minor: 3})
	if got, want := weightShapes(m.Weights()), "gamma[2] kernel[2 2] bias[2] moving_mean[2]"; got != want {
		t.Errorf("Weights() = %s, want %s", got, want)
	}
	if got := m.InputNames(); !slices.Equal(got, []string{"n1_input"}) {
		t.Errorf("InputNames() = %v", got)
	}
}

func TestMaskFlows(t *testing.T) {
	cfg := `{"class_name": "Sequential", "config": {"name": "s", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "in"}},
 {"class_name": "KilnTestMask", "config": {"name": "emb"}},
 {"class_name": "KilnTestIdentity", "config": {"name": "pass"}},
 {"class_name": "KilnTestMaskRead", "config": {"name": "rnn"}}]}}`
	m := mustModel(t, cfg, layer.Version{Major: 2, Minor: 4})
	if _, err := m.Graph(); err != nil {
		t.Errorf("Graph: %v", err)
	}
	// An explicit mask keyword reaches the layer too (Keras 3).
	cfg3 := `{"class_name": "Functional", "config": {"name": "f", "layers": [
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "x"}, "name": "x", "inbound_nodes": []},
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "m", "dtype": "bool"}, "name": "m", "inbound_nodes": []},
 {"class_name": "KilnTestMaskRead", "config": {"name": "rnn"}, "name": "rnn", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}],
   "kwargs": {"mask": {"class_name": "__keras_tensor__", "config": {"keras_history": ["m", 0, 0]}}}}]}],
 "input_layers": [["x", 0, 0], ["m", 0, 0]], "output_layers": [["rnn", 0, 0]]}}`
	m3 := mustModel(t, cfg3, layer.Version{Major: 3})
	g, err := m3.Graph()
	if err != nil {
		t.Fatalf("Graph: %v", err)
	}
	if g.Inputs[1].Type.DType != tensor.Bool {
		t.Errorf("mask input dtype %v", g.Inputs[1].Type.DType)
	}
	if c := m3.Calls("rnn")[0]; len(c.Args) != 1 || c.Mask == nil || len(c.Connected) != 2 {
		t.Errorf("mask call: args %v mask %v connected %v", c.Args, c.Mask, c.Connected)
	}
}

func TestErrorsNameTheLayer(t *testing.T) {
	cases := []struct {
		name, cfg   string
		want        []string
		unsupported bool
	}{
		{"unknown class", `{"class_name": "Sequential", "config": [
 {"class_name": "KilnTestDense", "config": {"name": "d", "units": 1, "batch_input_shape": [null, 2]}},
 {"class_name": "MyFancyLayer", "config": {"name": "fancy_1"}}]}`, []string{`"fancy_1"`, "MyFancyLayer", "layer.Register"}, true},
		{"custom registered name", `{"class_name": "Functional", "config": {"name": "f", "layers": [
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "x"}, "name": "x", "inbound_nodes": []},
 {"module": "mypkg", "class_name": "L1Distance", "registered_name": "Custom>L1Distance", "config": {"name": "dist"}, "name": "dist", "inbound_nodes": []}],
 "input_layers": [["x", 0, 0]], "output_layers": [["dist", 0, 0]]}}`, []string{`"dist"`, "L1Distance", "Custom>L1Distance"}, true},
		{"inside nested model", `{"class_name": "Sequential", "config": {"name": "o", "layers": [
 {"class_name": "Sequential", "config": {"name": "inner", "layers": [
   {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "i"}},
   {"class_name": "Weird", "config": {"name": "w"}}]}}]}}`, []string{`"inner"`, `"w"`, "Weird"}, true},
		{"subclassed model", `{"module": null, "class_name": "NestedDenseModel", "registered_name": "legacy_nested_container>NestedDenseModel", "config": {"name": "n"}}`,
			[]string{"NestedDenseModel", "subclassed"}, true},
		{"sparse input", `{"class_name": "Sequential", "config": {"name": "s", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "sparse": true, "name": "i"}},
 {"class_name": "KilnTestDense", "config": {"name": "d", "units": 1}}]}}`, []string{`"i"`, "sparse"}, true},
		{"no input shape", `{"class_name": "Sequential", "config": {"name": "s", "layers": [
 {"class_name": "KilnTestDense", "config": {"name": "d", "units": 1}}]}}`, []string{`"d"`, "input shape"}, false},
		{"shape error", `{"class_name": "Functional", "config": {"name": "f", "layers": [
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "x"}, "name": "x", "inbound_nodes": []},
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "y"}, "name": "y", "inbound_nodes": []},
 {"class_name": "KilnTestAdd", "config": {"name": "plus"}, "name": "plus", "inbound_nodes": [[["x", 0, 0, {}], ["y", 0, 0, {}]]]}],
 "input_layers": [["x", 0, 0], ["y", 0, 0]], "output_layers": [["plus", 0, 0]]}}`, []string{`"plus"`, "KilnTestAdd", "(None, 2), (None, 3)"}, false},
		{"dangling reference", `{"class_name": "Model", "config": {"name": "f", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "x"}, "name": "x", "inbound_nodes": []},
 {"class_name": "KilnTestDense", "config": {"name": "d", "units": 1}, "name": "d", "inbound_nodes": [[["ghost", 0, 0, {}]]]}],
 "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}`, []string{`"d"`, `"ghost"`}, false},
		{"tf op constant", `{"class_name": "Functional", "config": {"name": "f", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "x"}, "name": "x", "inbound_nodes": []},
 {"class_name": "KilnTestDense", "config": {"name": "d", "units": 1}, "name": "d", "inbound_nodes": [[["_CONSTANT_VALUE", -1, 3.0, {}]]]}],
 "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}`, []string{`"d"`, "constant"}, true},
		{"not json", `{"class_name": `, []string{"train:"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromKerasConfig([]byte(c.cfg), layer.Version{Major: 2})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if c.unsupported != errors.Is(err, layer.ErrUnsupported) {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v (%v)", !c.unsupported, c.unsupported, err)
			}
		})
	}
}

func TestParseKerasVersion(t *testing.T) {
	for s, want := range map[string]layer.Version{
		"2.2.4-tf": {Major: 2, Minor: 2}, "3.8.0": {Major: 3, Minor: 8}, "1.2.2": {Major: 1, Minor: 2}, "": {},
	} {
		if got := ParseKerasVersion(s, ""); got != want {
			t.Errorf("ParseKerasVersion(%q) = %+v, want %+v", s, got, want)
		}
	}
}

// Graph outputs carry Keras's output names when one tensor is output twice
// (an Identity for the second) and when a model input is also an output.
func TestGraphOutputNaming(t *testing.T) {
	cfg := `{"class_name": "Model", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "x"}, "name": "x", "inbound_nodes": []},
 {"class_name": "KilnTestDense", "config": {"name": "d", "units": 2}, "name": "d", "inbound_nodes": [[["x", 0, 0, {}]]]}],
 "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0], ["d", 0, 0], ["x", 0, 0]]}}`
	m := mustModel(t, cfg, layer.Version{Major: 2})
	if got := m.OutputNames(); !slices.Equal(got, []string{"d", "d_1", "x"}) {
		t.Errorf("OutputNames() = %v", got)
	}
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := runtime.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	m.Layer("d").Weights()[0].Value.F32()[0] = 1 // kernel [[1,0],[0,0]]
	out, err := prog.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 2}, []float32{3, 4})})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]float32{"d": {3, 0}, "d_1": {3, 0}, "x": {3, 4}} {
		if got := out[name].F32(); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
