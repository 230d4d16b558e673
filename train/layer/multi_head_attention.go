package layer

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// MultiHeadAttention is keras.layers.MultiHeadAttention for (batch, steps,
// dim) inputs with attention over the steps axis (attention_axes null or
// [1]). Inputs are [query, value] or [query, value, key] (key defaults to
// value). With H = num_heads and the EinsumDense weights as Keras saves them
// (query/kernel (dq, H, key_dim), query/bias (H, key_dim), key/...,
// value/kernel (dv, H, value_dim), value/bias, attention_output/kernel (H,
// value_dim, out), attention_output/bias (out); no biases without
// use_bias):
//
//	Q = query·Wq + bq, K = key·Wk + bk, V = value·Wv + bv   (per head)
//	S = (Q / sqrt(key_dim))·Kᵀ            (B, H, Tq, Tk)
//	A = softmax(S + (1 - mask)·(-1e9))    over Tk
//	out = concat_heads(A·V)·Wo + bo
//
// Inputs come from the call as Keras 3 and tf.keras record it: query and
// value positionally or by keyword, key (a third positional argument or
// key=), and the mask arguments query_mask, value_mask, key_mask (bool (B,
// T)) and attention_mask ((B, Tq, Tk), nonzero keeps). A layer used from Go
// takes [query, value] or [query, value, key].
//
// The mask is Keras's _compute_attention_mask: the query mask (Tq, 1), the
// value mask (1, Tk), the key mask (1, Tk, only when a key is passed), the
// causal lower triangle when use_causal_mask, and attention_mask, all
// and-ed; masked scores get -1e9 added before the softmax, as Keras's
// Softmax layer does. The query, value and key masks are the call's
// explicit arguments or, where absent, the tensors' own Keras masks (Keras
// fills the *_mask arguments from them). Recent Keras 3 versions read the
// query mask only from the query tensor and ignore an explicit query_mask;
// kiln honours an explicit one, as Keras did when the argument was added.
// The output keeps the query's mask. use_causal_mask and
// return_attention_scores are call arguments read from CallInfo;
// UseCausalMask and ReturnAttentionScores are their values for a layer used
// from Go. return_attention_scores adds A (B, H, Tq, Tk) as a second output
// (Keras's symbolic shape says (B, H, Tq, Tq), which is wrong when Tk !=
// Tq; kiln reports the real one). Dropout is ignored (inference). In a
// .keras file the weights live under query_dense/, key_dense/, value_dense/
// and output_dense/.
type MultiHeadAttention struct {
	Base
	NumHeads      int             `json:"num_heads"`
	KeyDim        int             `json:"key_dim"`
	ValueDim      *int            `json:"value_dim"`
	Dropout       float64         `json:"dropout"`
	UseBias       *bool           `json:"use_bias,omitempty"`
	OutputShape   json.RawMessage `json:"output_shape,omitempty"`
	AttentionAxes json.RawMessage `json:"attention_axes,omitempty"`
	// UseCausalMask and ReturnAttentionScores are call arguments.
	UseCausalMask         bool `json:"-"`
	ReturnAttentionScores bool `json:"-"`
	outDim                int
}

func init() {
	Register("MultiHeadAttention", func() Layer { return &MultiHeadAttention{} })
}

// DecodeConfig reads the config and refuses what kiln does not lower.
func (l *MultiHeadAttention) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	if l.NumHeads <= 0 || l.KeyDim <= 0 {
		return fmt.Errorf("num_heads %d and key_dim %d must be positive", l.NumHeads, l.KeyDim)
	}
	if a := string(l.AttentionAxes); a != "" && a != "null" {
		var axes []int
		if err := json.Unmarshal(l.AttentionAxes, &axes); err != nil {
			var one int
			if json.Unmarshal(l.AttentionAxes, &one) != nil {
				return fmt.Errorf("attention_axes %s: %w", a, err)
			}
			axes = []int{one}
		}
		if len(axes) != 1 || (axes[0] != 1 && axes[0] != -2) {
			return fmt.Errorf("attention_axes %s: only attention over axis 1 of (batch, steps, dim) inputs is supported: %w", a, ErrUnsupported)
		}
	}
	if o := string(l.OutputShape); o != "" && o != "null" {
		var dims []int
		if err := json.Unmarshal(l.OutputShape, &dims); err != nil {
			var one int
			if json.Unmarshal(l.OutputShape, &one) != nil {
				return fmt.Errorf("output_shape %s: %w", o, err)
			}
			dims = []int{one}
		}
		if len(dims) != 1 {
			return fmt.Errorf("output_shape %s: only a single output dimension is supported: %w", o, ErrUnsupported)
		}
		l.outDim = dims[0]
	}
	return nil
}

