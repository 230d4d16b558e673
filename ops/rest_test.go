package ops

import (
	"errors"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Expected values below are computed by hand from the ONNX definitions.

func rsRun(t *testing.T, d *Def, attrs graph.Attrs, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	n := &graph.Node{Name: "n", Op: d.Name, Domain: d.Domain, Attrs: attrs}
	vs := make([]Value, len(in))
	for i, x := range in {
		n.Inputs = append(n.Inputs, "x")
		if x != nil {
			vs[i] = x
		} else {
			n.Inputs[i] = ""
		}
	}
	outs, err := d.Run(&EvalContext{Node: n}, vs)
	if err != nil {
		return nil, err
	}
	ts := make([]*tensor.Tensor, len(outs))
	for i, o := range outs {
		ts[i], _ = o.(*tensor.Tensor)
	}
	return ts, nil
}

func rsClose(t *testing.T, what string, got *tensor.Tensor, shape tensor.Shape, want []float64) {
	t.Helper()
	if !got.Shape().Equal(shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), shape)
	}
	for i, g := range got.Float64s() {
		if math.Abs(g-want[i]) > 1e-6*(1+math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %v, want %v (all %v)", what, i, g, want[i], got.Float64s())
		}
	}
}

func rsF32(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }

func TestSwiGLU(t *testing.T) {
	out, err := rsRun(t, SwiGLU, nil, rsF32(tensor.Shape{2}, 1, -1), rsF32(tensor.Shape{2}, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	// 1·σ(1)·2 and −1·σ(−1)·3.
	rsClose(t, "alpha 1", out[0], tensor.Shape{2}, []float64{2 / (1 + math.Exp(-1)), -3 / (1 + math.Exp(1))})
	out, err = rsRun(t, SwiGLU, graph.Attrs{"alpha": float32(0.5)}, rsF32(tensor.Shape{1}, 2), rsF32(tensor.Shape{1}, 1))
	if err != nil {
		t.Fatal(err)
	}
	rsClose(t, "alpha 0.5", out[0], tensor.Shape{1}, []float64{2 / (1 + math.Exp(-1))})
	if _, err := rsRun(t, SwiGLU, nil, rsF32(tensor.Shape{2}, 1, 2), rsF32(tensor.Shape{1}, 1)); err == nil {
		t.Fatal("mismatched shapes: want an error")
	}
}

func TestTensorScatter(t *testing.T) {
	past := rsF32(tensor.Shape{1, 4, 1}, 0, 0, 0, 0)
	upd := rsF32(tensor.Shape{1, 2, 1}, 1, 2)
	wi := tensor.From(tensor.Shape{1}, []int64{3})
	out, err := rsRun(t, TensorScatter, graph.Attrs{"mode": "circular"}, past, upd, wi)
	if err != nil {
		t.Fatal(err)
	}
	rsClose(t, "circular", out[0], tensor.Shape{1, 4, 1}, []float64{2, 0, 0, 1})
	if _, err := rsRun(t, TensorScatter, nil, past, upd, wi); err == nil {
		t.Fatal("linear write past the end: want an error")
	}
	out, err = rsRun(t, TensorScatter, nil, past, upd, nil)
	if err != nil {
		t.Fatal(err)
	}
	rsClose(t, "linear from 0", out[0], tensor.Shape{1, 4, 1}, []float64{1, 2, 0, 0})
}

func TestCausalConvWithState(t *testing.T) {
	x := rsF32(tensor.Shape{1, 1, 3}, 1, 2, 3)
	w := rsF32(tensor.Shape{1, 1, 2}, 1, 10)
	out, err := rsRun(t, CausalConvWithState, nil, x, w)
	if err != nil {
		t.Fatal(err)
	}
	// padded [0 1 2 3]: 0+10, 1+20, 2+30; state = last K-1 = [3].
	rsClose(t, "output", out[0], tensor.Shape{1, 1, 3}, []float64{10, 21, 32})
	rsClose(t, "state", out[1], tensor.Shape{1, 1, 1}, []float64{3})
	out, err = rsRun(t, CausalConvWithState, graph.Attrs{"activation": "silu"}, x, w, rsF32(tensor.Shape{1}, -10), rsF32(tensor.Shape{1, 1, 1}, 5))
	if err != nil {
		t.Fatal(err)
	}
	// padded [5 1 2 3]: 5+10-10 = 5, 1+20-10 = 11, 2+30-10 = 22, then x·σ(x).
	s := func(v float64) float64 { return v / (1 + math.Exp(-v)) }
	rsClose(t, "silu", out[0], tensor.Shape{1, 1, 3}, []float64{s(5), s(11), s(22)})
}

func TestLinearAttention(t *testing.T) {
	q := rsF32(tensor.Shape{1, 2, 1}, 1, 1)
	k := rsF32(tensor.Shape{1, 2, 1}, 1, 2)
	v := rsF32(tensor.Shape{1, 2, 1}, 3, 4)
	attrs := graph.Attrs{"q_num_heads": int64(1), "kv_num_heads": int64(1), "update_rule": "linear", "scale": float32(1)}
	out, err := rsRun(t, LinearAttention, attrs, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	// S = 1·3 = 3, then 3 + 2·4 = 11.
	rsClose(t, "linear", out[0], tensor.Shape{1, 2, 1}, []float64{3, 11})
	rsClose(t, "state", out[1], tensor.Shape{1, 1, 1, 1}, []float64{11})
	attrs = graph.Attrs{"q_num_heads": int64(1), "kv_num_heads": int64(1), "scale": float32(1)}
	decay := rsF32(tensor.Shape{1, 2, 1}, 0, float32(math.Log(0.5)))
	beta := rsF32(tensor.Shape{1, 2, 1}, 1, 0.5)
	out, err = rsRun(t, LinearAttention, attrs, q, k, v, nil, decay, beta)
	if err != nil {
		t.Fatal(err)
	}
	// t0: v = 1·(3 − 0) = 3, S = 3. t1: S = 1.5, v = 0.5·(4 − 1.5·2) = 0.5,
	// S = 1.5 + 2·0.5 = 2.5.
	rsClose(t, "gated_delta", out[0], tensor.Shape{1, 2, 1}, []float64{3, 2.5})
	if _, err := rsRun(t, LinearAttention, attrs, q, k, v); err == nil {
		t.Fatal("gated_delta without decay: want an error")
	}
}

func TestFlexAttention(t *testing.T) {
	q := rsF32(tensor.Shape{1, 1, 1, 1}, 0)
	k := rsF32(tensor.Shape{1, 1, 2, 1}, 1, 2)
	v := rsF32(tensor.Shape{1, 1, 2, 1}, 3, 5)
	out, err := rsRun(t, FlexAttention, nil, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	// Zero scores: uniform probabilities, the mean of V.
	rsClose(t, "uniform", out[0], tensor.Shape{1, 1, 1, 1}, []float64{4})
	q = rsF32(tensor.Shape{1, 1, 1, 1}, 1)
	out, err = rsRun(t, FlexAttention, graph.Attrs{"scale": float32(math.Log(3))}, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	// Scores ln3, 2·ln3: probabilities 3/12 and 9/12: 0.25·3 + 0.75·5.
	rsClose(t, "scaled", out[0], tensor.Shape{1, 1, 1, 1}, []float64{4.5})
}

func TestTreeEnsemble(t *testing.T) {
	attrs := graph.Attrs{
		"n_targets": int64(1), "tree_roots": []int64{0},
		"nodes_modes":      tensor.From(tensor.Shape{1}, []uint8{0}),
		"nodes_splits":     rsF32(tensor.Shape{1}, 0.5),
		"nodes_featureids": []int64{0}, "nodes_truenodeids": []int64{0}, "nodes_falsenodeids": []int64{1},
		"nodes_trueleafs": []int64{1}, "nodes_falseleafs": []int64{1},
		"leaf_targetids": []int64{0, 0}, "leaf_weights": rsF32(tensor.Shape{2}, 1, 2),
	}
	x := rsF32(tensor.Shape{3, 1}, 0, 1, float32(math.NaN()))
	out, err := rsRun(t, TreeEnsemble, attrs, x)
	if err != nil {
		t.Fatal(err)
	}
	// 0 ≤ 0.5 → leaf 0; 1 → leaf 1; NaN → false branch.
	rsClose(t, "leq", out[0], tensor.Shape{3, 1}, []float64{1, 2, 2})
	attrs["post_transform"] = int64(2)
	out, err = rsRun(t, TreeEnsemble, attrs, x)
	if err != nil {
		t.Fatal(err)
	}
	sg := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	rsClose(t, "logistic", out[0], tensor.Shape{3, 1}, []float64{sg(1), sg(2), sg(2)})
	attrs["nodes_falsenodeids"] = []int64{5}
	if _, err := rsRun(t, TreeEnsemble, attrs, x); err == nil {
		t.Fatal("leaf index out of range: want an error")
	}
}

func TestImageDecoderPNM(t *testing.T) {
	img := append([]byte("P6\n2 1\n255\n"), 255, 0, 0, 0, 0, 255)
	in := tensor.From(tensor.Shape{len(img)}, img)
	for _, c := range []struct {
		format string
		shape  tensor.Shape
		want   []float64
	}{
		{"RGB", tensor.Shape{1, 2, 3}, []float64{255, 0, 0, 0, 0, 255}},
		{"BGR", tensor.Shape{1, 2, 3}, []float64{0, 0, 255, 255, 0, 0}},
		// (19595·255 + 2^15) >> 16 = 76, (7471·255 + 2^15) >> 16 = 29.
		{"Grayscale", tensor.Shape{1, 2, 1}, []float64{76, 29}},
	} {
		out, err := rsRun(t, ImageDecoder, graph.Attrs{"pixel_format": c.format}, in)
		if err != nil {
			t.Fatal(err)
		}
		rsClose(t, c.format, out[0], c.shape, c.want)
	}
	j2k := tensor.From(tensor.Shape{12}, []byte{0, 0, 0, 0x0c, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a})
	if _, err := rsRun(t, ImageDecoder, nil, j2k); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("JPEG 2000: got %v, want ErrUnsupported", err)
	}
	if _, err := rsRun(t, ImageDecoder, nil, tensor.From(tensor.Shape{3}, []byte{1, 2, 3})); err == nil {
		t.Fatal("garbage: want an error")
	}
}
