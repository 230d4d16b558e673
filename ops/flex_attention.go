package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// FlexAttention is scaled dot-product attention with user subgraphs that
// modify the scores, the mask and the probabilities (ONNX ai.onnx.preview
// FlexAttention-1, after PyTorch's flex_attention). Q is [B, Hq, L, E], K
// [B, Hkv, S, E], V [B, Hkv, S, Ev], Y [B, Hq, L, Ev]:
//
//	scores = (Q · Kᵀ) · scale            scale attribute, default 1/√E
//	scores = score_mod(scores)
//	scores = where(mask_mod, scores, mask_value)   mask_value default -inf
//	probs  = Softmax(scores, axis = -1)
//	probs  = prob_mod(probs)
//	Y      = probs · V
//
// Query head j uses kv head j / (Hq/Hkv) (grouped-query attention; Hq must
// be a multiple of Hkv). Scores and probabilities have the softmax_precision
// element type (default float32 for float16/bfloat16 inputs, else the input
// type); arithmetic is in float64 and Y has Q's type.
//
// ONNX has published two contracts for the subgraphs and kiln accepts both,
// telling them apart by input count: the scalar contract (score_mod and
// prob_mod take (value, batch, head, q_idx, k_idx) and return the new
// value; mask_mod takes (batch, head, q_idx, k_idx) and returns a bool, true
// = keep) runs the subgraph once per score; the tensor contract (each takes
// the whole [B, Hq, L, S] tensor and returns one of the same shape; mask_mod
// then returns the masked scores) runs it once. enable_gqa is accepted but
// not required for Hq != Hkv.
var FlexAttention = &Def{Name: "FlexAttention", Domain: "ai.onnx.preview", Infer: rsFlexInfer, Eval: rsFlexEval}

func init() { Register(FlexAttention) }

func rsFlexInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 3 || !ic.Has(0) || !ic.Has(1) || !ic.Has(2) {
		return nil, ic.Errorf("needs inputs Q, K and V")
	}
	q, v := ic.In[0], ic.In[2]
	out := graph.TensorType(q.DType, -1, -1, -1, -1)
	if qs := rsShapeOf(q); qs != nil {
		if len(qs) != 4 {
			return nil, ic.Errorf("Q must be rank 4 [batch, heads, seq, size], got %v", q)
		}
		copy(out.Shape, qs[:3])
	}
	if vs := rsShapeOf(v); vs != nil {
		if len(vs) != 4 {
			return nil, ic.Errorf("V must be rank 4 [batch, heads, seq, size], got %v", v)
		}
		out.Shape[3] = vs[3]
	}
	return []graph.Type{out}, nil
}

func rsFlexEval(ec *EvalContext, in []Value) ([]Value, error) {
	n := ec.Node
	var ts [3]*tensor.Tensor
	for i := range ts {
		if i >= len(in) {
			return nil, ec.Errorf("needs inputs Q, K and V")
		}
		t, err := cfAsTensor(ec, in[i], []string{"Q", "K", "V"}[i])
		if err != nil {
			return nil, err
		}
		if err := rsCheckFloat(n, t, []string{"Q", "K", "V"}[i]); err != nil {
			return nil, err
		}
		ts[i] = t
	}
	q, k, v := ts[0], ts[1], ts[2]
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	if len(qs) != 4 || len(ks) != 4 || len(vs) != 4 {
		return nil, ec.Errorf("Q %v, K %v and V %v must be rank 4", qs, ks, vs)
	}
	B, Hq, L, E := qs[0], qs[1], qs[2], qs[3]
	Hkv, S, Ev := ks[1], ks[2], vs[3]
	if ks[0] != B || vs[0] != B || ks[3] != E || vs[1] != Hkv || vs[2] != S {
		return nil, ec.Errorf("shapes Q %v, K %v, V %v are inconsistent (want K [%d, Hkv, S, %d], V [%d, Hkv, S, Ev])", qs, ks, vs, B, E, B)
	}
	if Hkv <= 0 || Hq%Hkv != 0 {
		return nil, ec.Errorf("query heads %d must be a multiple of key/value heads %d", Hq, Hkv)
	}
	group := Hq / Hkv
	spDT := q.DType()
	if spDT == tensor.Float16 || spDT == tensor.BFloat16 {
		spDT = tensor.Float32
	}
	if n.Attrs.Has("softmax_precision") {
		spDT = tensor.DType(n.Attrs.Int("softmax_precision", 0))
		switch spDT {
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		default:
			return nil, ec.Errorf("softmax_precision %v must be a float type", spDT)
		}
	}
	scale := 1 / math.Sqrt(float64(E))
	if n.Attrs.Has("scale") {
		scale = float64(n.Attrs.Float("scale", 0))
	}
	qv, kv, vv := q.Float64s(), k.Float64s(), v.Float64s()
	shape := tensor.Shape{B, Hq, L, S}
	sc := make([]float64, B*Hq*L*S)
	for b := 0; b < B; b++ {
		for j := 0; j < Hq; j++ {
			h := j / group
			for l := 0; l < L; l++ {
				qr := qv[((b*Hq+j)*L+l)*E:][:E]
				for s := 0; s < S; s++ {
					kr := kv[((b*Hkv+h)*S+s)*E:][:E]
					acc := 0.0
					for e, x := range qr {
						acc += x * kr[e]
					}
					sc[((b*Hq+j)*L+l)*S+s] = acc * scale
				}
			}
		}
	}
	// Round to the softmax precision, as the scores tensor carries it.
	sc = tensor.FromFloat64s(spDT, shape, sc).Float64s()
	var err error
	if g := n.Attrs.Graph("score_mod"); g != nil {
		if sc, err = rsFlexMod(ec, g, "score_mod", sc, spDT, shape, false); err != nil {
			return nil, err
		}
	}
	if g := n.Attrs.Graph("mask_mod"); g != nil {
		if sc, err = rsFlexMod(ec, g, "mask_mod", sc, spDT, shape, true); err != nil {
			return nil, err
		}
	}
	for r := 0; r < B*Hq*L; r++ {
		row := sc[r*S : (r+1)*S]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, x)
		}
		sum := 0.0
		for i, x := range row {
			row[i] = math.Exp(x - mx)
			sum += row[i]
		}
		for i := range row {
			row[i] /= sum
		}
	}
	sc = tensor.FromFloat64s(spDT, shape, sc).Float64s()
	if g := n.Attrs.Graph("prob_mod"); g != nil {
		if sc, err = rsFlexMod(ec, g, "prob_mod", sc, spDT, shape, false); err != nil {
			return nil, err
		}
	}
	out := make([]float64, B*Hq*L*Ev)
	for b := 0; b < B; b++ {
		for j := 0; j < Hq; j++ {
			h := j / group
			for l := 0; l < L; l++ {
				pr := sc[((b*Hq+j)*L+l)*S:][:S]
				o := out[((b*Hq+j)*L+l)*Ev:][:Ev]
				for s, p := range pr {
					vr := vv[((b*Hkv+h)*S+s)*Ev:][:Ev]
					for e, x := range vr {
						o[e] += p * x
					}
				}
			}
		}
	}
	return []Value{tensor.FromFloat64s(q.DType(), tensor.Shape{B, Hq, L, Ev}, out)}, nil
}

