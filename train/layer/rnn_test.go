package layer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// rnnIn is one test input: its value and, optionally, a bool mask [B, T].
type rnnIn struct {
	x    *tensor.Tensor
	mask []bool
}

// rnnRun builds l for the inputs' shapes, fills its weights in order, lowers
// it into a fresh graph and runs it.
func rnnRun(t *testing.T, l Layer, v Version, weights [][]float32, ins ...rnnIn) []*tensor.Tensor {
	t.Helper()
	var shapes []Shape
	for _, in := range ins {
		s := Shape{-1}
		s = append(s, in.x.Shape()[1:]...)
		shapes = append(shapes, s)
	}
	if _, err := l.Build(shapes); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(weights) != len(l.Weights()) {
		t.Fatalf("got %d weight values for %d weights", len(weights), len(l.Weights()))
	}
	for i, w := range l.Weights() {
		if len(weights[i]) != w.Value.Len() {
			t.Fatalf("weight %d (%s %v): got %d values", i, w.Name, w.Shape, len(weights[i]))
		}
		copy(w.Value.F32(), weights[i])
	}
	g := &graph.Graph{Name: "test"}
	b := NewBuilder(g)
	b.Version = v
	feeds := map[string]*tensor.Tensor{}
	var tin []Tensor
	for i, in := range ins {
		name := fmt.Sprintf("in%d", i)
		g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(tensor.Float32, in.x.Shape()...)})
		feeds[name] = in.x
		tt := Tensor{Name: name, Shape: shapes[i], DType: tensor.Float32}
		if in.mask != nil {
			mn := name + "_mask"
			g.Inputs = append(g.Inputs, &graph.Value{Name: mn, Type: graph.TensorType(tensor.Bool, in.x.Shape()[0], in.x.Shape()[1])})
			feeds[mn] = tensor.Must(tensor.Shape{in.x.Shape()[0], in.x.Shape()[1]}, in.mask)
			tt.Mask = mn
		}
		tin = append(tin, tt)
	}
	b.Layer = l
	outs, err := l.Lower(b, tin)
	if err != nil {
		t.Fatalf("Lower: %v", err)
	}
	for _, o := range outs {
		g.Outputs = append(g.Outputs, &graph.Value{Name: o.Name, Type: graph.UnrankedType(tensor.Float32)})
	}
	p, err := runtime.Compile(g)
	if err != nil {
		for _, n := range g.Nodes {
			t.Logf("%s %s %v -> %v", n.Name, n.Op, n.Inputs, n.Outputs)
		}
		t.Fatalf("Compile: %v", err)
	}
	res, err := p.Run(feeds)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []*tensor.Tensor
	for _, o := range outs {
		got = append(got, res[o.Name])
	}
	return got
}

// rnnDecode makes a layer from a JSON config.
func rnnDecode(t *testing.T, class, config string, v Version) Layer {
	t.Helper()
	l, err := New(class, json.RawMessage(config), &DecodeContext{Version: v})
	if err != nil {
		t.Fatalf("New(%s): %v", class, err)
	}
	return l
}

// rnnClose compares got with want within tol (absolute).
func rnnClose(t *testing.T, what string, got *tensor.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if !got.Shape().Equal(tensor.Shape(shape)) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape(), shape)
		return
	}
	g := got.Float64s()
	for i := range want {
		if math.Abs(g[i]-want[i]) > tol || math.IsNaN(g[i]) {
			t.Errorf("%s: element %d = %.7g, want %.7g (all: %v)", what, i, g[i], want[i], g)
			return
		}
	}
}

