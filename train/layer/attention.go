package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Attention is keras.layers.Attention (Luong-style) and, with Additive set,
// keras.layers.AdditiveAttention (Bahdanau-style). Inputs are [query (B, Tq,
// dim), value (B, Tv, dim)] and optionally key (B, Tv, dim), which defaults
// to value. Scores (B, Tq, Tv):
//
//	dot:      q·kᵀ, times scale when use_scale
//	concat:   concat_score_weight · Σ_d tanh(scale·(q_i + k_j))   (scale 1 unless use_scale)
//	additive: Σ_d scale_d · tanh(q_i + k_j)                        (scale 1 unless use_scale)
//
// Steps masked out of value (its mask) and, with causal masking, steps j >
// i get 1e9 subtracted from their scores, as Keras does; then out =
// softmax(scores)·v, multiplied by the query mask where there is one (the
// output keeps the query's mask). Dropout applies only in training and is
// ignored. Weights: scale (a scalar; (dim,) for AdditiveAttention) when
// use_scale, then concat_score_weight (a scalar) for score_mode concat.
//
// Inputs of rank 2 (B, dim) are taken as Keras takes them: the matrix
// products then run across the batch (scores are (B, B)), which is what a
// tf.keras model applying Attention to Dense outputs computes.
//
// Causal masking comes from the config's causal (tf.keras before 2.10) or
// from the call argument use_causal_mask (later tf.keras and Keras 3);
// return_attention_scores (a call argument) adds the softmaxed scores
// (B, Tq, Tv) as a second output. A model passes the call's arguments in
// CallInfo (BuildCall, LowerCall); UseCausalMask and ReturnAttentionScores
// are their values for a layer used from Go (Build, Lower). Masks are the
// inputs' Keras masks, or the call's mask=[query_mask, value_mask] list,
// which a model puts on the inputs; the key never has a mask of its own,
// as in Keras.
type Attention struct {
	Base
	UseScale  bool    `json:"use_scale"`
	ScoreMode string  `json:"score_mode"`
	Dropout   float64 `json:"dropout"`
	Causal    bool    `json:"causal"`
	// UseCausalMask and ReturnAttentionScores are call arguments.
	UseCausalMask         bool `json:"-"`
	ReturnAttentionScores bool `json:"-"`
	// Additive marks an AdditiveAttention.
	Additive bool `json:"-"`
}

func init() {
	Register("Attention", func() Layer { return &Attention{} })
	Register("AdditiveAttention", func() Layer { return &Attention{Additive: true} })
}

// DecodeConfig reads the config; AdditiveAttention's use_scale defaults to
// true.
func (l *Attention) DecodeConfig(raw json.RawMessage, _ *DecodeContext) error {
	if l.Additive {
		l.UseScale = true
	}
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	if l.ScoreMode == "" {
		l.ScoreMode = "dot"
	}
	if !l.Additive && l.ScoreMode != "dot" && l.ScoreMode != "concat" {
		return fmt.Errorf("score_mode %q is not dot or concat: %w", l.ScoreMode, ErrUnsupported)
	}
	return nil
}

// attnCall holds one call's arguments.
type attnCall struct{ causal, scores bool }

func (l *Attention) callArgs(n int, call *CallInfo) (attnCall, int, error) {
	var a attnCall
	var err error
	if a.causal, err = call.Bool("use_causal_mask", l.UseCausalMask); err != nil {
		return a, 0, coreErr(l, err)
	}
	a.causal = a.causal || l.Causal
	if a.scores, err = call.Bool("return_attention_scores", l.ReturnAttentionScores); err != nil {
		return a, 0, coreErr(l, err)
	}
	if call != nil && call.NArgs < n {
		n = call.NArgs
	}
	if n < 2 || n > 3 {
		return a, 0, fmt.Errorf("%s %q: takes [query, value] or [query, value, key], got %d inputs", l.Class(), l.Name(), n)
	}
	return a, n, nil
}

// Build creates scale and concat_score_weight as configured.
func (l *Attention) Build(in []Shape) ([]Shape, error) { return l.BuildCall(in, nil) }

