package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestRecurrent(t *testing.T) {
	f32 := func(s tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(s, v) }
	x := f32(tensor.Shape{2, 1, 1}, 1, 2) // seq 2, batch 1, input 1
	th := math.Tanh
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

	// RNN, W = 1, R = 0.5: h1 = tanh(1), h2 = tanh(2 + 0.5·h1).
	outs, err := rdRun(t, "RNN", graph.Attrs{"hidden_size": int64(1)}, x, f32(tensor.Shape{1, 1, 1}, 1), f32(tensor.Shape{1, 1, 1}, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	h1 := th(1)
	h2 := th(2 + 0.5*h1)
	rdClose(t, "RNN Y", outs[0], tensor.Shape{2, 1, 1, 1}, []float64{h1, h2})
	rdClose(t, "RNN Y_h", outs[1], tensor.Shape{1, 1, 1}, []float64{h2})

	// Bidirectional: the reverse direction reads X backwards.
	outs, err = rdRun(t, "RNN", graph.Attrs{"hidden_size": int64(1), "direction": "bidirectional"}, x,
		f32(tensor.Shape{2, 1, 1}, 1, 1), f32(tensor.Shape{2, 1, 1}, 0.5, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	r1 := th(2)
	r2 := th(1 + 0.5*r1)
	rdClose(t, "RNN bidi Y", outs[0], tensor.Shape{2, 2, 1, 1}, []float64{h1, r2, h2, r1})
	rdClose(t, "RNN bidi Y_h", outs[1], tensor.Shape{2, 1, 1}, []float64{h2, r2})

	// sequence_lens 1: the second step is padding (zeros in Y).
	outs, err = rdRun(t, "RNN", graph.Attrs{"hidden_size": int64(1)}, x, f32(tensor.Shape{1, 1, 1}, 1), f32(tensor.Shape{1, 1, 1}, 0.5),
		nil, tensor.From(tensor.Shape{1}, []int32{1}))
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "RNN seq_lens Y", outs[0], tensor.Shape{2, 1, 1, 1}, []float64{h1, 0})
	rdClose(t, "RNN seq_lens Y_h", outs[1], tensor.Shape{1, 1, 1}, []float64{h1})

	// GRU with zero weights: z = r = 0.5, candidate tanh(0) = 0, so each step
	// halves the state.
	zeros := func(s ...int) *tensor.Tensor { return tensor.New(tensor.Float32, s...) }
	outs, err = rdRun(t, "GRU", graph.Attrs{"hidden_size": int64(1)}, x, zeros(1, 3, 1), zeros(1, 3, 1), nil, nil, f32(tensor.Shape{1, 1, 1}, 2))
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "GRU Y", outs[0], tensor.Shape{2, 1, 1, 1}, []float64{1, 0.5})

	// LSTM with zero weights and initial_c = 1: i = f = o = 0.5, c̃ = 0.
	outs, err = rdRun(t, "LSTM", graph.Attrs{"hidden_size": int64(1)}, f32(tensor.Shape{1, 1, 1}, 3), zeros(1, 4, 1), zeros(1, 4, 1),
		nil, nil, nil, f32(tensor.Shape{1, 1, 1}, 1))
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "LSTM Y_h", outs[1], tensor.Shape{1, 1, 1}, []float64{0.5 * th(0.5)})
	rdClose(t, "LSTM Y_c", outs[2], tensor.Shape{1, 1, 1}, []float64{0.5})

	// LSTM peephole on the input gate: i = σ(Pi·C) with Pi = 2, C = 1.
	outs, err = rdRun(t, "LSTM", graph.Attrs{"hidden_size": int64(1)}, f32(tensor.Shape{1, 1, 1}, 3), zeros(1, 4, 1),
		zeros(1, 4, 1), nil, nil, nil, f32(tensor.Shape{1, 1, 1}, 1), f32(tensor.Shape{1, 3}, 2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_ = sig
	rdClose(t, "LSTM peephole Y_c", outs[2], tensor.Shape{1, 1, 1}, []float64{0.5})

	if _, err := rdRun(t, "RNN", graph.Attrs{"hidden_size": int64(2)}, x, f32(tensor.Shape{1, 1, 1}, 1), f32(tensor.Shape{1, 1, 1}, 0.5)); err == nil {
		t.Fatal("RNN with a W of the wrong shape: want an error")
	}
}