func sig(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

var keras2 = Version{Major: 2, Minor: 4, Backend: "tensorflow"}
var keras3 = Version{Major: 3, Minor: 8}

func TestSimpleRNNHand(t *testing.T) {
	// units 1, 1 feature, linear: h_t = 2·x_t + 0.5·h_{t-1} + 1.
	// x = 1, 2, 3: h = 3, 2·2+1.5+1 = 6.5, 6+3.25+1 = 10.25.
	l := rnnDecode(t, "SimpleRNN", `{"name":"r","units":1,"activation":"linear","return_sequences":true,"return_state":true}`, keras2)
	x := tensor.Must(tensor.Shape{1, 3, 1}, []float32{1, 2, 3})
	out := rnnRun(t, l, keras2, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x})
	rnnClose(t, "sequence", out[0], []int{1, 3, 1}, []float64{3, 6.5, 10.25}, 1e-6)
	rnnClose(t, "state", out[1], []int{1, 1}, []float64{10.25}, 1e-6)

	// go_backwards reads 3, 2, 1: h = 7, 4+3.5+1 = 8.5, 2+4.25+1 = 7.25, in that order.
	l = rnnDecode(t, "SimpleRNN", `{"name":"r","units":1,"activation":"linear","return_sequences":true,"go_backwards":true}`, keras2)
	out = rnnRun(t, l, keras2, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x})
	rnnClose(t, "backwards", out[0], []int{1, 3, 1}, []float64{7, 8.5, 7.25}, 1e-6)

	// A mask [1, 0, 1]: step 2 keeps h = 3 and outputs 3; step 3: 6+1.5+1 = 8.5.
	l = rnnDecode(t, "SimpleRNN", `{"name":"r","units":1,"activation":"linear","return_sequences":true}`, keras2)
	out = rnnRun(t, l, keras2, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x, mask: []bool{true, false, true}})
	rnnClose(t, "masked", out[0], []int{1, 3, 1}, []float64{3, 3, 8.5}, 1e-6)

	// A leading masked step outputs zeros (the previous output before any step).
	// Mask [0, 1, 1]: 0, h = 2·2+1 = 5, 6+2.5+1 = 9.5; the last output 9.5.
	for _, seq := range []bool{true, false} {
		l = rnnDecode(t, "SimpleRNN", fmt.Sprintf(`{"name":"r","units":1,"activation":"linear","return_sequences":%v}`, seq), keras2)
		out = rnnRun(t, l, keras2, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x, mask: []bool{false, true, true}})
		if seq {
			rnnClose(t, "lead-masked", out[0], []int{1, 3, 1}, []float64{0, 5, 9.5}, 1e-6)
		} else {
			rnnClose(t, "lead-masked last", out[0], []int{1, 1}, []float64{9.5}, 1e-6)
		}
	}
	// Trailing masked steps: the last output is the last unmasked one.
	l = rnnDecode(t, "SimpleRNN", `{"name":"r","units":1,"activation":"linear"}`, keras2)
	out = rnnRun(t, l, keras2, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x, mask: []bool{true, true, false}})
	rnnClose(t, "trailing-masked last", out[0], []int{1, 1}, []float64{6.5}, 1e-6)

	// zero_output_for_mask: masked steps output zeros but carry the state.
	sr := rnnDecode(t, "SimpleRNN", `{"name":"r","units":1,"activation":"linear","return_sequences":true}`, keras2).(*SimpleRNN)
	sr.ZeroOutputForMask = true
	out = rnnRun(t, sr, keras2, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x, mask: []bool{true, false, true}})
	rnnClose(t, "zero output", out[0], []int{1, 3, 1}, []float64{3, 0, 8.5}, 1e-6)
}

func TestRecurrentConfigErrors(t *testing.T) {
	_, err := New("LSTM", json.RawMessage(`{"name":"l","units":2,"stateful":true}`), &DecodeContext{Version: keras2})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("stateful: got %v, want ErrUnsupported", err)
	}
	_, err = New("GRU", json.RawMessage(`{"name":"g","units":2,"activation":"nonsense"}`), &DecodeContext{Version: keras2})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown activation: got %v, want ErrUnsupported", err)
	}
}

// lstmStep is one LSTM step for units 1 and 1 feature, written out from the
// Keras formulas: w, u, b hold the i, f, c, o entries.
func lstmStep(x, h, c float64, w, u, b [4]float64, ra func(float64) float64) (float64, float64) {
	z := func(g int) float64 { return w[g]*x + u[g]*h + b[g] }
	i, f, cc, o := ra(z(0)), ra(z(1)), math.Tanh(z(2)), ra(z(3))
	c = f*c + i*cc
	return o * math.Tanh(c), c
}

