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

// coreTol is the absolute tolerance for hand-computed expectations: the
// values are exact decimals, so only float32 rounding separates them.
const coreTol = 1e-5

// coreTestVersion is the Keras version the test builder lowers for.
var coreTestVersion Version

// coreNew decodes a layer from a config given as Go JSON text.
func coreNew(t *testing.T, class, config string, v ...Version) Layer {
	t.Helper()
	ctx := &DecodeContext{}
	if len(v) > 0 {
		ctx.Version = v[0]
	}
	l, err := New(class, json.RawMessage(config), ctx)
	if err != nil {
		t.Fatalf("New(%s): %v", class, err)
	}
	return l
}

// coreSetWeights fills the layer's weights in order.
func coreSetWeights(t *testing.T, l Layer, vals ...[]float32) {
	t.Helper()
	ws := l.Weights()
	if len(ws) != len(vals) {
		t.Fatalf("%s has %d weights, test gives %d", l.Name(), len(ws), len(vals))
	}
	for i, w := range ws {
		if w.Value.Len() != len(vals[i]) {
			t.Fatalf("weight %s has %d values (shape %v), test gives %d", w.Name, w.Value.Len(), w.Shape, len(vals[i]))
		}
		if w.Value.DType() != tensor.Float32 {
			continue // an integer counter such as Normalization's count
		}
		copy(w.Value.F32(), vals[i])
	}
}

// coreIn is one test input: a Keras shape (batch -1 allowed) and a value.
type coreIn struct {
	shape Shape
	val   *tensor.Tensor
	mask  *tensor.Tensor // optional bool [batch, time] mask
}

func coreF(shape []int, v ...float32) *tensor.Tensor { return tensor.From(tensor.Shape(shape), v) }

// coreLower builds the layer for the inputs' Keras shapes and lowers it into
// a fresh graph; it returns the graph and the symbolic outputs.
func coreLower(l Layer, ins []coreIn, weights func()) (*graph.Graph, []Tensor, []Shape, error) {
	g := &graph.Graph{}
	var shapes []Shape
	var ts []Tensor
	for i, in := range ins {
		name := fmt.Sprintf("in%d", i)
		dims := append([]int(nil), in.shape...)
		g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(in.val.DType(), dims...)})
		tt := Tensor{Name: name, Shape: in.shape, DType: in.val.DType()}
		if in.mask != nil {
			tt.Mask = name + "_mask"
			g.Inputs = append(g.Inputs, &graph.Value{Name: tt.Mask, Type: graph.TensorType(tensor.Bool, in.mask.Shape()...)})
		}
		shapes = append(shapes, in.shape)
		ts = append(ts, tt)
	}
	outShapes, err := l.Build(shapes)
	if err != nil {
		return nil, nil, nil, err
	}
	if weights != nil {
		weights()
	}
	b := NewBuilder(g)
	b.Layer = l
	b.Version = coreTestVersion
	outs, err := l.Lower(b, ts)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, o := range outs {
		g.Outputs = append(g.Outputs, &graph.Value{Name: o.Name, Type: graph.TensorType(o.DType, o.Shape...)})
		if o.Mask != "" {
			g.Outputs = append(g.Outputs, &graph.Value{Name: o.Mask, Type: graph.TensorType(tensor.Bool, o.Shape[:2]...)})
		}
	}
	return g, outs, outShapes, nil
}

