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