func TestLSTMHand(t *testing.T) {
	w, u, bias := [4]float64{0.5, -0.5, 1, 0.25}, [4]float64{0.1, 0.2, -0.3, 0.4}, [4]float64{0, 1, 0, 0}
	hard2 := func(x float64) float64 { return math.Max(0, math.Min(1, 0.2*x+0.5)) }
	hard3 := func(x float64) float64 { return math.Max(0, math.Min(1, x/6+0.5)) }
	xs := []float64{1, -1, 0.5}
	ref := func(ra func(float64) float64, xs []float64) (hs []float64, c float64) {
		h := 0.0
		for _, x := range xs {
			h, c = lstmStep(x, h, c, w, u, bias, ra)
			hs = append(hs, h)
		}
		return hs, c
	}
	x := tensor.Must(tensor.Shape{1, 3, 1}, []float32{1, -1, 0.5})
	f32 := func(a [4]float64) []float32 {
		return []float32{float32(a[0]), float32(a[1]), float32(a[2]), float32(a[3])}
	}
	weights := [][]float32{f32(w), f32(u), f32(bias)}

	for _, c := range []struct {
		name string
		v    Version
		ra   string
		f    func(float64) float64
	}{
		{"sigmoid", keras3, "sigmoid", sig},
		{"hard_sigmoid keras2", keras2, "hard_sigmoid", hard2},
		{"hard_sigmoid keras3", keras3, "hard_sigmoid", hard3},
	} {
		l := rnnDecode(t, "LSTM", fmt.Sprintf(`{"name":"l","units":1,"recurrent_activation":%q,"return_sequences":true,"return_state":true}`, c.ra), c.v)
		out := rnnRun(t, l, c.v, weights, rnnIn{x: x})
		hs, cl := ref(c.f, xs)
		rnnClose(t, c.name+" sequence", out[0], []int{1, 3, 1}, hs, 1e-6)
		rnnClose(t, c.name+" h", out[1], []int{1, 1}, hs[2:], 1e-6)
		rnnClose(t, c.name+" c", out[2], []int{1, 1}, []float64{cl}, 1e-6)
	}

	// Keras 1 (consume_less cpu): twelve arrays, gates saved i, c, f, o.
	l := rnnDecode(t, "LSTM", `{"name":"l","output_dim":1,"inner_activation":"hard_sigmoid","activation":"tanh","consume_less":"cpu","return_sequences":false}`, Version{Major: 1, Minor: 2})
	k1 := [][]float32{}
	for _, g := range []int{0, 2, 1, 3} {
		k1 = append(k1, []float32{float32(w[g])}, []float32{float32(u[g])}, []float32{float32(bias[g])})
	}
	out := rnnRun(t, l, Version{Major: 1, Minor: 2}, k1, rnnIn{x: x})
	hs, _ := ref(hard2, xs)
	rnnClose(t, "keras 1", out[0], []int{1, 1}, hs[2:], 1e-6)

	// CuDNNLSTM: bias of 8 (input then recurrent) adds up; sigmoid.
	l = rnnDecode(t, "CuDNNLSTM", `{"name":"l","units":1}`, keras2)
	out = rnnRun(t, l, keras2, [][]float32{f32(w), f32(u), {0, 0.25, 0, 0, 0, 0.75, 0, 0}}, rnnIn{x: x})
	hs, _ = ref(sig, xs)
	rnnClose(t, "cudnn", out[0], []int{1, 1}, hs[2:], 1e-6)

	// Batch of two with different masks, backwards, and return_state.
	l = rnnDecode(t, "LSTM", `{"name":"l","units":1,"recurrent_activation":"sigmoid","return_sequences":true,"return_state":true,"go_backwards":true}`, keras3)
	xb := tensor.Must(tensor.Shape{2, 3, 1}, []float32{1, -1, 0.5, 2, 0.25, -1})
	out = rnnRun(t, l, keras3, weights, rnnIn{x: xb, mask: []bool{true, true, false, false, true, true}})
	// Entry 0 reads steps 2 (masked), 1, 0: outputs 0, h(-1), h(-1, 1).
	h0, _ := ref(sig, []float64{-1, 1})
	// Entry 1 reads steps 2, 1, 0 (masked): outputs h(-1), h(-1, .25), same again.
	h1, c1 := ref(sig, []float64{-1, 0.25})
	_, c0 := ref(sig, []float64{-1, 1})
	rnnClose(t, "masked backwards sequence", out[0], []int{2, 3, 1}, []float64{0, h0[0], h0[1], h1[0], h1[1], h1[1]}, 1e-6)
	rnnClose(t, "masked backwards h", out[1], []int{2, 1}, []float64{h0[1], h1[1]}, 1e-6)
	rnnClose(t, "masked backwards c", out[2], []int{2, 1}, []float64{c0, c1}, 1e-6)
}

