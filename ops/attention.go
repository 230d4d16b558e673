package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Attention is scaled dot-product attention (ONNX Attention-24):
//
//	S = softcap(scale · Q·Kᵀ) + bias,  P = softmax(S, last axis),  Y = P·V
//
// Inputs: Q [B, Hq, Sq, D] and K [B, Hkv, Skv, D], V [B, Hkv, Skv, Dv], or
// their 3-D forms [B, S, H·D] split with the q_num_heads/kv_num_heads
// attributes (Y is then [B, Sq, Hq·Dv]); optional attn_mask (bool: true
// keeps, or float: added) broadcast to [B, Hq, Sq, T] and padded with
// masked positions when its last axis is shorter than T; past_key/past_value
// [B, Hkv, P, ·] which are prepended to K and V (T = P + Skv) and returned as
// present_key/present_value; nonpad_kv_seqlen [B] (opset 24) masking key
// positions at or past each batch entry's length. With Hq a multiple of Hkv,
// query head h reads key/value head h/(Hq/Hkv) (grouped-query attention).
//
// Attributes: scale (default 1/sqrt(D)); softcap (c > 0 maps x to
// c·tanh(x/c), before the bias); is_causal masks key j for query i when
// j > i + offset, offset = P with a cache, nonpad_kv_seqlen[b] - Sq with
// only nonpad_kv_seqlen, else 0; qk_matmul_output_mode selects the optional
// fourth output: 0 the scaled Q·Kᵀ, 1 after softcap, 2 after adding the
// bias, 3 after the softmax. softmax_precision is accepted; kiln always
// computes in float64 and rounds to the input type. A query whose every key
// position is masked gets all-zero probabilities and a zero output row
// (rather than the NaN a plain softmax would give), as the ONNX tests expect.
var Attention = &Def{Name: "Attention", Infer: rdAttentionInfer, Kernel: rdAttentionKernel}

func init() { Register(Attention) }

// rdAttnDims describes the 4-D view of an attention call.
type rdAttnDims struct {
	B, Hq, Hkv, Sq, Skv, P, T, D, Dv int
	threeD                           bool
}

func rdAttnShapes(n *graph.Node, q, k, v []int, past []int) (rdAttnDims, error) {
	var d rdAttnDims
	if len(q) != len(k) || len(q) != len(v) || (len(q) != 3 && len(q) != 4) {
		return d, Errorf(n, "Q, K and V must all be 3-D or all 4-D, got ranks %d, %d, %d", len(q), len(k), len(v))
	}
	d.B = q[0]
	if len(q) == 3 {
		d.threeD = true
		d.Hq = int(n.Attrs.Int("q_num_heads", 0))
		d.Hkv = int(n.Attrs.Int("kv_num_heads", 0))
		if d.Hq <= 0 || d.Hkv <= 0 {
			return d, Errorf(n, "3-D inputs need positive q_num_heads and kv_num_heads attributes")
		}
		if q[2] >= 0 && q[2]%d.Hq != 0 || k[2] >= 0 && k[2]%d.Hkv != 0 || v[2] >= 0 && v[2]%d.Hkv != 0 {
			return d, Errorf(n, "hidden sizes %d, %d, %d are not multiples of the head counts %d, %d", q[2], k[2], v[2], d.Hq, d.Hkv)
		}
		d.Sq, d.Skv = q[1], k[1]
		d.D, d.Dv = q[2]/d.Hq, v[2]/d.Hkv
		if q[2] < 0 {
			d.D = -1
		}
		if v[2] < 0 {
			d.Dv = -1
		}
	} else {
		d.Hq, d.Hkv = q[1], k[1]
		d.Sq, d.Skv = q[2], k[2]
		d.D, d.Dv = q[3], v[3]
	}
	if d.Hq > 0 && d.Hkv > 0 && d.Hq%d.Hkv != 0 {
		return d, Errorf(n, "q heads %d not a multiple of kv heads %d", d.Hq, d.Hkv)
	}
	if past != nil {
		if len(past) != 4 {
			return d, Errorf(n, "past_key must be 4-D, got rank %d", len(past))
		}
		d.P = past[2]
	}
	d.T = d.Skv + d.P
	if d.Skv < 0 || d.P < 0 {
		d.T = -1
	}
	return d, nil
}

func rdAttentionInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 3 {
		return nil, ic.Errorf("needs inputs Q, K and V")
	}
	q, k, v := ic.In[0], ic.In[1], ic.In[2]
	if q.Unranked || k.Unranked || v.Unranked {
		return []graph.Type{graph.UnrankedType(q.DType), graph.UnrankedType(q.DType), graph.UnrankedType(q.DType), graph.UnrankedType(q.DType)}[:max(1, min(4, len(ic.Node.Outputs)))], nil
	}
	var past []int
	if ic.Has(4) && !ic.In[4].Unranked {
		past = ic.In[4].Shape
	}
	d, err := rdAttnShapes(ic.Node, q.Shape, k.Shape, v.Shape, past)
	if err != nil {
		return nil, err
	}
	dt := q.DType
	y := graph.TensorType(dt, d.B, d.Hq, d.Sq, d.Dv)
	if d.threeD {
		hv := -1
		if d.Dv >= 0 {
			hv = d.Hq * d.Dv
		}
		y = graph.TensorType(dt, d.B, d.Sq, hv)
	}
	outs := []graph.Type{y,
		graph.TensorType(dt, d.B, d.Hkv, d.T, d.D),
		graph.TensorType(dt, d.B, d.Hkv, d.T, d.Dv),
		graph.TensorType(dt, d.B, d.Hq, d.Sq, d.T)}
	if n := len(ic.Node.Outputs); n > 0 && n < 4 {
		outs = outs[:n]
	}
	return outs, nil
}

// rdTo4D returns x as [B, H, S, Dh] float64 values (3-D inputs [B, S, H·Dh]
// are split into heads).
func rdTo4D(x *tensor.Tensor, threeD bool, h int) []float64 {
	v := x.Float64s()
	if !threeD {
		return v
	}
	s := x.Shape()
	B, S, Dh := s[0], s[1], s[2]/h
	out := make([]float64, len(v))
	for b := 0; b < B; b++ {
		for t := 0; t < S; t++ {
			for hh := 0; hh < h; hh++ {
				copy(out[((b*h+hh)*S+t)*Dh:((b*h+hh)*S+t+1)*Dh], v[((b*S+t)*h+hh)*Dh:])
			}
		}
	}
	return out
}

// rdAttnMask returns the additive mask broadcast to [B, Hq, Sq, T], or nil.
func rdAttnMask(n *graph.Node, m *tensor.Tensor, d rdAttnDims) ([]float64, error) {
	if m == nil {
		return nil, nil
	}
	ms := m.Shape()
	if len(ms) < 1 || len(ms) > 4 {
		return nil, Errorf(n, "attn_mask must have rank 1 to 4, got %v", ms)
	}
	last := ms[len(ms)-1]
	if last > d.T {
		return nil, Errorf(n, "attn_mask last axis %d exceeds the total key length %d", last, d.T)
	}
	var vals []float64
	if m.DType() == tensor.Bool {
		vals = make([]float64, m.Len())
		for i, keep := range m.Bools() {
			if !keep {
				vals[i] = math.Inf(-1)
			}
		}
	} else if m.DType().IsFloat() {
		vals = m.Float64s()
	} else {
		return nil, Errorf(n, "attn_mask must be bool or float, got %v", m.DType())
	}
	// Pad the last axis to T with masked positions.
	ps := ms.Clone()
	ps[len(ps)-1] = d.T
	if last < d.T {
		rows := m.Len() / max(last, 1)
		if last == 0 {
			rows = ps.Size() / max(d.T, 1)
		}
		padded := make([]float64, ps.Size())
		for r := 0; r < rows; r++ {
			for j := 0; j < d.T; j++ {
				if j < last {
					padded[r*d.T+j] = vals[r*last+j]
				} else {
					padded[r*d.T+j] = math.Inf(-1)
				}
			}
		}
		vals = padded
	}
	full := tensor.Shape{d.B, d.Hq, d.Sq, d.T}
	if _, err := tensor.Broadcast(ps, full); err != nil {
		return nil, Errorf(n, "attn_mask of shape %v does not broadcast to %v", ms, full)
	}
	if bs, _ := tensor.Broadcast(ps, full); !bs.Equal(full) {
		return nil, Errorf(n, "attn_mask of shape %v does not broadcast to %v", ms, full)
	}
	idx := tensor.BroadcastIndex(ps, full)
	out := make([]float64, len(idx))
	for i, k := range idx {
		out[i] = vals[k]
	}
	return out, nil
}

func rdAttentionKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	Q, K, V := rdGet(in, 0), rdGet(in, 1), rdGet(in, 2)
	if Q == nil || K == nil || V == nil {
		return nil, Errorf(n, "needs inputs Q, K and V")
	}
	if !Q.DType().IsFloat() || K.DType() != Q.DType() || V.DType() != Q.DType() {
		return nil, Errorf(n, "Q, K and V must share one float type, got %v, %v, %v", Q.DType(), K.DType(), V.DType())
	}
	pk, pv := rdGet(in, 4), rdGet(in, 5)
	if (pk == nil) != (pv == nil) {
		return nil, Errorf(n, "past_key and past_value must be given together")
	}
	var past []int
	if pk != nil {
		past = pk.Shape()
	}
	d, err := rdAttnShapes(n, Q.Shape(), K.Shape(), V.Shape(), past)
	if err != nil {
		return nil, err
	}
	if d.threeD {
		// Shapes of the 3-D forms were checked for divisibility only.
		if K.Shape()[0] != d.B || V.Shape()[0] != d.B || V.Shape()[1] != d.Skv || K.Shape()[2]/d.Hkv != d.D {
			return nil, Errorf(n, "Q %v, K %v and V %v do not agree", Q.Shape(), K.Shape(), V.Shape())
		}
	} else if !K.Shape().Equal(tensor.Shape{d.B, d.Hkv, d.Skv, d.D}) || !V.Shape().Equal(tensor.Shape{d.B, d.Hkv, d.Skv, d.Dv}) {
		return nil, Errorf(n, "Q %v, K %v and V %v do not agree", Q.Shape(), K.Shape(), V.Shape())
	}
	if pk != nil && (!pk.Shape().Equal(tensor.Shape{d.B, d.Hkv, d.P, d.D}) || !pv.Shape().Equal(tensor.Shape{d.B, d.Hkv, d.P, d.Dv})) {
		return nil, Errorf(n, "past_key %v / past_value %v, want (%d, %d, P, %d/%d)", pk.Shape(), pv.Shape(), d.B, d.Hkv, d.D, d.Dv)
	}
	q := rdTo4D(Q, d.threeD, d.Hq)
	k := rdTo4D(K, d.threeD, d.Hkv)
	v := rdTo4D(V, d.threeD, d.Hkv)
	// present = concat(past, new) along the sequence axis.
	concat := func(past *tensor.Tensor, cur []float64, dh int) []float64 {
		out := make([]float64, d.B*d.Hkv*d.T*dh)
		var pvals []float64
		if past != nil {
			pvals = past.Float64s()
		}
		for bh := 0; bh < d.B*d.Hkv; bh++ {
			o := out[bh*d.T*dh:]
			if past != nil {
				copy(o, pvals[bh*d.P*dh:(bh+1)*d.P*dh])
			}
			copy(o[d.P*dh:], cur[bh*d.Skv*dh:(bh+1)*d.Skv*dh])
		}
		return out
	}
	pkv := concat(pk, k, d.D)
	pvv := concat(pv, v, d.Dv)

	mask, err := rdAttnMask(n, rdGet(in, 3), d)
	if err != nil {
		return nil, err
	}
	var nonpad []int64
	if np := rdGet(in, 6); np != nil {
		if np.Len() != d.B || !np.DType().IsInt() {
			return nil, Errorf(n, "nonpad_kv_seqlen must be %d integers, got %v %v", d.B, np.DType(), np.Shape())
		}
		nonpad = np.Int64s()
	}
	scale := 1 / math.Sqrt(float64(d.D))
	if n.Attrs.Has("scale") {
		scale = float64(n.Attrs.Float("scale", 0))
	}
	softcap := float64(n.Attrs.Float("softcap", 0))
	causal := n.Attrs.Int("is_causal", 0) != 0
	mode := n.Attrs.Int("qk_matmul_output_mode", 0)
	if mode < 0 || mode > 3 {
		return nil, Errorf(n, "qk_matmul_output_mode %d, want 0 to 3", mode)
	}
	group := d.Hq / d.Hkv

	y := make([]float64, d.B*d.Hq*d.Sq*d.Dv)
	qk := make([]float64, d.B*d.Hq*d.Sq*d.T)
	row := make([]float64, d.T)
	for b := 0; b < d.B; b++ {
		offset := 0
		switch {
		case pk != nil:
			offset = d.P
		case nonpad != nil:
			offset = int(nonpad[b]) - d.Sq
		}
		for h := 0; h < d.Hq; h++ {
			hk := h / group
			kb := pkv[(b*d.Hkv+hk)*d.T*d.D:]
			vb := pvv[(b*d.Hkv+hk)*d.T*d.Dv:]
			for i := 0; i < d.Sq; i++ {
				qi := q[((b*d.Hq+h)*d.Sq+i)*d.D : ((b*d.Hq+h)*d.Sq+i+1)*d.D]
				qrow := qk[((b*d.Hq+h)*d.Sq+i)*d.T : ((b*d.Hq+h)*d.Sq+i+1)*d.T]
				for j := 0; j < d.T; j++ {
					kj := kb[j*d.D : (j+1)*d.D]
					var s float64
					for t, a := range qi {
						s += a * kj[t]
					}
					s *= scale
					if mode == 0 {
						qrow[j] = s
					}
					if softcap > 0 {
						s = softcap * math.Tanh(s/softcap)
					}
					if mode == 1 {
						qrow[j] = s
					}
					if mask != nil {
						s += mask[((b*d.Hq+h)*d.Sq+i)*d.T+j]
					}
					if causal && j > i+offset {
						s = math.Inf(-1)
					}
					if nonpad != nil && int64(j) >= nonpad[b] {
						s = math.Inf(-1)
					}
					if mode == 2 {
						qrow[j] = s
					}
					row[j] = s
				}
				// softmax
				m := math.Inf(-1)
				for _, s := range row {
					m = math.Max(m, s)
				}
				if math.IsInf(m, -1) {
					// Every position is masked: no probability mass.
					for j := range row {
						row[j] = 0
					}
				} else {
					var sum float64
					for j, s := range row {
						row[j] = math.Exp(s - m)
						sum += row[j]
					}
					for j := range row {
						row[j] /= sum
					}
				}
				if mode == 3 {
					copy(qrow, row)
				}
				yi := y[((b*d.Hq+h)*d.Sq+i)*d.Dv : ((b*d.Hq+h)*d.Sq+i+1)*d.Dv]
				for j, p := range row {
					if p == 0 {
						continue
					}
					vj := vb[j*d.Dv : (j+1)*d.Dv]
					for t := range yi {
						yi[t] += p * vj[t]
					}
				}
			}
		}
	}
	dt := Q.DType()
	var yt *tensor.Tensor
	if d.threeD {
		y3 := make([]float64, len(y))
		for b := 0; b < d.B; b++ {
			for h := 0; h < d.Hq; h++ {
				for i := 0; i < d.Sq; i++ {
					copy(y3[((b*d.Sq+i)*d.Hq+h)*d.Dv:((b*d.Sq+i)*d.Hq+h+1)*d.Dv], y[((b*d.Hq+h)*d.Sq+i)*d.Dv:])
				}
			}
		}
		yt = tensor.FromFloat64s(dt, tensor.Shape{d.B, d.Sq, d.Hq * d.Dv}, y3)
	} else {
		yt = tensor.FromFloat64s(dt, tensor.Shape{d.B, d.Hq, d.Sq, d.Dv}, y)
	}
	outs := []*tensor.Tensor{yt,
		tensor.FromFloat64s(dt, tensor.Shape{d.B, d.Hkv, d.T, d.D}, pkv),
		tensor.FromFloat64s(dt, tensor.Shape{d.B, d.Hkv, d.T, d.Dv}, pvv),
		tensor.FromFloat64s(dt, tensor.Shape{d.B, d.Hq, d.Sq, d.T}, qk)}
	if nn := len(n.Outputs); nn > 0 && nn < 4 {
		outs = outs[:nn]
	}
	return outs, nil
}
