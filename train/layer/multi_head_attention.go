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
// The mask is the query mask (Tq, 1), value and key masks (1, Tk) and, with
// UseCausalMask (a call argument a loader sets), the lower triangle, all
// and-ed, as Keras's _compute_attention_mask does; the output keeps the
// query's mask. Dropout is ignored (inference). ReturnAttentionScores (a call
// argument) adds A as a second output. In a .keras file the weights live
// under query_dense/, key_dense/, value_dense/ and output_dense/.
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

// Build creates the four projections' weights in Keras's order.
func (l *MultiHeadAttention) Build(in []Shape) ([]Shape, error) {
	if len(in) < 2 || len(in) > 3 {
		return nil, fmt.Errorf("MultiHeadAttention %q: takes [query, value] or [query, value, key], got %d inputs", l.Name(), len(in))
	}
	q, v := in[0], in[1]
	k := v
	if len(in) > 2 {
		k = in[2]
	}
	for _, s := range []Shape{q, v, k} {
		if len(s) != 3 || s[2] < 0 {
			return nil, fmt.Errorf("MultiHeadAttention %q: input shape %s: want (batch, steps, known dim): %w", l.Name(), s, ErrUnsupported)
		}
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
	if l.ReturnAttentionScores {
		res = append(res, Shape{q[0], h, q[1], v[1]})
	}
	return res, nil
}

// Lower appends the attention.
func (l *MultiHeadAttention) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	q, v := in[0], in[1]
	k := v
	if len(in) > 2 {
		k = in[2]
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
	if q.Mask != "" {
		and(b.Op("Unsqueeze", nil, f32(q.Mask), b.Ints(-1)))
	}
	if v.Mask != "" {
		and(b.Op("Unsqueeze", nil, f32(v.Mask), b.Ints(1)))
	}
	if len(in) > 2 && k.Mask != "" {
		and(b.Op("Unsqueeze", nil, f32(k.Mask), b.Ints(1)))
	}
	if l.UseCausalMask {
		// (Tq, Tk) ones, lower triangle kept.
		shape := rnnShapeRange(b, scores, 2, 4)
		ones := b.Op("ConstantOfShape", graph.Attrs{"value": tensor.Must(tensor.Shape{1}, []float32{1})}, shape)
		and(b.Op("Trilu", graph.Attrs{"upper": int64(0)}, ones))
	}
	if keep != "" {
		if q.Mask == "" && v.Mask == "" && k.Mask == "" {
			keep = b.Op("Unsqueeze", nil, keep, b.Ints(0)) // the causal mask alone: (1, Tq, Tk)
		}
		keep = b.Op("Unsqueeze", nil, keep, b.Ints(1)) // heads
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
	res := []Tensor{{Name: y, Shape: Shape{q.Shape[0], q.Shape[1], out}, DType: tensor.Float32, Mask: q.Mask}}
	if l.ReturnAttentionScores {
		res = append(res, Tensor{Name: probs, Shape: Shape{q.Shape[0], h, q.Shape[1], v.Shape[1]}, DType: tensor.Float32})
	}
	return res, nil
}
