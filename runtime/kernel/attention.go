package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// Attention (ONNX Attention-23/24, ops.Attention is the specification),
// float32, for the forms graphs and the attention-fusion pass produce: Q,
// K, V 4-D [B, H, S, D] or 3-D [B, S, H·D] (q_num_heads, kv_num_heads),
// grouped-query heads, an optional float or bool attn_mask of rank 1 to 4
// (broadcast over batch, heads and queries; a last axis shorter than the
// key length masks the keys past it, as the reference pads it), the scale,
// softcap and is_causal attributes, and only the Y output. A past cache,
// nonpad_kv_seqlen and the present/qk outputs are left to the reference.
//
// The work is cut into units of (batch, query head, block of query rows);
// parts of the pool take contiguous runs of units. Per unit, with the
// block's scores in the caller's scratch (rows x T):
//
//	S = scale·Q_blk·Kᵀ                      Sgemm, Kᵀ read in place
//	S = softcap·tanh(S/softcap)             vector tanh, when softcap > 0
//	S += mask; S[i][j>i] = -inf (causal)
//	P = exp(S - rowmax)                      vector exp; 1/Σ kept per row
//	Y_blk = (P·V) · (1/Σ)                    Sgemm, then a row scale
//
// A row whose keys are all masked gets zeros, as the reference gives.
// With is_causal the block needs only keys below its last row, so the
// GEMMs stop there. Scores and the sums of exponentials are float32 (the
// reference uses float64): max, shifted exp and sum run in one vector pass
// (asm.MaxF32, asm.ExpShiftSum).

type attnK struct {
	b, hq, hkv, sq, t, d, dv int
	group                    int
	// Element strides of the (batch, head, row) axes of Q, K, V and Y; the
	// innermost axis is contiguous.
	qb, qh, qi int
	kb, kh, kj int
	vb, vh, vj int
	yb, yh, yi int

	scale   float32
	softcap float32
	causal  bool

	mask           int // attnNoMask, attnFloatMask or attnBoolMask
	mb, mh, mi, ml int // mask strides (0 where broadcast) and last-axis length

	rb, nqb int // query rows per block and blocks per (batch, head)
	units   int
	par     bool // worth splitting across the pool
}

const (
	attnNoMask = iota
	attnFloatMask
	attnBoolMask
)

// attnRows is the target number of query rows per unit when heads are
// split: the block's scores (attnRows x T floats, 32 KB at T = 128) stay
// in L1/L2 between the two GEMMs.
const attnRows = 64

