package kernel

import (
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// Fused LSTM and GRU (ONNX LSTM-22/GRU-22, float32, layout 0, default
// activations, no clip, no sequence_lens, no peepholes, no
// input_forget; other nodes run the reference op). The input projection
// of every timestep is one packed GEMM per direction, X[seq*batch, in] x
// Wᵀ, with the biases folded in as a column-bias epilogue (for GRU with
// linear_before_reset the recurrent bias of the h gate stays apart, as r
// multiplies it). Each timestep then adds H_{t-1} x Rᵀ: SgemvAcc per batch
// row for small batches, a packed GEMM with beta = 1 from four rows on.
// Gate nonlinearities run on whole gate blocks with the vector routines.

type rnnKernel struct {
	gru               bool
	dirs, G, hid, isz int
	seq, batch        int
	reverse           bool
	lbr               bool // GRU linear_before_reset
	wp                []*PackedB
	bias              [][]float32 // per direction, G*hid: input-projection bias
	rbh               [][]float32 // GRU lbr: recurrent bias of the h gate
	rt                [][]float32 // per direction, Rᵀ [hid, G*hid]
	rpk               []*PackedB  // per direction, Rᵀ packed (all gates, or z,r for GRU lbr=0)
	rpkH              []*PackedB  // GRU lbr=0: Rhᵀ packed
	ep                []Epilogue
}

// rnnOK reports whether the node uses only what the fused kernel does.
func rnnOK(s *Spec, gru bool) bool {
	a := s.Node.Attrs
	if len(s.In) < 3 || s.In[0].DType != tensor.Float32 || s.In[1].Const == nil || s.In[2].Const == nil {
		return false
	}
	if a.Int("layout", 0) != 0 || a.Float("clip", 0) != 0 || a.Int("input_forget", 0) != 0 {
		return false
	}
	if len(a.Floats("activation_alpha")) > 0 || len(a.Floats("activation_beta")) > 0 {
		return false
	}
	defs := []string{"sigmoid", "tanh", "tanh"}
	if gru {
		defs = defs[:2]
	}
	for i, n := range a.Strings("activations") {
		if strings.ToLower(n) != defs[i%len(defs)] {
			return false
		}
	}
	if len(s.In) > 3 && s.In[3].DType != tensor.Undefined && s.In[3].Const == nil {
		return false
	}
	if len(s.In) > 4 && s.In[4].DType != tensor.Undefined { // sequence_lens
		return false
	}
	if !gru && len(s.In) > 7 && s.In[7].DType != tensor.Undefined { // peepholes
		return false
	}
	for _, o := range s.Out {
		if o.DType != tensor.Undefined && o.DType != tensor.Float32 {
			return false
		}
	}
	for _, i := range []int{5, 6} {
		if i < len(s.In) && s.In[i].DType != tensor.Undefined && s.In[i].DType != tensor.Float32 {
			return false
		}
	}
	return len(s.In[0].Shape) == 3
}

func newRNN(s *Spec, gru bool) Kernel {
	if !rnnOK(s, gru) {
		return nil
	}
	a := s.Node.Attrs
	k := &rnnKernel{gru: gru, G: 4}
	if gru {
		k.G = 3
		k.lbr = a.Int("linear_before_reset", 0) != 0
	}
	switch a.String("direction", "forward") {
	case "forward":
		k.dirs = 1
	case "reverse":
		k.dirs, k.reverse = 1, true
	case "bidirectional":
		k.dirs = 2
	default:
		return nil
	}
	xs := s.In[0].Shape
	k.seq, k.batch, k.isz = xs[0], xs[1], xs[2]
	W, R := s.In[1].Const, s.In[2].Const
	k.hid = R.Shape()[2]
	G, H := k.G, k.hid
	if !W.Shape().Equal(tensor.Shape{k.dirs, G * H, k.isz}) || !R.Shape().Equal(tensor.Shape{k.dirs, G * H, H}) {
		return nil
	}
	var b []float32
	if len(s.In) > 3 && s.In[3].Const != nil {
		if !s.In[3].Const.Shape().Equal(tensor.Shape{k.dirs, 2 * G * H}) {
			return nil
		}
		b = s.In[3].Const.F32()
	}
	w, r := W.F32(), R.F32()
	for d := 0; d < k.dirs; d++ {
		wd := w[d*G*H*k.isz : (d+1)*G*H*k.isz]
		rd := r[d*G*H*H : (d+1)*G*H*H]
		k.wp = append(k.wp, s.PackB(1, true, k.isz, G*H, wd, k.isz))
		bias := make([]float32, G*H)
		var rbh []float32
		if b != nil {
			wb := b[d*2*G*H : d*2*G*H+G*H]
			rb := b[d*2*G*H+G*H : (d+1)*2*G*H]
			for j := range bias {
				bias[j] = wb[j] + rb[j]
			}
			if k.lbr {
				rbh = append([]float32(nil), rb[2*H:3*H]...)
				for j := 2 * H; j < 3*H; j++ {
					bias[j] = wb[j]
				}
			}
		}
		if rbh == nil {
			rbh = make([]float32, H)
		}
		k.bias = append(k.bias, bias)
		k.rbh = append(k.rbh, rbh)
		rt := make([]float32, H*G*H)
		for j := 0; j < G*H; j++ {
			for p := 0; p < H; p++ {
				rt[p*G*H+j] = rd[j*H+p]
			}
		}
		k.rt = append(k.rt, rt)
		if gru && !k.lbr {
			k.rpk = append(k.rpk, s.PackB(2, true, H, 2*H, rd, H))
			k.rpkH = append(k.rpkH, s.PackB(2, true, H, H, rd[2*H*H:], H))
		} else {
			k.rpk = append(k.rpk, s.PackB(2, true, H, G*H, rd, H))
		}
	}
	k.ep = make([]Epilogue, k.dirs)
	for d := range k.ep {
		k.ep[d] = Epilogue{Bias: k.bias[d]}
	}
	return k
}

// recur adds rows h[batch, H] x (Rᵀ columns [c0, c0+n)) into c (row stride
// ldc): SgemvAcc per row for small batches, else the packed GEMM pk.
func (k *rnnKernel) recur(env *Env, h []float32, rt []float32, c0, n int, pk *PackedB, c []float32, ldc int) {
	H, GH := k.hid, k.G*k.hid
	if k.batch < 4 {
		for b := 0; b < k.batch; b++ {
			asm.SgemvAcc(h[b*H:(b+1)*H], rt[c0:], GH, c[b*ldc:b*ldc+n])
		}
		return
	}
	var pool Pool
	if env != nil && env.Pool != nil && k.batch*n*H >= 1<<21 {
		pool = env.Pool
	}
	SgemmPacked(pool, false, k.batch, 1, h, H, pk, 1, c, ldc, nil)
}

func (k *rnnKernel) Run(env *Env, in, out []*tensor.Tensor) {
	G, H, B, T := k.G, k.hid, k.batch, k.seq
	GH := G * H
	x := in[0].F32()
	var y, yh, yc []float32
	if len(out) > 0 && out[0] != nil {
		y = out[0].F32()
	}
	if len(out) > 1 && out[1] != nil {
		yh = out[1].F32()
	}
	if len(out) > 2 && out[2] != nil {
		yc = out[2].F32()
	}
	var h0, c0 []float32
	if len(in) > 5 && in[5] != nil {
		h0 = in[5].F32()
	}
	if len(in) > 6 && in[6] != nil {
		c0 = in[6].F32()
	}
	// Scratch: gates of every step [T*B, GH], h, c, tmp [B, GH].
	var pool Pool
	if env != nil && env.Pool != nil {
		pool = env.Pool
	}
	sc := env.Scratch(T*B*GH + 2*B*H + B*GH)
	gx, sc := sc[:T*B*GH], sc[T*B*GH:]
	h, sc := sc[:B*H], sc[B*H:]
	c, tmp := sc[:B*H], sc[B*H:]
	for d := 0; d < k.dirs; d++ {
		SgemmPacked(pool, false, T*B, 1, x, k.isz, k.wp[d], 0, gx, GH, &k.ep[d])
		if h0 != nil {
			copy(h, h0[d*B*H:(d+1)*B*H])
		} else {
			clear(h)
		}
		if !k.gru {
			if c0 != nil {
				copy(c, c0[d*B*H:(d+1)*B*H])
			} else {
				clear(c)
			}
		}
		back := k.reverse || d == 1
		for step := 0; step < T; step++ {
			t := step
			if back {
				t = T - 1 - step
			}
			g := gx[t*B*GH : (t+1)*B*GH]
			if k.gru {
				k.gruStep(env, d, g, h, tmp)
			} else {
				k.recur(env, h, k.rt[d], 0, GH, k.rpk[d], g, GH)
				for b := 0; b < B; b++ {
					gb := g[b*GH : (b+1)*GH]
					asm.Sigmoid(gb[:3*H], gb[:3*H]) // i, o, f
					asm.Tanh(gb[3*H:], gb[3*H:])    // c~
					ig, og, fg, cg := gb[:H], gb[H:2*H], gb[2*H:3*H], gb[3*H:4*H]
					cb := c[b*H : (b+1)*H]
					for j := range cb {
						cb[j] = fg[j]*cb[j] + ig[j]*cg[j]
					}
					tc := tmp[b*H : (b+1)*H]
					asm.Tanh(tc, cb)
					hb := h[b*H : (b+1)*H]
					for j := range hb {
						hb[j] = og[j] * tc[j]
					}
				}
			}
			if y != nil {
				copy(y[(t*k.dirs+d)*B*H:(t*k.dirs+d+1)*B*H], h)
			}
		}
		if yh != nil {
			copy(yh[d*B*H:(d+1)*B*H], h)
		}
		if yc != nil {
			copy(yc[d*B*H:(d+1)*B*H], c)
		}
	}
}

// gruStep advances h by one step; g holds the step's input projections
// [B, 3H] (z, r, h gates, biases folded) and is overwritten.
func (k *rnnKernel) gruStep(env *Env, d int, g, h, tmp []float32) {
	H, B := k.hid, k.batch
	GH := 3 * H
	if k.lbr {
		// gh = H x Rᵀ + (0, 0, Rbh) into tmp; z, r from g + gh.
		for b := 0; b < B; b++ {
			tb := tmp[b*GH : (b+1)*GH]
			clear(tb[:2*H])
			copy(tb[2*H:], k.rbh[d])
		}
		k.recur(env, h, k.rt[d], 0, GH, k.rpk[d], tmp, GH)
		for b := 0; b < B; b++ {
			gb, tb := g[b*GH:(b+1)*GH], tmp[b*GH:(b+1)*GH]
			zr := gb[:2*H]
			for j := range zr {
				zr[j] += tb[j]
			}
			asm.Sigmoid(zr, zr)
			z, r, n := gb[:H], gb[H:2*H], gb[2*H:]
			th := tb[2*H:]
			for j := range n {
				n[j] += r[j] * th[j]
			}
			asm.Tanh(n, n)
			hb := h[b*H : (b+1)*H]
			for j := range hb {
				hb[j] = (1-z[j])*n[j] + z[j]*hb[j]
			}
		}
		return
	}
	k.recur(env, h, k.rt[d], 0, 2*H, k.rpk[d], g, GH)
	for b := 0; b < B; b++ {
		gb := g[b*GH : (b+1)*GH]
		asm.Sigmoid(gb[:2*H], gb[:2*H])
		r := gb[H : 2*H]
		rh := tmp[b*H : (b+1)*H]
		hb := h[b*H : (b+1)*H]
		for j := range rh {
			rh[j] = r[j] * hb[j]
		}
	}
	// n gate: g[:, 2H:3H] += (r⊙H) x Rhᵀ
	k.recur(env, tmp[:B*H], k.rt[d], 2*H, H, k.rpkH[d], g[2*H:], GH)
	for b := 0; b < B; b++ {
		gb := g[b*GH : (b+1)*GH]
		z, n := gb[:H], gb[2*H:]
		asm.Tanh(n, n)
		hb := h[b*H : (b+1)*H]
		for j := range hb {
			hb[j] = (1-z[j])*n[j] + z[j]*hb[j]
		}
	}
}

func init() {
	Register("", "LSTM", "LSTM/f32-fused", 10, func(s *Spec) Kernel { return newRNN(s, false) })
	Register("", "GRU", "GRU/f32-fused", 10, func(s *Spec) Kernel { return newRNN(s, true) })
}