// gruStep is one GRU step for units 1 and 1 feature from the Keras
// formulas: w, u hold z, r, h entries; bi, br the input and recurrent biases.
func gruStep(x, h float64, w, u, bi, br [3]float64, resetAfter bool) float64 {
	var z, r, hh float64
	if resetAfter {
		z = sig(w[0]*x + bi[0] + u[0]*h + br[0])
		r = sig(w[1]*x + bi[1] + u[1]*h + br[1])
		hh = math.Tanh(w[2]*x + bi[2] + r*(u[2]*h+br[2]))
	} else {
		z = sig(w[0]*x + bi[0] + u[0]*h)
		r = sig(w[1]*x + bi[1] + u[1]*h)
		hh = math.Tanh(w[2]*x + bi[2] + u[2]*(r*h))
	}
	return z*h + (1-z)*hh
}

func TestGRUHand(t *testing.T) {
	w, u := [3]float64{0.5, -0.5, 1}, [3]float64{0.1, 0.2, 0.3}
	bi, br := [3]float64{0, 0.1, 0.2}, [3]float64{0.3, 0, -0.1}
	x := tensor.Must(tensor.Shape{1, 2, 1}, []float32{1, 2})
	ref := func(resetAfter bool, bi, br [3]float64) []float64 {
		h := 0.0
		var hs []float64
		for _, xv := range []float64{1, 2} {
			h = gruStep(xv, h, w, u, bi, br, resetAfter)
			hs = append(hs, h)
		}
		return hs
	}
	f3 := func(a [3]float64) []float32 { return []float32{float32(a[0]), float32(a[1]), float32(a[2])} }

	l := rnnDecode(t, "GRU", `{"name":"g","units":1,"recurrent_activation":"sigmoid","reset_after":true,"return_sequences":true}`, keras3)
	out := rnnRun(t, l, keras3, [][]float32{f3(w), f3(u), append(f3(bi), f3(br)...)}, rnnIn{x: x})
	rnnClose(t, "reset_after", out[0], []int{1, 2, 1}, ref(true, bi, br), 1e-6)
	if got := l.Weights()[2].Shape; len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("reset_after bias shape %v, want [2 3]", got)
	}

	// No reset_after key (Keras 2.1): reset before the recurrent product, bias (3).
	l = rnnDecode(t, "GRU", `{"name":"g","units":1,"recurrent_activation":"sigmoid","return_sequences":true}`, Version{Major: 2, Minor: 1})
	out = rnnRun(t, l, keras2, [][]float32{f3(w), f3(u), f3(bi)}, rnnIn{x: x})
	rnnClose(t, "reset_before", out[0], []int{1, 2, 1}, ref(false, bi, [3]float64{}), 1e-6)

	// Keras 1: nine arrays W_z, U_z, b_z, W_r, ...
	l = rnnDecode(t, "GRU", `{"name":"g","output_dim":1,"inner_activation":"sigmoid","consume_less":"mem"}`, Version{Major: 1})
	var k1 [][]float32
	for g := range 3 {
		k1 = append(k1, []float32{float32(w[g])}, []float32{float32(u[g])}, []float32{float32(bi[g])})
	}
	out = rnnRun(t, l, Version{Major: 1}, k1, rnnIn{x: x})
	rnnClose(t, "keras 1", out[0], []int{1, 1}, ref(false, bi, [3]float64{})[1:], 1e-6)

	// CuDNNGRU: bias (6) = input then recurrent biases, reset after.
	l = rnnDecode(t, "CuDNNGRU", `{"name":"g","units":1,"return_state":true}`, keras2)
	out = rnnRun(t, l, keras2, [][]float32{f3(w), f3(u), append(f3(bi), f3(br)...)}, rnnIn{x: x})
	rnnClose(t, "cudnn", out[0], []int{1, 1}, ref(true, bi, br)[1:], 1e-6)
	rnnClose(t, "cudnn state", out[1], []int{1, 1}, ref(true, bi, br)[1:], 1e-6)
}