func (l *MultiHeadAttention) valueDim() int {
	if l.ValueDim != nil && *l.ValueDim > 0 {
		return *l.ValueDim
	}
	return l.KeyDim
}

func (l *MultiHeadAttention) useBias() bool { return l.UseBias == nil || *l.UseBias }

// mhaCall is one call's inputs (positions in the flat input list, -1 when
// absent) and flags.
type mhaCall struct {
	q, v, k, qMask, vMask, kMask, attnMask int
	causal, scores                         bool
}

func (l *MultiHeadAttention) callArgs(n int, call *CallInfo) (mhaCall, error) {
	c := mhaCall{q: call.Arg(n, 0, "query"), v: call.Arg(n, 1, "value"), k: call.Arg(n, 2, "key"),
		qMask: call.Arg(n, -1, "query_mask"), vMask: call.Arg(n, -1, "value_mask"),
		kMask: call.Arg(n, -1, "key_mask"), attnMask: call.Arg(n, -1, "attention_mask")}
	if c.q < 0 || c.v < 0 {
		return c, fmt.Errorf("MultiHeadAttention %q: takes [query, value] or [query, value, key], got %d inputs", l.Name(), n)
	}
	var err error
	if c.causal, err = call.Bool("use_causal_mask", l.UseCausalMask); err != nil {
		return c, coreErr(l, err)
	}
	if c.scores, err = call.Bool("return_attention_scores", l.ReturnAttentionScores); err != nil {
		return c, coreErr(l, err)
	}
	if call == nil && n > 3 {
		return c, fmt.Errorf("MultiHeadAttention %q: takes [query, value] or [query, value, key], got %d inputs", l.Name(), n)
	}
	return c, nil
}

// Build creates the four projections' weights in Keras's order.
func (l *MultiHeadAttention) Build(in []Shape) ([]Shape, error) { return l.BuildCall(in, nil) }

// BuildCall is Build for one call of the layer in a model.
func (l *MultiHeadAttention) BuildCall(in []Shape, call *CallInfo) ([]Shape, error) {
	c, err := l.callArgs(len(in), call)
	if err != nil {
		return nil, err
	}
	q, v := in[c.q], in[c.v]
	k := v
	if c.k >= 0 {
		k = in[c.k]
	}
	for _, s := range []Shape{q, v, k} {
		if len(s) != 3 || s[2] < 0 {
			return nil, fmt.Errorf("MultiHeadAttention %q: input shape %s: want (batch, steps, known dim): %w", l.Name(), s, ErrUnsupported)
		}
	}
	if v[1] >= 0 && k[1] >= 0 && v[1] != k[1] {
		return nil, fmt.Errorf("MultiHeadAttention %q: value %s and key %s must have the same number of steps", l.Name(), v, k)
	}
	if c.attnMask >= 0 && len(in[c.attnMask]) != 3 {
		return nil, fmt.Errorf("MultiHeadAttention %q: attention_mask shape %s: want (batch, query steps, key steps)", l.Name(), in[c.attnMask])
	}
	h, kd, vd := l.NumHeads, l.KeyDim, l.valueDim()
	out := l.outDim
	if out == 0 {
		out = q[2]
	}
	if !l.Built {
		// Legacy h5 names ("query/kernel") and .keras paths ("query_dense/vars/0").
		add := func(part, dense string, kernel, bias []int) {
			l.AddWeight(part+"/kernel", kernel, true).Path = dense + "/vars/0"
			if l.useBias() {
				l.AddWeight(part+"/bias", bias, true).Path = dense + "/vars/1"
			}
		}
		add("query", "query_dense", []int{q[2], h, kd}, []int{h, kd})
		add("key", "key_dense", []int{k[2], h, kd}, []int{h, kd})
		add("value", "value_dense", []int{v[2], h, vd}, []int{h, vd})
		add("attention_output", "output_dense", []int{h, vd, out}, []int{out})
		l.Built = true
	}
	res := []Shape{{q[0], q[1], out}}
	if c.scores {
		res = append(res, Shape{q[0], h, q[1], v[1]})
	}
	return res, nil
}

// Lower appends the attention.
func (l *MultiHeadAttention) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	return l.LowerCall(b, in, nil)
}

