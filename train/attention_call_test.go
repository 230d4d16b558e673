package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train/layer"
)

func ktn(name string, node, idx int) string {
	return fmt.Sprintf(`{"class_name": "__keras_tensor__", "config": {"shape": [null, 2, 2], "dtype": "float32", "keras_history": [%q, %d, %d]}}`, name, node, idx)
}

func input3(name, dtype, shape string) string {
	return fmt.Sprintf(`{"module": "keras.layers", "class_name": "InputLayer", "name": %q, "config": {"name": %q, "batch_shape": %s, "dtype": %q}, "inbound_nodes": []}`, name, name, shape, dtype)
}

func softmax2(a, b float64) (float64, float64) {
	m := math.Max(a, b)
	ea, eb := math.Exp(a-m), math.Exp(b-m)
	return ea / (ea + eb), eb / (ea + eb)
}

func runModel(t *testing.T, m *Model, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func closeTo(t *testing.T, what string, got *tensor.Tensor, want []float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no output", what)
		return
	}
	g := got.Float64s()
	if len(g) != len(want) {
		t.Errorf("%s: got %v, want %v", what, g, want)
		return
	}
	for i := range want {
		if math.Abs(g[i]-want[i]) > 1e-5 {
			t.Errorf("%s: got %v, want %v", what, g, want)
			return
		}
	}
}

// A shared MultiHeadAttention called twice in a Keras 3 functional model:
// first as mha(q, v, key=k, value_mask=m, use_causal_mask=True,
// return_attention_scores=True), then as mha(q, v). The call arguments
// decide the inputs, masks and outputs of each call.
func TestMultiHeadAttentionCallArgs(t *testing.T) {
	cfg := `{"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [` +
		input3("q", "float32", "[null, 2, 2]") + "," + input3("v", "float32", "[null, 2, 2]") + "," +
		input3("k", "float32", "[null, 2, 2]") + "," + input3("m", "bool", "[null, 2]") + `,
 {"module": "keras.layers", "class_name": "MultiHeadAttention", "name": "mha", "config": {"name": "mha", "num_heads": 1, "key_dim": 1, "attention_axes": [1]},
  "inbound_nodes": [
   {"args": [` + ktn("q", 0, 0) + ", " + ktn("v", 0, 0) + `], "kwargs": {"key": ` + ktn("k", 0, 0) + `, "query_mask": null, "value_mask": ` + ktn("m", 0, 0) + `, "use_causal_mask": true, "return_attention_scores": true}},
   {"args": [` + ktn("q", 0, 0) + ", " + ktn("v", 0, 0) + `], "kwargs": {"query_mask": null, "value_mask": null}}]}],
 "input_layers": [["q", 0, 0], ["v", 0, 0], ["k", 0, 0], ["m", 0, 0]],
 "output_layers": [["mha", 0, 0], ["mha", 0, 1], ["mha", 1, 0]]}}`
	m := mustModel(t, cfg, layer.Version{})
	// One head, key_dim 1: Q = q_0, K = key_1, V = value_0 + value_1 + 0.5,
	// out = (ctx, 1 - ctx).
	w := [][]float32{{1, 0}, {0}, {0, 1}, {0}, {1, 1}, {0.5}, {1, -1}, {0, 1}}
	for i, x := range m.Layer("mha").Weights() {
		copy(x.Value.F32(), w[i])
	}
	if got := fmt.Sprint(m.OutputShapes()); got != "[(None, 2, 2) (None, 1, 2, 2) (None, 2, 2)]" {
		t.Errorf("output shapes %s", got)
	}
	q := tensor.From(tensor.Shape{1, 2, 2}, []float32{1, 0, 2, 0})
	v := tensor.From(tensor.Shape{1, 2, 2}, []float32{1, 0, 0, 2})
	k := tensor.From(tensor.Shape{1, 2, 2}, []float32{0, 1, 0, 3})
	mask := tensor.FromFloat64s(tensor.Bool, tensor.Shape{1, 2}, []float64{1, 1})
	out := runModel(t, m, map[string]*tensor.Tensor{"q": q, "v": v, "k": k, "m": mask})
	names := m.OutputNames()
	// Call 0: Q = (1, 2), K = (1, 3), V = (1.5, 2.5); causal, so row 0
	// sees step 0 only and row 1 softmax(2·1, 2·3).
	a, b := softmax2(2, 6)
	c1 := a*1.5 + b*2.5
	closeTo(t, "call 0 output", out[names[0]], []float64{1.5, -0.5, c1, 1 - c1})
	closeTo(t, "call 0 scores", out[names[1]], []float64{1, 0, a, b})
	// Call 1: the key is the value, K = (0, 2); no mask.
	var want []float64
	for _, Q := range []float64{1, 2} {
		a, b := softmax2(0, 2*Q)
		c := a*1.5 + b*2.5
		want = append(want, c, 1-c)
	}
	closeTo(t, "call 1 output", out[names[2]], want)

	// The value mask alone (false on step 1): every row sees step 0.
	mask = tensor.FromFloat64s(tensor.Bool, tensor.Shape{1, 2}, []float64{1, 0})
	out = runModel(t, m, map[string]*tensor.Tensor{"q": q, "v": v, "k": k, "m": mask})
	closeTo(t, "call 0 value mask", out[names[1]], []float64{1, 0, 1, 0})
}

// Keras 3 Attention called with mask=[None, value_mask] and
// return_attention_scores, then again with use_causal_mask.
func TestAttentionCallArgs(t *testing.T) {
	cfg := `{"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [` +
		input3("q", "float32", "[null, 2, 2]") + "," + input3("v", "float32", "[null, 2, 2]") + "," + input3("m", "bool", "[null, 2]") + `,
 {"module": "keras.layers", "class_name": "Attention", "name": "att", "config": {"name": "att", "use_scale": false, "score_mode": "dot", "dropout": 0.0},
  "inbound_nodes": [
   {"args": [[` + ktn("q", 0, 0) + ", " + ktn("v", 0, 0) + `]], "kwargs": {"mask": [null, ` + ktn("m", 0, 0) + `], "return_attention_scores": true}},
   {"args": [[` + ktn("q", 0, 0) + ", " + ktn("v", 0, 0) + `]], "kwargs": {"use_causal_mask": true, "training": false}}]}],
 "input_layers": [["q", 0, 0], ["v", 0, 0], ["m", 0, 0]],
 "output_layers": [["att", 0, 0], ["att", 0, 1], ["att", 1, 0]]}}`
	m := mustModel(t, cfg, layer.Version{})
	q := tensor.From(tensor.Shape{1, 2, 2}, []float32{1, 0, 0, 1})
	v := tensor.From(tensor.Shape{1, 2, 2}, []float32{1, 0, 0, 2})
	mask := tensor.FromFloat64s(tensor.Bool, tensor.Shape{1, 2}, []float64{1, 0})
	out := runModel(t, m, map[string]*tensor.Tensor{"q": q, "v": v, "m": mask})
	names := m.OutputNames()
	// Scores q·vᵀ = [[1, 0], [0, 2]]; the value mask drops step 1.
	closeTo(t, "masked output", out[names[0]], []float64{1, 0, 1, 0})
	closeTo(t, "masked scores", out[names[1]], []float64{1, 0, 1, 0})
	// Causal: row 0 sees step 0; row 1 softmax(0, 2).
	a, b := softmax2(0, 2)
	closeTo(t, "causal output", out[names[2]], []float64{1, 0, a, 2 * b})
}