func TestBidirectionalHand(t *testing.T) {
	// Forward SimpleRNN: h = 2x + 0.5h + 1 over x = 1, 2, 3 gives 3, 6.5, 10.25.
	// Backward: h = x (kernel 1, no recurrence, no bias) reads 3, 2, 1.
	x := tensor.Must(tensor.Shape{1, 3, 1}, []float32{1, 2, 3})
	w := [][]float32{{2}, {0.5}, {1}, {1}, {0}, {0}}
	cfg := func(merge string, seq, state bool) string {
		return fmt.Sprintf(`{"name":"bi","merge_mode":%s,"layer":{"class_name":"SimpleRNN","config":{"name":"r","units":1,"activation":"linear","return_sequences":%v,"return_state":%v}}}`, merge, seq, state)
	}
	for _, c := range []struct {
		merge string
		shape []int
		want  []float64
	}{
		{`"concat"`, []int{1, 3, 2}, []float64{3, 1, 6.5, 2, 10.25, 3}},
		{`"sum"`, []int{1, 3, 1}, []float64{4, 8.5, 13.25}},
		{`"mul"`, []int{1, 3, 1}, []float64{3, 13, 30.75}},
		{`"ave"`, []int{1, 3, 1}, []float64{2, 4.25, 6.625}},
	} {
		l := rnnDecode(t, "Bidirectional", cfg(c.merge, true, false), keras3)
		out := rnnRun(t, l, keras3, w, rnnIn{x: x})
		rnnClose(t, c.merge, out[0], c.shape, c.want, 1e-6)
	}
	l := rnnDecode(t, "Bidirectional", cfg("null", true, true), keras3)
	out := rnnRun(t, l, keras3, w, rnnIn{x: x})
	if len(out) != 4 {
		t.Fatalf("merge null with states: %d outputs, want 4", len(out))
	}
	rnnClose(t, "null forward", out[0], []int{1, 3, 1}, []float64{3, 6.5, 10.25}, 1e-6)
	rnnClose(t, "null backward", out[1], []int{1, 3, 1}, []float64{1, 2, 3}, 1e-6)
	rnnClose(t, "forward state", out[2], []int{1, 1}, []float64{10.25}, 1e-6)
	rnnClose(t, "backward state", out[3], []int{1, 1}, []float64{1}, 1e-6)
	if p := l.Weights()[3].Path; p != "backward_layer/cell/vars/0" {
		t.Errorf("backward kernel path %q, want backward_layer/cell/vars/0", p)
	}

	l = rnnDecode(t, "Bidirectional", cfg(`"concat"`, false, false), keras3)
	out = rnnRun(t, l, keras3, w, rnnIn{x: x})
	rnnClose(t, "last", out[0], []int{1, 2}, []float64{10.25, 1}, 1e-6)

	// Masked last step: with return_sequences both directions output zeros
	// there (Keras >= 2.2), the backward one before reversal at its first step.
	l = rnnDecode(t, "Bidirectional", cfg(`"concat"`, true, false), keras3)
	out = rnnRun(t, l, keras3, w, rnnIn{x: x, mask: []bool{true, true, false}})
	rnnClose(t, "masked", out[0], []int{1, 3, 2}, []float64{3, 1, 6.5, 2, 0, 0}, 1e-6)

	// An explicit backward_layer config (Keras 2.3+ and 3 save it).
	l = rnnDecode(t, "Bidirectional", `{"name":"bi","merge_mode":"sum","layer":{"class_name":"SimpleRNN","config":{"name":"forward_r","units":1,"activation":"linear","return_sequences":true}},
		"backward_layer":{"class_name":"SimpleRNN","config":{"name":"backward_r","units":1,"activation":"relu","return_sequences":true,"go_backwards":true}}}`, keras3)
	out = rnnRun(t, l, keras3, [][]float32{{2}, {0.5}, {1}, {-1}, {0}, {0}}, rnnIn{x: x})
	rnnClose(t, "backward_layer", out[0], []int{1, 3, 1}, []float64{3, 6.5, 10.25}, 1e-6)
}