// LowerCall is Lower for one call of the layer in a model.
func (l *MultiHeadAttention) LowerCall(b *Builder, in []Tensor, call *CallInfo) ([]Tensor, error) {
	c, err := l.callArgs(len(in), call)
	if err != nil {
		return nil, err
	}
	q, v := in[c.q], in[c.v]
	k := v
	if c.k >= 0 {
		k = in[c.k]
	}
	qMask, vMask, kMask := q.Mask, v.Mask, ""
	if c.k >= 0 {
		kMask = k.Mask
	}
	if c.qMask >= 0 {
		qMask = in[c.qMask].Name
	}
	if c.vMask >= 0 {
		vMask = in[c.vMask].Name
	}
	if c.kMask >= 0 {
		kMask = in[c.kMask].Name
	}
	h, kd, vd := l.NumHeads, l.KeyDim, l.valueDim()
	per := 2
	if !l.useBias() {
		per = 1
	}
	// project returns x·W (+ b) split into heads: (B, H, T, dim).
	project := func(x Tensor, part, dim int) string {
		w := b.Param(l.W[part*per])
		w = b.Op("Reshape", nil, w, b.Ints(int64(x.Shape[2]), int64(h*dim)))
		y := b.Op("MatMul", nil, x.Name, w)
		if per == 2 {
			y = b.Op("Add", nil, y, b.Op("Reshape", nil, b.Param(l.W[part*per+1]), b.Ints(int64(h*dim))))
		}
		y = b.Op("Reshape", nil, y, b.Ints(0, 0, int64(h), int64(dim)))
		return b.Op("Transpose", graph.Attrs{"perm": []int64{0, 2, 1, 3}}, y)
	}
	qh := project(q, 0, kd)
	kh := project(k, 1, kd)
	vh := project(v, 2, vd)
	qh = b.Op("Mul", nil, qh, b.Scalar(float32(1/math.Sqrt(float64(kd)))))
	scores := b.Op("MatMul", nil, qh, b.Op("Transpose", graph.Attrs{"perm": []int64{0, 1, 3, 2}}, kh))

	// The attention mask (B, Tq, Tk) as 1/0, from the inputs' masks.
	f32 := func(m string) string { return b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, m) }
	var keep string
	and := func(m string) {
		if keep == "" {
			keep = m
		} else {
			keep = b.Op("Mul", nil, keep, m)
		}
	}
	if qMask != "" {
		and(b.Op("Unsqueeze", nil, f32(qMask), b.Ints(-1)))
	}
	if vMask != "" {
		and(b.Op("Unsqueeze", nil, f32(vMask), b.Ints(1)))
	}
	if kMask != "" {
		and(b.Op("Unsqueeze", nil, f32(kMask), b.Ints(1)))
	}
	if c.attnMask >= 0 {
		// Nonzero keeps: cast to bool first, as Keras does.
		and(f32(b.Op("Cast", graph.Attrs{"to": int64(tensor.Bool)}, in[c.attnMask].Name)))
	}
	if c.causal {
		// (Tq, Tk) ones, lower triangle kept; broadcasts over the batch.
		shape := rnnShapeRange(b, scores, 2, 4)
		ones := b.Op("ConstantOfShape", graph.Attrs{"value": tensor.Must(tensor.Shape{1}, []float32{1})}, shape)
		and(b.Op("Trilu", graph.Attrs{"upper": int64(0)}, ones))
	}
	if keep != "" {
		keep = b.Op("Unsqueeze", nil, keep, b.Ints(-3)) // heads: (B or 1, 1, Tq, Tk)
		adder := b.Op("Mul", nil, b.Op("Sub", nil, b.Scalar(1), keep), b.Scalar(-1e9))
		scores = b.Op("Add", nil, scores, adder)
	}
	probs := b.Op("Softmax", graph.Attrs{"axis": int64(-1)}, scores)
	ctx := b.Op("MatMul", nil, probs, vh) // (B, H, Tq, vd)
	ctx = b.Op("Transpose", graph.Attrs{"perm": []int64{0, 2, 1, 3}}, ctx)
	ctx = b.Op("Reshape", nil, ctx, b.Ints(0, 0, int64(h*vd)))
	out := l.outDim
	if out == 0 {
		out = q.Shape[2]
	}
	wo := b.Op("Reshape", nil, b.Param(l.W[3*per]), b.Ints(int64(h*vd), int64(out)))
	y := b.Op("MatMul", nil, ctx, wo)
	if per == 2 {
		y = b.Op("Add", nil, y, b.Param(l.W[3*per+1]))
	}
	res := []Tensor{{Name: y, Shape: Shape{q.Shape[0], q.Shape[1], out}, DType: tensor.Float32, Mask: qMask}}
	if c.scores {
		res = append(res, Tensor{Name: probs, Shape: Shape{q.Shape[0], h, q.Shape[1], v.Shape[1]}, DType: tensor.Float32})
	}
	return res, nil
}
