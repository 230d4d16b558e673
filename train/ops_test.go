package train

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train/layer"
)

// kt3 writes a Keras 3 __keras_tensor__ reference.
func kt3(name string) string {
	return fmt.Sprintf(`{"class_name": "__keras_tensor__", "config": {"shape": [null, 3, 4], "dtype": "float32", "keras_history": [%q, 0, 0]}}`, name)
}

const slice3 = `{"class_name": "__slice__", "config": {"start": %s, "stop": %s, "step": %s}}`

func sl(start, stop, step string) string { return fmt.Sprintf(slice3, start, stop, step) }

// opModel is a Keras 3 functional model: input x (None, 3, 4) and one op
// layer per key, each an output.
func opModel(module, class string, keys []string) string {
	var layers, outs []string
	layers = append(layers, `{"module": "keras.layers", "class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 3, 4], "dtype": "float32"}, "inbound_nodes": []}`)
	for i, k := range keys {
		name := fmt.Sprintf("op_%d", i)
		layers = append(layers, fmt.Sprintf(`{"module": %q, "class_name": %q, "registered_name": %q, "name": %q, "config": {"name": %q}, "inbound_nodes": [{"args": [%s, %s], "kwargs": {}}]}`,
			module, class, class, name, name, kt3("x"), k))
		outs = append(outs, fmt.Sprintf(`[%q, 0, 0]`, name))
	}
	return fmt.Sprintf(`{"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [%s], "input_layers": [["x", 0, 0]], "output_layers": [%s]}}`,
		strings.Join(layers, ",\n"), strings.Join(outs, ", "))
}

// TestGetItem checks Keras 3's GetItem against NumPy indexing worked by
// hand on x = arange(12).reshape(1, 3, 4).
func TestGetItem(t *testing.T) {
	cases := []struct {
		key   string
		shape layer.Shape
		want  []float32
	}{
		// x[:, -1, :] (the corpus's transformer_model.keras)
		{"[" + sl("null", "null", "null") + ", -1, " + sl("null", "null", "null") + "]", layer.Shape{-1, 4}, []float32{8, 9, 10, 11}},
		// x[..., ::-2]
		{`[{"class_name": "__ellipsis__", "config": {}}, ` + sl("null", "null", "-2") + "]", layer.Shape{-1, 3, 2}, []float32{3, 1, 7, 5, 11, 9}},
		// x[:, None, 1:]
		{"[" + sl("null", "null", "null") + ", null, " + sl("1", "null", "null") + "]", layer.Shape{-1, 1, 2, 4}, []float32{4, 5, 6, 7, 8, 9, 10, 11}},
		// x[:, -2:, 1]
		{"[" + sl("null", "null", "null") + ", " + sl("-2", "null", "null") + ", 1]", layer.Shape{-1, 2}, []float32{5, 9}},
		// x[:, 0:3:2, -3:-1]
		{"[" + sl("null", "null", "null") + ", " + sl("0", "3", "2") + ", " + sl("-3", "-1", "null") + "]", layer.Shape{-1, 2, 2}, []float32{1, 2, 9, 10}},
		// x[:, ::-1, 2] : rows reversed, column 2
		{"[" + sl("null", "null", "null") + ", " + sl("null", "null", "-1") + ", 2]", layer.Shape{-1, 3}, []float32{10, 6, 2}},
		// x[:, 1:100, 3:0:-2]
		{"[" + sl("null", "null", "null") + ", " + sl("1", "100", "null") + ", " + sl("3", "0", "-2") + "]", layer.Shape{-1, 2, 2}, []float32{7, 5, 11, 9}},
	}
	var keys []string
	for _, c := range cases {
		keys = append(keys, c.key)
	}
	m := mustModel(t, opModel("keras.src.ops.numpy", "GetItem", keys), layer.Version{})
	if c := m.Layer("op_0").Class(); c != "GetItem" {
		t.Errorf("class %q, want GetItem", c)
	}
	for i, c := range cases {
		if got := m.OutputShapes()[i]; !slices.Equal(got, c.shape) {
			t.Errorf("key %d %s: shape %v, want %v", i, c.key, got, c.shape)
		}
	}
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := runtime.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 12)
	for i := range x {
		x[i] = float32(i)
	}
	out, err := prog.Run(map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 3, 4}, x)})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		got := out[m.OutputNames()[i]]
		if !slices.Equal(got.F32(), c.want) || got.Shape()[len(got.Shape())-1] != c.shape[len(c.shape)-1] {
			t.Errorf("key %d %s: got %v %v, want %v", i, c.key, got.Shape(), got.F32(), c.want)
		}
	}
}