// rsFlexMod applies one FlexAttention modifier subgraph to the scores or
// probabilities x (shape [B, H, L, S], element type dt) and returns the
// result. mask selects mask_mod's meaning.
func rsFlexMod(ec *EvalContext, g *graph.Graph, name string, x []float64, dt tensor.DType, shape tensor.Shape, mask bool) ([]float64, error) {
	if len(g.Outputs) != 1 {
		return nil, ec.Errorf("%s must have one output, has %d", name, len(g.Outputs))
	}
	if len(g.Inputs) == 1 {
		// Tensor contract: the whole tensor in, the whole tensor out.
		res, err := cfRun(ec, g, []Value{tensor.FromFloat64s(dt, shape, x)})
		if err != nil {
			return nil, err
		}
		t, err := cfAsTensor(ec, res[0], name+"'s output")
		if err != nil {
			return nil, err
		}
		if !t.Shape().Equal(shape) || !t.DType().IsFloat() {
			return nil, ec.Errorf("%s returned a %v%v tensor, want %v%v", name, t.DType(), t.Shape(), dt, shape)
		}
		return t.Float64s(), nil
	}
	want := 5
	if mask {
		want = 4
	}
	if len(g.Inputs) != want {
		return nil, ec.Errorf("%s must take 1 input (the tensor) or %d scalars, takes %d", name, want, len(g.Inputs))
	}
	maskValue := math.Inf(-1)
	if ec.Node.Attrs.Has("mask_value") {
		maskValue = float64(ec.Node.Attrs.Float("mask_value", 0))
	}
	H, L, S := shape[1], shape[2], shape[3]
	out := make([]float64, len(x))
	args := make([]Value, want)
	for i := range x {
		if err := cfCheckCtx(ec); err != nil {
			return nil, err
		}
		idx := []int64{int64(i / (S * L * H)), int64(i / (S * L) % H), int64(i / S % L), int64(i % S)}
		off := 0
		if !mask {
			args[0] = tensor.FromFloat64s(dt, tensor.Shape{}, []float64{x[i]})
			off = 1
		}
		for j, v := range idx {
			args[off+j] = tensor.Scalar(v)
		}
		res, err := cfRun(ec, g, args)
		if err != nil {
			return nil, err
		}
		t, err := cfAsTensor(ec, res[0], name+"'s output")
		if err != nil {
			return nil, err
		}
		if t.Len() != 1 {
			return nil, ec.Errorf("%s must return a scalar, returned %v", name, t.Shape())
		}
		r := t.Float64s()[0]
		switch {
		case !mask:
			out[i] = r
		case r != 0:
			out[i] = x[i]
		default:
			out[i] = maskValue
		}
	}
	return out, nil
}
