package layer

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// softmax2 returns the softmax of (a, b).
func softmax2(a, b float64) (float64, float64) {
	m := math.Max(a, b)
	ea, eb := math.Exp(a-m), math.Exp(b-m)
	return ea / (ea + eb), eb / (ea + eb)
}

func TestAttentionHand(t *testing.T) {
	// q = [[1, 0], [0, 1]], v = k = [[1, 2], [3, 4]]: dot scores [[1, 3], [2, 4]].
	q := tensor.Must(tensor.Shape{1, 2, 2}, []float32{1, 0, 0, 1})
	v := tensor.Must(tensor.Shape{1, 2, 2}, []float32{1, 2, 3, 4})
	mix := func(w0, w1 float64) []float64 { return []float64{w0*1 + w1*3, w0*2 + w1*4} }
	rows := func(r ...[]float64) []float64 {
		var o []float64
		for _, x := range r {
			o = append(o, x...)
		}
		return o
	}
	l := rnnDecode(t, "Attention", `{"name":"a","use_scale":true}`, keras3)
	out := rnnRun(t, l, keras3, [][]float32{{0.5}}, rnnIn{x: q}, rnnIn{x: v})
	// scale 0.5: rows [0.5, 1.5] and [1, 2]: both softmax to (1/(1+e), e/(1+e)).
	w0, w1 := softmax2(0, 1)
	rnnClose(t, "dot scaled", out[0], []int{1, 2, 2}, rows(mix(w0, w1), mix(w0, w1)), 1e-6)

	// Rank 2 (batch, dim), as Keras computes it: the products run across
	// the batch, so the same numbers with the batch as the step axis.
	l = rnnDecode(t, "Attention", `{"name":"a","use_scale":true}`, keras2)
	out = rnnRun(t, l, keras2, [][]float32{{0.5}}, rnnIn{x: tensor.Must(tensor.Shape{2, 2}, []float32{1, 0, 0, 1})}, rnnIn{x: tensor.Must(tensor.Shape{2, 2}, []float32{1, 2, 3, 4})})
	rnnClose(t, "rank 2", out[0], []int{2, 2}, rows(mix(w0, w1), mix(w0, w1)), 1e-6)

	// Value mask (true, false): all weight on step 0. Query mask (true, false): row 1 zeroed.
	l = rnnDecode(t, "Attention", `{"name":"a"}`, keras3)
	out = rnnRun(t, l, keras3, nil, rnnIn{x: q, mask: []bool{true, false}}, rnnIn{x: v, mask: []bool{true, false}})
	rnnClose(t, "masked", out[0], []int{1, 2, 2}, []float64{1, 2, 0, 0}, 1e-6)

	// Causal (tf.keras config "causal"): row 0 sees step 0 only; row 1 softmax(2, 4).
	l = rnnDecode(t, "Attention", `{"name":"a","causal":true}`, keras2)
	out = rnnRun(t, l, keras2, nil, rnnIn{x: q}, rnnIn{x: v})
	a0, a1 := softmax2(2, 4)
	rnnClose(t, "causal", out[0], []int{1, 2, 2}, rows([]float64{1, 2}, mix(a0, a1)), 1e-6)

	// concat: score_ij = csw · Σ_d tanh(scale·(q_id + k_jd)), scale 0.5, csw 2.
	l = rnnDecode(t, "Attention", `{"name":"a","use_scale":true,"score_mode":"concat"}`, keras3)
	out = rnnRun(t, l, keras3, [][]float32{{0.5}, {2}}, rnnIn{x: q}, rnnIn{x: v})
	s := func(qi [2]float64, kj [2]float64) float64 {
		return 2 * (math.Tanh(0.5*(qi[0]+kj[0])) + math.Tanh(0.5*(qi[1]+kj[1])))
	}
	qs, ks := [][2]float64{{1, 0}, {0, 1}}, [][2]float64{{1, 2}, {3, 4}}
	var want []float64
	for _, qi := range qs {
		want = append(want, mix(softmax2(s(qi, ks[0]), s(qi, ks[1])))...)
	}
	rnnClose(t, "concat", out[0], []int{1, 2, 2}, want, 1e-6)

	// AdditiveAttention: score_ij = Σ_d scale_d · tanh(q_id + k_jd), scale (1, -1);
	// a separate key k = [[0, 1], [1, 0]].
	l = rnnDecode(t, "AdditiveAttention", `{"name":"a"}`, keras3)
	key := tensor.Must(tensor.Shape{1, 2, 2}, []float32{0, 1, 1, 0})
	out = rnnRun(t, l, keras3, [][]float32{{1, -1}}, rnnIn{x: q}, rnnIn{x: v}, rnnIn{x: key})
	ks = [][2]float64{{0, 1}, {1, 0}}
	add := func(qi, kj [2]float64) float64 { return math.Tanh(qi[0]+kj[0]) - math.Tanh(qi[1]+kj[1]) }
	want = nil
	for _, qi := range qs {
		want = append(want, mix(softmax2(add(qi, ks[0]), add(qi, ks[1])))...)
	}
	rnnClose(t, "additive", out[0], []int{1, 2, 2}, want, 1e-6)
}