func TestGetItemRefusals(t *testing.T) {
	for _, key := range []string{
		"[[0, 1]]", // a list index (advanced indexing)
		`[{"class_name": "__numpy__", "config": {"value": [0, 1]}}]`,
		"[0, 0, 0, 0]", // too many indices
		"[" + sl("null", "null", "0") + "]",
		"[" + sl("null", "null", "null") + ", 3]", // out of bounds
	} {
		_, err := FromKerasConfig([]byte(opModel("keras.src.ops.numpy", "GetItem", []string{key})), layer.Version{})
		if err == nil || !strings.Contains(err.Error(), `"op_0" (GetItem)`) {
			t.Errorf("key %s: want an error naming the layer, got %v", key, err)
		}
	}
	// An op kiln does not implement names the op and its module.
	_, err := FromKerasConfig([]byte(opModel("keras.src.ops.numpy", "Einsum", []string{`"ij"`})), layer.Version{})
	if err == nil || !strings.Contains(err.Error(), "Keras 3 op Einsum") || !strings.Contains(err.Error(), "keras.src.ops.numpy") {
		t.Errorf("unknown op: got %v", err)
	}
}

// opCall writes one op layer called on args (JSON, tensors as kt3).
func opCall(module, class, name, args string) string {
	return fmt.Sprintf(`{"module": %q, "class_name": %q, "registered_name": %q, "name": %q, "config": {"name": %q}, "inbound_nodes": [{"args": [%s], "kwargs": {}}]}`,
		module, class, class, name, name, args)
}

// TestElementwiseOps checks Keras 3 numpy op layers, with constants on
// either side, against values worked by hand on x = arange(12).
func TestElementwiseOps(t *testing.T) {
	x := kt3("x")
	layers := []string{
		`{"module": "keras.layers", "class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 3, 4], "dtype": "float32"}, "inbound_nodes": []}`,
		opCall("keras.src.ops.numpy", "Subtract", "rsub", "2.0, "+x), // 2 - x
		opCall("keras.src.ops.numpy", "Multiply", "mul", x+", "+x),   // x * x
		opCall("keras.src.ops.numpy", "Square", "sq", x),
		opCall("keras.src.ops.numpy", "TrueDivide", "div", x+", 4"),
		opCall("keras.src.ops.numpy", "Greater", "gt", x+", 5"),
		opCall("keras.src.ops.nn", "Relu", "relu", "rsub_placeholder"),
	}
	layers[6] = strings.Replace(layers[6], "rsub_placeholder", strings.Replace(x, `"x", 0, 0`, `"rsub", 0, 0`, 1), 1)
	cfg := fmt.Sprintf(`{"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [%s], "input_layers": [["x", 0, 0]], "output_layers": [["rsub", 0, 0], ["mul", 0, 0], ["sq", 0, 0], ["div", 0, 0], ["gt", 0, 0], ["relu", 0, 0]]}}`,
		strings.Join(layers, ",\n"))
	m := mustModel(t, cfg, layer.Version{})
	if c := m.Layer("rsub").Class(); c != "Subtract" {
		t.Errorf("class %q", c)
	}
	xs := make([]float32, 12)
	for i := range xs {
		xs[i] = float32(i)
	}
	out := runModel(t, m, map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 3, 4}, xs)})
	want := map[string]func(float64) float64{
		"rsub": func(v float64) float64 { return 2 - v },
		"mul":  func(v float64) float64 { return v * v },
		"sq":   func(v float64) float64 { return v * v },
		"div":  func(v float64) float64 { return v / 4 },
		"gt": func(v float64) float64 {
			if v > 5 {
				return 1
			}
			return 0
		},
		"relu": func(v float64) float64 { return max(2-v, 0) },
	}
	for name, f := range want {
		var w []float64
		for _, v := range xs {
			w = append(w, f(float64(v)))
		}
		closeTo(t, name, out[name], w)
	}
	if dt := out["gt"].DType(); dt != tensor.Bool {
		t.Errorf("Greater gives %s, want bool", dt)
	}
}