// BuildCall is Build for one call of the layer in a model.
func (l *Attention) BuildCall(in []Shape, call *CallInfo) ([]Shape, error) {
	a, _, err := l.callArgs(len(in), call)
	if err != nil {
		return nil, err
	}
	q, v := in[0], in[1]
	if len(q) < 2 || len(v) < 2 {
		return nil, fmt.Errorf("%s %q: query %s and value %s need a batch and a feature dimension", l.Class(), l.Name(), q, v)
	}
	if !l.Built {
		if l.UseScale {
			if l.Additive {
				l.AddWeight("scale", []int{q[len(q)-1]}, true)
			} else {
				l.AddWeight("scale", []int{}, true)
			}
		}
		if !l.Additive && l.ScoreMode == "concat" {
			l.AddWeight("concat_score_weight", []int{}, true)
		}
		l.Built = true
	}
	out := []Shape{attnOutShape(q, v)}
	if a.scores {
		out = append(out, append(q[:len(q)-1].Clone(), v[len(v)-2]))
	}
	return out, nil
}

// Lower appends the attention.
func (l *Attention) Lower(b *Builder, in []Tensor) ([]Tensor, error) { return l.LowerCall(b, in, nil) }

// LowerCall is Lower for one call of the layer in a model.
func (l *Attention) LowerCall(b *Builder, in []Tensor, call *CallInfo) ([]Tensor, error) {
	a, n, err := l.callArgs(len(in), call)
	if err != nil {
		return nil, err
	}
	q, v := in[0], in[1]
	k := v
	if n > 2 {
		k = in[2]
	}
	var scores string
	wi := 0
	var scale string
	if l.UseScale {
		scale = b.Param(l.W[0])
		wi++
	}
	if !l.Additive && l.ScoreMode == "dot" {
		r := len(k.Shape)
		perm := make([]int64, r)
		for i := range perm {
			perm[i] = int64(i)
		}
		perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
		scores = b.Op("MatMul", nil, q.Name, b.Op("Transpose", graph.Attrs{"perm": perm}, k.Name))
		if scale != "" {
			scores = b.Op("Mul", nil, scores, scale)
		}
	} else {
		// q (B, Tq, 1, d) + k (B, 1, Tv, d)
		sum := b.Op("Add", nil, b.Op("Unsqueeze", nil, q.Name, b.Ints(-2)), b.Op("Unsqueeze", nil, k.Name, b.Ints(-3)))
		if l.Additive {
			t := b.Op("Tanh", nil, sum)
			if scale != "" {
				t = b.Op("Mul", nil, scale, t)
			}
			scores = b.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, t, b.Ints(-1))
		} else {
			if scale != "" {
				sum = b.Op("Mul", nil, scale, sum)
			}
			scores = b.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, b.Op("Tanh", nil, sum), b.Ints(-1))
			scores = b.Op("Mul", nil, b.Param(l.W[wi]), scores)
		}
	}
	// The score mask: value mask (B, 1, Tv) and the causal mask (Tq, Tv), as 1/0.
	var keep string
	if v.Mask != "" {
		keep = b.Op("Unsqueeze", nil, b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, v.Mask), b.Ints(-2))
	}
	if a.causal {
		ones := b.Op("ConstantOfShape", graph.Attrs{"value": tensor.Must(tensor.Shape{1}, []float32{1})}, b.Op("Shape", nil, scores))
		causal := b.Op("Trilu", graph.Attrs{"upper": int64(0)}, ones)
		if keep != "" {
			keep = b.Op("Mul", nil, keep, causal)
		} else {
			keep = causal
		}
	}
	if keep != "" {
		pad := b.Op("Sub", nil, b.Scalar(1), keep)
		scores = b.Op("Sub", nil, scores, b.Op("Mul", nil, b.Scalar(1e9), pad))
	}
	weights := b.Op("Softmax", graph.Attrs{"axis": int64(-1)}, scores)
	out := b.Op("MatMul", nil, weights, v.Name)
	if q.Mask != "" {
		out = b.Op("Mul", nil, out, b.Op("Unsqueeze", nil, b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, q.Mask), b.Ints(-1)))
	}
	res := []Tensor{{Name: out, Shape: attnOutShape(q.Shape, v.Shape), DType: tensor.Float32, Mask: q.Mask}}
	if a.scores {
		res = append(res, Tensor{Name: weights, Shape: append(q.Shape[:len(q.Shape)-1].Clone(), v.Shape[len(v.Shape)-2]), DType: tensor.Float32})
	}
	return res, nil
}

// attnOutShape is Keras's output shape: the query's shape with the value's
// feature size.
func attnOutShape(q, v Shape) Shape {
	return append(q[:len(q)-1].Clone(), v[len(v)-1])
}