func TestMultiHeadAttentionHand(t *testing.T) {
	// One head, key_dim 1: Q = q_0, K = k_1, V = k_0 + k_1 + 0.5;
	// out = (ctx, 1 - ctx) with ctx = softmax(Q_i·K_j)·V.
	q := tensor.Must(tensor.Shape{1, 2, 2}, []float32{1, 0, 2, 0})
	v := tensor.Must(tensor.Shape{1, 2, 2}, []float32{0, 1, 0, 3})
	w := [][]float32{{1, 0}, {0}, {0, 1}, {0}, {1, 1}, {0.5}, {1, -1}, {0, 1}}
	l := rnnDecode(t, "MultiHeadAttention", `{"name":"m","num_heads":1,"key_dim":1}`, keras3)
	out := rnnRun(t, l, keras3, w, rnnIn{x: q}, rnnIn{x: v})
	V := []float64{1.5, 3.5}
	var want []float64
	for _, Q := range []float64{1, 2} {
		a, b := softmax2(Q*1, Q*3)
		c := a*V[0] + b*V[1]
		want = append(want, c, 1-c)
	}
	rnnClose(t, "mha", out[0], []int{1, 2, 2}, want, 1e-5)
	if p := l.Weights()[6].Path; p != "output_dense/vars/0" {
		t.Errorf("output kernel path %q", p)
	}

	// Value mask (true, false) and causal: both rows attend to step 0 only.
	l = rnnDecode(t, "MultiHeadAttention", `{"name":"m","num_heads":1,"key_dim":1}`, keras3)
	l.(*MultiHeadAttention).UseCausalMask = true
	out = rnnRun(t, l, keras3, w, rnnIn{x: q}, rnnIn{x: v, mask: []bool{true, false}})
	rnnClose(t, "mha masked", out[0], []int{1, 2, 2}, []float64{1.5, -0.5, 1.5, -0.5}, 1e-5)

	// Two heads with key_dim 2 and identity-like projections: head h reads
	// feature h of q and k (scaled by 1/sqrt(2)) and of v.
	q2 := tensor.Must(tensor.Shape{1, 1, 2}, []float32{1, 2})
	kv := tensor.Must(tensor.Shape{1, 2, 2}, []float32{1, 0, 0, 1})
	// kernels (2, 2, 2): [d][h][j] = 1 if d == h and j == 0.
	id := []float32{1, 0, 0, 0, 0, 0, 1, 0}
	// output kernel (2 heads, 2, 2): head h's first value dim goes to output h.
	wo := []float32{1, 0, 0, 0, 0, 1, 0, 0}
	l = rnnDecode(t, "MultiHeadAttention", `{"name":"m","num_heads":2,"key_dim":2,"use_bias":false}`, keras3)
	out = rnnRun(t, l, keras3, [][]float32{id, id, id, wo}, rnnIn{x: q2}, rnnIn{x: kv})
	r := 1 / math.Sqrt(2)
	// head 0: scores q_0·k_j0 / sqrt2 = (1, 0)·r; values k_j0 = (1, 0).
	a0, _ := softmax2(1*r, 0)
	// head 1: scores 2·k_j1·r = (0, 2r); values (0, 1).
	_, b1 := softmax2(0, 2*r)
	rnnClose(t, "two heads", out[0], []int{1, 1, 2}, []float64{a0, b1}, 1e-5)
}