func attentionFactory(s *Spec) Kernel {
	if len(s.In) < 3 || len(s.Out) < 1 || !allF32(s.In[:3]) || s.Out[0].DType != tensor.Float32 {
		return nil
	}
	for i := 4; i < len(s.In); i++ { // past_key, past_value, nonpad_kv_seqlen
		if s.In[i].DType != tensor.Undefined {
			return nil
		}
	}
	for _, o := range s.Out[1:] {
		if o.DType != tensor.Undefined {
			return nil
		}
	}
	qs, ks, vs := s.In[0].Shape, s.In[1].Shape, s.In[2].Shape
	a := s.Node.Attrs
	k := &attnK{}
	switch {
	case len(qs) == 4 && len(ks) == 4 && len(vs) == 4:
		k.b, k.hq, k.sq, k.d = qs[0], qs[1], qs[2], qs[3]
		k.hkv, k.t, k.dv = ks[1], ks[2], vs[3]
		if ks[0] != k.b || ks[3] != k.d || vs[0] != k.b || vs[1] != k.hkv || vs[2] != k.t {
			return nil
		}
		k.qb, k.qh, k.qi = k.hq*k.sq*k.d, k.sq*k.d, k.d
		k.kb, k.kh, k.kj = k.hkv*k.t*k.d, k.t*k.d, k.d
		k.vb, k.vh, k.vj = k.hkv*k.t*k.dv, k.t*k.dv, k.dv
		k.yb, k.yh, k.yi = k.hq*k.sq*k.dv, k.sq*k.dv, k.dv
	case len(qs) == 3 && len(ks) == 3 && len(vs) == 3:
		k.hq, k.hkv = int(a.Int("q_num_heads", 0)), int(a.Int("kv_num_heads", 0))
		if k.hq <= 0 || k.hkv <= 0 || qs[2]%k.hq != 0 || ks[2]%k.hkv != 0 || vs[2]%k.hkv != 0 {
			return nil
		}
		k.b, k.sq, k.d = qs[0], qs[1], qs[2]/k.hq
		k.t, k.dv = ks[1], vs[2]/k.hkv
		if ks[0] != k.b || ks[2]/k.hkv != k.d || vs[0] != k.b || vs[1] != k.t {
			return nil
		}
		k.qb, k.qh, k.qi = k.sq*k.hq*k.d, k.d, k.hq*k.d
		k.kb, k.kh, k.kj = k.t*k.hkv*k.d, k.d, k.hkv*k.d
		k.vb, k.vh, k.vj = k.t*k.hkv*k.dv, k.dv, k.hkv*k.dv
		k.yb, k.yh, k.yi = k.sq*k.hq*k.dv, k.dv, k.hq*k.dv
	default:
		return nil
	}
	if k.b <= 0 || k.hq <= 0 || k.hkv <= 0 || k.hq%k.hkv != 0 || k.sq <= 0 || k.t <= 0 || k.d <= 0 || k.dv <= 0 {
		return nil
	}
	k.group = k.hq / k.hkv

	scale := 1 / math.Sqrt(float64(k.d))
	if a.Has("scale") {
		scale = float64(a.Float("scale", 0))
	}
	k.scale = float32(scale)
	k.softcap = a.Float("softcap", 0)
	if k.softcap < 0 {
		k.softcap = 0
	}
	k.causal = a.Int("is_causal", 0) != 0
	if m := a.Int("qk_matmul_output_mode", 0); m < 0 || m > 3 {
		return nil
	}

	if len(s.In) > 3 && s.In[3].DType != tensor.Undefined {
		switch s.In[3].DType {
		case tensor.Float32:
			k.mask = attnFloatMask
		case tensor.Bool:
			k.mask = attnBoolMask
		default:
			return nil
		}
		ms := s.In[3].Shape
		if len(ms) < 1 || len(ms) > 4 {
			return nil
		}
		m4 := [4]int{1, 1, 1, 1}
		copy(m4[4-len(ms):], ms)
		if m4[3] <= 0 || m4[3] > k.t {
			return nil
		}
		full := [3]int{k.b, k.hq, k.sq}
		for i, d := range m4[:3] {
			if d != 1 && d != full[i] {
				return nil
			}
		}
		k.ml = m4[3]
		k.mi = k.ml
		k.mh = m4[2] * k.mi
		k.mb = m4[1] * k.mh
		if m4[0] == 1 {
			k.mb = 0
		}
		if m4[1] == 1 {
			k.mh = 0
		}
		if m4[2] == 1 {
			k.mi = 0
		}
	}

	// Whole heads per unit when their scores fit in 128 KB and there are
	// heads enough for the threads (K and V are then packed once per
	// head), else blocks of about attnRows rows, a multiple of the
	// micro-tile's rows.
	threads := max(s.Threads, 1)
	if k.sq*k.t <= 1<<15 && k.b*k.hq >= 2*threads {
		k.nqb, k.rb = 1, k.sq
	} else {
		mr, _ := asm.Tile()
		k.nqb = (k.sq + attnRows - 1) / attnRows
		k.rb = (k.sq + k.nqb - 1) / k.nqb
		if k.nqb > 1 {
			k.rb = min((k.rb+mr-1)/mr*mr, k.sq)
			k.nqb = (k.sq + k.rb - 1) / k.rb
		}
	}
	k.units = k.b * k.hq * k.nqb
	k.par = k.b*k.hq*k.sq*k.t*(k.d+k.dv) >= 1<<17
	return k
}