func TestTimeDistributedHand(t *testing.T) {
	// A linear SimpleRNN (h = 2x + 0.5h + 1) on each of two sequences:
	// (1, 2) -> 3, 6.5 and (3, 0) -> 7, 4.5.
	l := rnnDecode(t, "TimeDistributed", `{"name":"td","layer":{"class_name":"SimpleRNN","config":{"name":"r","units":1,"activation":"linear"}}}`, keras3)
	x := tensor.Must(tensor.Shape{1, 2, 2, 1}, []float32{1, 2, 3, 0})
	out := rnnRun(t, l, keras3, [][]float32{{2}, {0.5}, {1}}, rnnIn{x: x})
	rnnClose(t, "td rnn", out[0], []int{1, 2, 1}, []float64{6.5, 4.5}, 1e-6)
	if p := l.Weights()[0].Path; p != "layer/cell/vars/0" {
		t.Errorf("path %q, want layer/cell/vars/0", p)
	}

	// Keras 1 TimeDistributedDense: W = [[1, 0, 1], [0, 1, 1]], b = (0, 0, 1).
	l = rnnDecode(t, "TimeDistributedDense", `{"name":"tdd","output_dim":3,"activation":"linear"}`, Version{Major: 1})
	x = tensor.Must(tensor.Shape{1, 2, 2}, []float32{1, 2, 3, 4})
	out = rnnRun(t, l, Version{Major: 1}, [][]float32{{1, 0, 1, 0, 1, 1}, {0, 0, 1}}, rnnIn{x: x})
	rnnClose(t, "tdd", out[0], []int{1, 2, 3}, []float64{1, 2, 4, 3, 4, 8}, 1e-6)
}

func TestConvLSTM2DHand(t *testing.T) {
	// Linear activations make the cell polynomial. One row of three
	// columns, one channel, one filter, kernel (1, 2), valid padding.
	// Input taps per gate (kernel[0][tap][0][gate]): i (1, 0), f (0, 0),
	// c (0, 1), o (1, 1); recurrent taps: c (1, 1), others 0; bias f = 1.
	// Step 1, x = (1, 2, 3): i = (1, 2), f = 1, c~ = (2, 3), o = (3, 5):
	// c = (2, 6), h = (6, 30).
	// Step 2, x = (1, 1, 1): the recurrent "same" conv pads one zero at
	// the end: rec_c = (6+30, 30) so c~ = (37, 31), i = (1, 1), o = (2, 2):
	// c = (2+37, 6+31) = (39, 37), h = (78, 74).
	cfg := `{"name":"cl","filters":1,"kernel_size":[1,2],"padding":"valid","activation":"linear","recurrent_activation":"linear","return_sequences":true,"return_state":true%s}`
	weights := [][]float32{{1, 0, 0, 1, 0, 0, 1, 1}, {0, 0, 1, 0, 0, 0, 1, 0}, {0, 1, 0, 0}}
	l := rnnDecode(t, "ConvLSTM2D", fmt.Sprintf(cfg, ""), keras3)
	x := tensor.Must(tensor.Shape{1, 2, 1, 3, 1}, []float32{1, 2, 3, 1, 1, 1})
	out := rnnRun(t, l, keras3, weights, rnnIn{x: x})
	rnnClose(t, "sequence", out[0], []int{1, 2, 1, 2, 1}, []float64{6, 30, 78, 74}, 1e-5)
	rnnClose(t, "h", out[1], []int{1, 1, 2, 1}, []float64{78, 74}, 1e-5)
	rnnClose(t, "c", out[2], []int{1, 1, 2, 1}, []float64{39, 37}, 1e-5)

	// channels_first: the same numbers in (batch, time, channels, rows, cols).
	l = rnnDecode(t, "ConvLSTM2D", fmt.Sprintf(cfg, `,"data_format":"channels_first"`), keras3)
	x = tensor.Must(tensor.Shape{1, 2, 1, 1, 3}, []float32{1, 2, 3, 1, 1, 1})
	out = rnnRun(t, l, keras3, weights, rnnIn{x: x})
	rnnClose(t, "channels_first", out[0], []int{1, 2, 1, 1, 2}, []float64{6, 30, 78, 74}, 1e-5)

	// A Theano file's kernels are flipped: saving them reversed gives the same.
	l = rnnDecode(t, "ConvLSTM2D", fmt.Sprintf(cfg, ""), Version{Major: 2, Backend: "theano"})
	x = tensor.Must(tensor.Shape{1, 2, 1, 3, 1}, []float32{1, 2, 3, 1, 1, 1})
	flipped := [][]float32{{0, 0, 1, 1, 1, 0, 0, 1}, {0, 0, 1, 0, 0, 0, 1, 0}, {0, 1, 0, 0}}
	out = rnnRun(t, l, Version{Major: 2, Backend: "theano"}, flipped, rnnIn{x: x})
	rnnClose(t, "theano", out[0], []int{1, 2, 1, 2, 1}, []float64{6, 30, 78, 74}, 1e-5)
}