// coreRun lowers the layer, runs it and returns the outputs (and output
// masks, when present, after each output).
func coreRun(t *testing.T, l Layer, ins []coreIn, weights ...[]float32) ([]*tensor.Tensor, []Tensor) {
	t.Helper()
	g, outs, outShapes, err := coreLower(l, ins, func() {
		if len(weights) > 0 {
			coreSetWeights(t, l, weights...)
		}
	})
	if err != nil {
		t.Fatalf("%s: %v", l.Class(), err)
	}
	for i, o := range outs {
		if fmt.Sprint(o.Shape) != fmt.Sprint(outShapes[i]) {
			t.Errorf("%s: Lower shape %v, Build shape %v", l.Class(), o.Shape, outShapes[i])
		}
	}
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatalf("%s: compile: %v", l.Class(), err)
	}
	feed := map[string]*tensor.Tensor{}
	for i, in := range ins {
		feed[fmt.Sprintf("in%d", i)] = in.val
		if in.mask != nil {
			feed[fmt.Sprintf("in%d_mask", i)] = in.mask
		}
	}
	res, err := p.Run(feed)
	if err != nil {
		t.Fatalf("%s: run: %v", l.Class(), err)
	}
	var vals []*tensor.Tensor
	for _, o := range g.Outputs {
		vals = append(vals, res[o.Name])
	}
	return vals, outs
}

// coreCheck compares a result with expected values and shape.
func coreCheck(t *testing.T, what string, got *tensor.Tensor, shape []int, want ...float32) {
	t.Helper()
	if fmt.Sprint([]int(got.Shape())) != fmt.Sprint(shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), shape)
	}
	g := got.Float64s()
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(want))
	}
	for i := range want {
		if math.Abs(g[i]-float64(want[i])) > coreTol || math.IsNaN(g[i]) {
			t.Fatalf("%s: value %d is %v, want %v (all: %v)", what, i, g[i], want[i], g)
		}
	}
}

func coreCheckBools(t *testing.T, what string, got *tensor.Tensor, want ...bool) {
	t.Helper()
	g := got.Bools()
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("%s: %v, want %v", what, g, want)
	}
}

func coreWantUnsupported(t *testing.T, err error) {
	t.Helper()
	if err == nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

func TestDense(t *testing.T) {
	l := coreNew(t, "Dense", `{"name": "d", "units": 2, "activation": "relu", "use_bias": true}`)
	// x = [[1, 2, 3], [-1, 0, 1]], kernel = [[1, -1], [0, 1], [2, 0]], bias = [0.5, -4]
	// x·k = [[7, 1], [1, 1]] + b = [[7.5, -3], [1.5, -3]] -> relu
	out, _ := coreRun(t, l, []coreIn{{shape: Shape{-1, 3}, val: coreF([]int{2, 3}, 1, 2, 3, -1, 0, 1)}},
		[]float32{1, -1, 0, 1, 2, 0}, []float32{0.5, -4})
	coreCheck(t, "Dense", out[0], []int{2, 2}, 7.5, 0, 1.5, 0)
	if ws := l.Weights(); ws[0].Name != "kernel" || fmt.Sprint(ws[0].Shape) != "[3 2]" || ws[1].Name != "bias" {
		t.Errorf("weights %s %v, %s", ws[0].Name, ws[0].Shape, ws[1].Name)
	}
}

func TestDenseKeras1AndRank3(t *testing.T) {
	// Keras 1: output_dim and bias: false; a [batch, time, features] input.
	l := coreNew(t, "Dense", `{"name": "td", "output_dim": 1, "bias": false, "init": "glorot_uniform", "activation": "linear", "W_regularizer": null}`)
	out, _ := coreRun(t, l, []coreIn{{shape: Shape{-1, 2, 2}, val: coreF([]int{1, 2, 2}, 1, 2, 3, 4)}},
		[]float32{10, 1})
	coreCheck(t, "Dense Keras 1", out[0], []int{1, 2, 1}, 12, 34)
	if len(l.Weights()) != 1 {
		t.Errorf("bias false: %d weights", len(l.Weights()))
	}
}

func TestDenseQuantizedRejected(t *testing.T) {
	_, err := New("Dense", json.RawMessage(`{"name": "q", "units": 2, "dtype": {"class_name": "QuantizedDTypePolicy", "config": {"name": "int8_from_float32"}}}`), nil)
	coreWantUnsupported(t, err)
}
