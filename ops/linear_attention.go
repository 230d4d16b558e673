package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// LinearAttention is recurrent linear attention with an optional gated
// and/or delta-rule state update (ONNX LinearAttention-27), as in RetNet,
// GLA, DeltaNet and Gated DeltaNet. query is [B, T, Hq·dk], key [B, T,
// Hkv·dk], value [B, T, Hkv·dv]; the state S is [B, Hkv, dk, dv]
// (past_state, zeros when absent). For each step t and kv head h:
//
//	gated:   S ← S · exp(g_t)            g_t = decay[b, t, h] or decay[b, t, h·dk : (h+1)·dk] (per key row)
//	delta:   v_t ← β_t · (v_t − Sᵀ (e_t ⊙ k_t))   (e_t = erase_gate row, 1 when absent)
//	write:   S ← S + k_t ⊗ v_t
//	read:    o_t = scale · Sᵀ q_t         (query head j reads kv head j / (Hq/Hkv))
//
// update_rule (default "gated_delta") is "linear" (no decay, no delta),
// "gated" (decay), "delta" (beta) or "gated_delta" (both); decay is required
// exactly for the gated rules, beta (last dim Hkv or 1) and erase_gate only
// for the delta rules. scale 0 or absent means 1/√dk. Outputs: output [B, T,
// Hq·dv] and present_state (the final S, in past_state's type, else the
// query's). chunk_size is a performance hint with no effect. All arithmetic
// is in float64 (ONNX's reference uses float32).
var LinearAttention = &Def{Name: "LinearAttention", Infer: rsLinAttnInfer, Kernel: rsLinAttnKernel}

func init() { Register(LinearAttention) }

func rsLinAttnInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 3 || !ic.Has(0) || !ic.Has(1) || !ic.Has(2) {
		return nil, ic.Errorf("needs inputs query, key and value")
	}
	hq, hkv := int(ic.Node.Attrs.Int("q_num_heads", 0)), int(ic.Node.Attrs.Int("kv_num_heads", 0))
	if hq <= 0 || hkv <= 0 || hq%hkv != 0 {
		return nil, ic.Errorf("q_num_heads (%d) must be a positive multiple of kv_num_heads (%d)", hq, hkv)
	}
	q, v := ic.In[0], ic.In[2]
	out := graph.TensorType(q.DType, -1, -1, -1)
	st := graph.TensorType(q.DType, -1, hkv, -1, -1)
	if ic.Has(3) {
		st.DType = ic.In[3].DType
	}
	if qs := rsShapeOf(q); qs != nil {
		if len(qs) != 3 {
			return nil, ic.Errorf("query must be [batch, seq, heads·head_size], got %v", q)
		}
		out.Shape[0], out.Shape[1] = qs[0], qs[1]
		st.Shape[0] = qs[0]
		if qs[2] >= 0 {
			st.Shape[2] = qs[2] / hq
		}
	}
	if vs := rsShapeOf(v); vs != nil && len(vs) == 3 && vs[2] >= 0 {
		st.Shape[3] = vs[2] / hkv
		out.Shape[2] = hq * (vs[2] / hkv)
	}
	return []graph.Type{out, st}, nil
}

func rsLinAttnKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	q, k, v := rsIn(in, 0), rsIn(in, 1), rsIn(in, 2)
	past, decay, beta, erase := rsIn(in, 3), rsIn(in, 4), rsIn(in, 5), rsIn(in, 6)
	if q == nil || k == nil || v == nil {
		return nil, Errorf(n, "needs inputs query, key and value")
	}
	for i, t := range []*tensor.Tensor{q, k, v, past, decay, beta, erase} {
		if t != nil {
			if err := rsCheckFloat(n, t, "input "+[]string{"query", "key", "value", "past_state", "decay", "beta", "erase_gate"}[i]); err != nil {
				return nil, err
			}
		}
	}
	rule := n.Attrs.String("update_rule", "gated_delta")
	var gating, delta bool
	switch rule {
	case "linear":
	case "gated":
		gating = true
	case "delta":
		delta = true
	case "gated_delta":
		gating, delta = true, true
	default:
		return nil, Errorf(n, "update_rule %q must be linear, gated, delta or gated_delta", rule)
	}
	if gating != (decay != nil) {
		return nil, Errorf(n, "update_rule %q %s the decay input", rule, map[bool]string{true: "requires", false: "forbids"}[gating])
	}
	if delta != (beta != nil) {
		return nil, Errorf(n, "update_rule %q %s the beta input", rule, map[bool]string{true: "requires", false: "forbids"}[delta])
	}
	if erase != nil && !delta {
		return nil, Errorf(n, "update_rule %q forbids the erase_gate input", rule)
	}
	hq, hkv := int(n.Attrs.Int("q_num_heads", 0)), int(n.Attrs.Int("kv_num_heads", 0))
	if hq <= 0 || hkv <= 0 || hq%hkv != 0 {
		return nil, Errorf(n, "q_num_heads (%d) must be a positive multiple of kv_num_heads (%d)", hq, hkv)
	}
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	if len(qs) != 3 || len(ks) != 3 || len(vs) != 3 {
		return nil, Errorf(n, "query %v, key %v and value %v must be rank 3 [batch, seq, heads·size]", qs, ks, vs)
	}
	B, T := qs[0], qs[1]
	if qs[2]%hq != 0 || vs[2]%hkv != 0 {
		return nil, Errorf(n, "query's last dim %d must divide by q_num_heads %d and value's %d by kv_num_heads %d", qs[2], hq, vs[2], hkv)
	}
	dk, dv := qs[2]/hq, vs[2]/hkv
	if !ks.Equal(tensor.Shape{B, T, hkv * dk}) || vs[0] != B || vs[1] != T {
		return nil, Errorf(n, "key %v must be [%d, %d, %d] and value %v [%d, %d, *]", ks, B, T, hkv*dk, vs, B, T)
	}
	var perKey bool
	if decay != nil {
		ds := decay.Shape()
		switch {
		case len(ds) == 3 && ds[0] == B && ds[1] == T && ds[2] == hkv:
		case len(ds) == 3 && ds[0] == B && ds[1] == T && ds[2] == hkv*dk:
			perKey = true
		default:
			return nil, Errorf(n, "decay %v must be [%d, %d, %d] or [%d, %d, %d]", ds, B, T, hkv, B, T, hkv*dk)
		}
	}
	betaH := 0
	if beta != nil {
		bs := beta.Shape()
		if len(bs) != 3 || bs[0] != B || bs[1] != T || (bs[2] != hkv && bs[2] != 1) {
			return nil, Errorf(n, "beta %v must be [%d, %d, %d] or [%d, %d, 1]", bs, B, T, hkv, B, T)
		}
		betaH = bs[2]
	}
	if erase != nil && !erase.Shape().Equal(tensor.Shape{B, T, hkv * dk}) {
		return nil, Errorf(n, "erase_gate %v must be [%d, %d, %d]", erase.Shape(), B, T, hkv*dk)
	}
	stDT := q.DType()
	S := make([]float64, B*hkv*dk*dv)
	if past != nil {
		if !past.Shape().Equal(tensor.Shape{B, hkv, dk, dv}) {
			return nil, Errorf(n, "past_state %v must be [%d, %d, %d, %d]", past.Shape(), B, hkv, dk, dv)
		}
		stDT = past.DType()
		S = past.Float64s()
	}
	scale := float64(n.Attrs.Float("scale", 0))
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	qv, kv, vv := q.Float64s(), k.Float64s(), v.Float64s()
	var dcv, btv, egv []float64
	if decay != nil {
		dcv = decay.Float64s()
	}
	if beta != nil {
		btv = beta.Float64s()
	}
	if erase != nil {
		egv = erase.Float64s()
	}
	group := hq / hkv
	out := make([]float64, B*T*hq*dv)
	vt := make([]float64, dv)
	ke := make([]float64, dk)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			bt := b*T + t
			for h := 0; h < hkv; h++ {
				st := S[(b*hkv+h)*dk*dv : (b*hkv+h+1)*dk*dv]
				kt := kv[bt*hkv*dk+h*dk : bt*hkv*dk+(h+1)*dk]
				copy(vt, vv[bt*hkv*dv+h*dv:bt*hkv*dv+(h+1)*dv])
				if gating {
					for d := 0; d < dk; d++ {
						g := dcv[bt*hkv+h]
						if perKey {
							g = dcv[bt*hkv*dk+h*dk+d]
						}
						f := math.Exp(g)
						row := st[d*dv : (d+1)*dv]
						for m := range row {
							row[m] *= f
						}
					}
				}
				if delta {
					copy(ke, kt)
					if egv != nil {
						for d := range ke {
							ke[d] *= egv[bt*hkv*dk+h*dk+d]
						}
					}
					bb := btv[bt*betaH]
					if betaH != 1 {
						bb = btv[bt*betaH+h]
					}
					for m := 0; m < dv; m++ {
						r := 0.0
						for d := 0; d < dk; d++ {
							r += st[d*dv+m] * ke[d]
						}
						vt[m] = bb * (vt[m] - r)
					}
				}
				for d := 0; d < dk; d++ {
					row := st[d*dv : (d+1)*dv]
					for m := range row {
						row[m] += kt[d] * vt[m]
					}
				}
			}
			for j := 0; j < hq; j++ {
				h := j / group
				st := S[(b*hkv+h)*dk*dv : (b*hkv+h+1)*dk*dv]
				qt := qv[bt*hq*dk+j*dk : bt*hq*dk+(j+1)*dk]
				o := out[bt*hq*dv+j*dv : bt*hq*dv+(j+1)*dv]
				for m := 0; m < dv; m++ {
					r := 0.0
					for d := 0; d < dk; d++ {
						r += qt[d] * st[d*dv+m]
					}
					o[m] = scale * r
				}
			}
		}
	}
	return []*tensor.Tensor{
		tensor.FromFloat64s(q.DType(), tensor.Shape{B, T, hq * dv}, out),
		tensor.FromFloat64s(stDT, tensor.Shape{B, hkv, dk, dv}, S),
	}, nil
}