// scratchPer is the scratch one part uses: a block of scores and the
// block's reciprocal row sums.
func (k *attnK) scratchPer() int { return k.rb*k.t + k.rb }

func (k *attnK) Run(env *Env, in, out []*tensor.Tensor) {
	parts := 1
	if k.par && env != nil && env.Pool != nil {
		parts = min(env.Pool.Workers(), k.units)
	}
	if env == nil {
		env = &Env{}
	}
	env.Scratch(parts * k.scratchPer())
	if parts <= 1 {
		k.RunPart(env, 0, 1, in, out)
		return
	}
	env.Pool.ParallelParts(parts, k, env, in, out)
}

// RunPart computes units [units·i/n, units·(i+1)/n) with the i-th slice of
// the scratch Run reserved.
func (k *attnK) RunPart(env *Env, i, n int, in, out []*tensor.Tensor) {
	per := k.scratchPer()
	sc := env.scratch[i*per : (i+1)*per]
	q, kk, v, y := in[0].F32(), in[1].F32(), in[2].F32(), out[0].F32()
	var mf []float32
	var mbool []bool
	switch k.mask {
	case attnFloatMask:
		mf = in[3].F32()
	case attnBoolMask:
		mbool = in[3].Bools()
	}
	for u := k.units * i / n; u < k.units*(i+1)/n; u++ {
		bh, qb := u/k.nqb, u%k.nqb
		b, h := bh/k.hq, bh%k.hq
		hk := h / k.group
		i0 := qb * k.rb
		rows := min(k.rb, k.sq-i0)
		tc := k.t
		if k.causal {
			tc = min(k.t, i0+rows) // key j > i is masked for every row i < i0+rows
		}
		s := sc[:rows*k.t]
		inv := sc[k.rb*k.t : k.rb*k.t+rows]
		qoff := b*k.qb + h*k.qh + i0*k.qi
		koff := b*k.kb + hk*k.kh
		voff := b*k.vb + hk*k.vh
		yoff := b*k.yb + h*k.yh + i0*k.yi
		Sgemm(false, true, rows, tc, k.d, k.scale, q[qoff:], k.qi, kk[koff:], k.kj, 0, s, k.t)
		for r := 0; r < rows; r++ {
			row := s[r*k.t : r*k.t+tc]
			qi := i0 + r
			if k.softcap > 0 {
				c := k.softcap
				ic := 1 / c
				for j := range row {
					row[j] *= ic
				}
				asm.Tanh(row, row)
				for j := range row {
					row[j] *= c
				}
			}
			if k.mask != attnNoMask {
				moff := b*k.mb + h*k.mh + qi*k.mi
				ml := min(k.ml, tc)
				if mf != nil {
					m := mf[moff : moff+ml]
					for j, x := range m {
						row[j] += x
					}
				} else {
					m := mbool[moff : moff+ml]
					for j, keep := range m {
						if !keep {
							row[j] = float32(math.Inf(-1))
						}
					}
				}
				for j := ml; j < tc; j++ {
					row[j] = float32(math.Inf(-1))
				}
			}
			if k.causal {
				for j := qi + 1; j < tc; j++ {
					row[j] = float32(math.Inf(-1))
				}
			}
			inv[r] = expShifted(row)
		}
		yblk := y[yoff:]
		Sgemm(false, false, rows, k.dv, tc, 1, s, k.t, v[voff:], k.vj, 0, yblk, k.yi)
		for r := 0; r < rows; r++ {
			asm.ScaleF32(yblk[r*k.yi:r*k.yi+k.dv], inv[r])
		}
	}
}

// expShifted replaces row by exp(row - max(row)) and returns 1/Σ. A row
// with no finite maximum (every key masked) becomes zeros and gives 0, so
// its output row is zero.
func expShifted(row []float32) float32 {
	m := asm.MaxF32(row)
	if math.IsInf(float64(m), -1) {
		clear(row)
		return 0
	}
	return 1 / asm.ExpShiftSum(row, row, m)
}

func init() {
	Register("", "Attention", "Attention/f32", 10, attentionFactory)
}
