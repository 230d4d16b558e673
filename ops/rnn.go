package ops

import (
	"math"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// rdCellKind selects the recurrent cell.
type rdCellKind int

const (
	rdCellRNN rdCellKind = iota
	rdCellGRU
	rdCellLSTM
)

// gates per cell kind.
func (k rdCellKind) gates() int {
	switch k {
	case rdCellGRU:
		return 3
	case rdCellLSTM:
		return 4
	}
	return 1
}

// RNN is the simple recurrent layer (ONNX RNN-22):
//
//	H_t = f(X_t·Wᵀ + H_{t-1}·Rᵀ + Wb + Rb),  f = Tanh by default.
//
// Inputs: X [seq, batch, input] (layout 0) or [batch, seq, input] (layout 1),
// W [dirs, hidden, input], R [dirs, hidden, hidden], optional B [dirs,
// 2·hidden] (Wb then Rb), sequence_lens [batch], initial_h [dirs, batch,
// hidden] ([batch, dirs, hidden] with layout 1). Outputs (each optional): Y
// [seq, dirs, batch, hidden] ([batch, seq, dirs, hidden] with layout 1) and
// Y_h, the last hidden state of each direction. Attributes: hidden_size,
// direction (forward, reverse, bidirectional), activations with
// activation_alpha/activation_beta (consumed in order by the activations
// that take them, ONNX defaults otherwise), clip (gate pre-activations are
// clipped to [-clip, clip]), layout. Steps past a batch entry's sequence
// length produce zeros in Y and leave its state unchanged. float16/bfloat16
// compute in float64 and round back.
var RNN = &Def{Name: "RNN", Infer: rdRNNInfer(rdCellRNN), Kernel: rdRNNKernel(rdCellRNN)}

// GRU is the gated recurrent unit layer (ONNX GRU-22), gates z, r, h in that
// order in W, R and B:
//
//	z = f(X·Wzᵀ + H·Rzᵀ + Wbz + Rbz),  r = f(X·Wrᵀ + H·Rrᵀ + Wbr + Rbr)
//	h = g(X·Whᵀ + (r⊙H)·Rhᵀ + Rbh + Wbh)          linear_before_reset = 0
//	h = g(X·Whᵀ + r⊙(H·Rhᵀ + Rbh) + Wbh)           linear_before_reset ≠ 0
//	H' = (1-z)⊙h + z⊙H
//
// f = Sigmoid and g = Tanh by default. Inputs, outputs and the other
// attributes are those of RNN with 3·hidden gate rows.
var GRU = &Def{Name: "GRU", Infer: rdRNNInfer(rdCellGRU), Kernel: rdRNNKernel(rdCellGRU)}

// LSTM is the long short-term memory layer (ONNX LSTM-22), gates i, o, f, c
// in that order in W, R and B, peepholes P [dirs, 3·hidden] in order i, o, f:
//
//	i = f(X·Wiᵀ + H·Riᵀ + Pi⊙C + Wbi + Rbi)
//	f = f(X·Wfᵀ + H·Rfᵀ + Pf⊙C + Wbf + Rbf)    (1 - i with input_forget ≠ 0)
//	c = g(X·Wcᵀ + H·Rcᵀ + Wbc + Rbc)
//	C' = f⊙C + i⊙c
//	o = f(X·Woᵀ + H·Roᵀ + Po⊙C' + Wbo + Rbo)
//	H' = o⊙h(C')
//
// f = Sigmoid, g = h = Tanh by default. Extra input initial_c and output
// Y_c (the last cell state) besides those of RNN.
var LSTM = &Def{Name: "LSTM", Infer: rdRNNInfer(rdCellLSTM), Kernel: rdRNNKernel(rdCellLSTM)}

func init() {
	Register(RNN)
	Register(GRU)
	Register(LSTM)
}

// rdAct is one activation function with its parameters.
type rdAct struct {
	name        string
	alpha, beta float64
}

func (a rdAct) apply(x float64) float64 {
	switch a.name {
	case "sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "tanh":
		return math.Tanh(x)
	case "relu":
		return math.Max(x, 0)
	case "affine":
		return a.alpha*x + a.beta
	case "leakyrelu":
		if x < 0 {
			return a.alpha * x
		}
		return x
	case "thresholdedrelu":
		if x > a.alpha {
			return x
		}
		return 0
	case "scaledtanh":
		return a.alpha * math.Tanh(a.beta*x)
	case "hardsigmoid":
		return math.Max(0, math.Min(1, a.alpha*x+a.beta))
	case "elu":
		if x < 0 {
			return a.alpha * (math.Exp(x) - 1)
		}
		return x
	case "softsign":
		return x / (1 + math.Abs(x))
	case "softplus":
		return math.Log1p(math.Exp(x))
	}
	return x
}

// rdActDefaults gives each activation's default alpha/beta and whether it
// takes them.
func rdActDefaults(name string) (alpha, beta float64, usesAlpha, usesBeta bool, ok bool) {
	switch name {
	case "sigmoid", "tanh", "relu", "softsign", "softplus":
		return 0, 0, false, false, true
	case "affine":
		return 1, 0, true, true, true
	case "leakyrelu":
		return 0.01, 0, true, false, true
	case "thresholdedrelu", "elu":
		return 1, 0, true, false, true
	case "scaledtanh":
		return 1, 1, true, true, true
	case "hardsigmoid":
		return 0.2, 0.5, true, true, true
	}
	return 0, 0, false, false, false
}

// rdActivations resolves the activation list of a recurrent node: per
// direction, per slot (f, g, h).
func rdActivations(n *graph.Node, k rdCellKind, dirs int) ([][]rdAct, error) {
	defs := map[rdCellKind][]string{
		rdCellRNN:  {"tanh"},
		rdCellGRU:  {"sigmoid", "tanh"},
		rdCellLSTM: {"sigmoid", "tanh", "tanh"},
	}[k]
	per := len(defs)
	names := n.Attrs.Strings("activations")
	if len(names) == 0 {
		for d := 0; d < dirs; d++ {
			names = append(names, defs...)
		}
	}
	if len(names) == per && dirs == 2 {
		names = append(names, names...)
	}
	if len(names) != per*dirs {
		return nil, Errorf(n, "activations lists %d functions, want %d (%d per direction)", len(names), per*dirs, per)
	}
	alphas, betas := n.Attrs.Floats("activation_alpha"), n.Attrs.Floats("activation_beta")
	ai, bi := 0, 0
	out := make([][]rdAct, dirs)
	for i, nm := range names {
		name := strings.ToLower(nm)
		a, b, ua, ub, ok := rdActDefaults(name)
		if !ok {
			return nil, Unsupported(n, "activation %q", nm)
		}
		if ua && ai < len(alphas) {
			a = float64(alphas[ai])
			ai++
		}
		if ub && bi < len(betas) {
			b = float64(betas[bi])
			bi++
		}
		out[i/per] = append(out[i/per], rdAct{name, a, b})
	}
	return out, nil
}

func rdDirections(n *graph.Node) (int, error) {
	switch d := n.Attrs.String("direction", "forward"); d {
	case "forward", "reverse":
		return 1, nil
	case "bidirectional":
		return 2, nil
	default:
		return 0, Errorf(n, "direction %q, want forward, reverse or bidirectional", d)
	}
}

func rdRNNInfer(k rdCellKind) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 3 {
			return nil, ic.Errorf("needs inputs X, W and R")
		}
		dirs, err := rdDirections(ic.Node)
		if err != nil {
			return nil, err
		}
		x := ic.In[0]
		dt := x.DType
		hid := int(ic.Node.Attrs.Int("hidden_size", -1))
		if hid < 0 && !ic.In[2].Unranked && len(ic.In[2].Shape) == 3 {
			hid = ic.In[2].Shape[2]
		}
		seq, batch := -1, -1
		layout := ic.Node.Attrs.Int("layout", 0)
		if !x.Unranked && len(x.Shape) == 3 {
			seq, batch = x.Shape[0], x.Shape[1]
			if layout != 0 {
				seq, batch = batch, seq
			}
		}
		var y, yh graph.Type
		if layout == 0 {
			y = graph.TensorType(dt, seq, dirs, batch, hid)
			yh = graph.TensorType(dt, dirs, batch, hid)
		} else {
			y = graph.TensorType(dt, batch, seq, dirs, hid)
			yh = graph.TensorType(dt, batch, dirs, hid)
		}
		outs := []graph.Type{y, yh}
		if k == rdCellLSTM {
			outs = append(outs, yh)
		}
		if n := len(ic.Node.Outputs); n < len(outs) {
			outs = outs[:n]
		}
		return outs, nil
	}
}

func rdRNNKernel(k rdCellKind) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return rdRecurrent(n, k, in)
	}
}

// rdGet returns input i or nil.
func rdGet(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func rdRecurrent(n *graph.Node, k rdCellKind, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	X, W, R := rdGet(in, 0), rdGet(in, 1), rdGet(in, 2)
	if X == nil || W == nil || R == nil {
		return nil, Errorf(n, "needs inputs X, W and R")
	}
	if !X.DType().IsFloat() || W.DType() != X.DType() || R.DType() != X.DType() {
		return nil, Errorf(n, "X, W and R must share one float type, got %v, %v, %v", X.DType(), W.DType(), R.DType())
	}
	if X.Rank() != 3 || W.Rank() != 3 || R.Rank() != 3 {
		return nil, Errorf(n, "X, W and R must be rank 3, got %v, %v, %v", X.Shape(), W.Shape(), R.Shape())
	}
	dirs, err := rdDirections(n)
	if err != nil {
		return nil, err
	}
	layout := n.Attrs.Int("layout", 0)
	G := k.gates()
	seq, batch, isz := X.Shape()[0], X.Shape()[1], X.Shape()[2]
	if layout != 0 {
		seq, batch = batch, seq
	}
	hid := int(n.Attrs.Int("hidden_size", int64(R.Shape()[2])))
	if !W.Shape().Equal(tensor.Shape{dirs, G * hid, isz}) {
		return nil, Errorf(n, "W has shape %v, want %v", W.Shape(), tensor.Shape{dirs, G * hid, isz})
	}
	if !R.Shape().Equal(tensor.Shape{dirs, G * hid, hid}) {
		return nil, Errorf(n, "R has shape %v, want %v", R.Shape(), tensor.Shape{dirs, G * hid, hid})
	}
	acts, err := rdActivations(n, k, dirs)
	if err != nil {
		return nil, err
	}
	clip := float64(n.Attrs.Float("clip", 0))
	linearBeforeReset := n.Attrs.Int("linear_before_reset", 0) != 0
	inputForget := n.Attrs.Int("input_forget", 0) != 0

	x, w, r := X.Float64s(), W.Float64s(), R.Float64s()
	b := make([]float64, dirs*2*G*hid)
	if B := rdGet(in, 3); B != nil {
		if !B.Shape().Equal(tensor.Shape{dirs, 2 * G * hid}) {
			return nil, Errorf(n, "B has shape %v, want %v", B.Shape(), tensor.Shape{dirs, 2 * G * hid})
		}
		b = B.Float64s()
	}
	seqLens := make([]int, batch)
	for i := range seqLens {
		seqLens[i] = seq
	}
	if S := rdGet(in, 4); S != nil {
		if S.Len() != batch || !S.DType().IsInt() {
			return nil, Errorf(n, "sequence_lens must be %d integers, got %v %v", batch, S.DType(), S.Shape())
		}
		for i, v := range S.Int64s() {
			if v < 0 || int(v) > seq {
				return nil, Errorf(n, "sequence_lens[%d] = %d out of range [0, %d]", i, v, seq)
			}
			seqLens[i] = int(v)
		}
	}
	// State tensors are read in [dirs, batch, hidden] order.
	stateShape := tensor.Shape{dirs, batch, hid}
	if layout != 0 {
		stateShape = tensor.Shape{batch, dirs, hid}
	}
	readState := func(i int, name string) ([]float64, error) {
		s := make([]float64, dirs*batch*hid)
		t := rdGet(in, i)
		if t == nil {
			return s, nil
		}
		if !t.Shape().Equal(stateShape) {
			return nil, Errorf(n, "%s has shape %v, want %v", name, t.Shape(), stateShape)
		}
		v := t.Float64s()
		if layout == 0 {
			return v, nil
		}
		for bb := 0; bb < batch; bb++ {
			for d := 0; d < dirs; d++ {
				copy(s[(d*batch+bb)*hid:(d*batch+bb+1)*hid], v[(bb*dirs+d)*hid:(bb*dirs+d+1)*hid])
			}
		}
		return s, nil
	}
	h0, err := readState(5, "initial_h")
	if err != nil {
		return nil, err
	}
	var c0, p []float64
	if k == rdCellLSTM {
		if c0, err = readState(6, "initial_c"); err != nil {
			return nil, err
		}
		p = make([]float64, dirs*3*hid)
		if P := rdGet(in, 7); P != nil {
			if !P.Shape().Equal(tensor.Shape{dirs, 3 * hid}) {
				return nil, Errorf(n, "P has shape %v, want %v", P.Shape(), tensor.Shape{dirs, 3 * hid})
			}
			p = P.Float64s()
		}
	}

	y := make([]float64, seq*dirs*batch*hid) // [seq, dirs, batch, hid]
	yh := make([]float64, dirs*batch*hid)
	yc := make([]float64, dirs*batch*hid)
	clipf := func(v float64) float64 {
		if clip > 0 {
			return math.Max(-clip, math.Min(clip, v))
		}
		return v
	}
	gx := make([]float64, G*hid)
	gh := make([]float64, G*hid)
	rh := make([]float64, hid)
	reverse := n.Attrs.String("direction", "forward") == "reverse"
	for d := 0; d < dirs; d++ {
		wd := w[d*G*hid*isz : (d+1)*G*hid*isz]
		rd := r[d*G*hid*hid : (d+1)*G*hid*hid]
		wb := b[d*2*G*hid : d*2*G*hid+G*hid]
		rb := b[d*2*G*hid+G*hid : (d+1)*2*G*hid]
		act := acts[d]
		back := reverse || d == 1
		for bb := 0; bb < batch; bb++ {
			h := append([]float64(nil), h0[(d*batch+bb)*hid:(d*batch+bb+1)*hid]...)
			var c []float64
			if k == rdCellLSTM {
				c = append([]float64(nil), c0[(d*batch+bb)*hid:(d*batch+bb+1)*hid]...)
			}
			L := seqLens[bb]
			for step := 0; step < L; step++ {
				t := step
				if back {
					t = L - 1 - step
				}
				var xt []float64
				if layout == 0 {
					xt = x[(t*batch+bb)*isz : (t*batch+bb+1)*isz]
				} else {
					xt = x[(bb*seq+t)*isz : (bb*seq+t+1)*isz]
				}
				rdMatVec(gx, wd, xt, wb)
				rdMatVec(gh, rd, h, rb)
				switch k {
				case rdCellRNN:
					for j := 0; j < hid; j++ {
						h[j] = act[0].apply(clipf(gx[j] + gh[j]))
					}
				case rdCellGRU:
					z := make([]float64, hid)
					rr := make([]float64, hid)
					for j := 0; j < hid; j++ {
						z[j] = act[0].apply(clipf(gx[j] + gh[j]))
						rr[j] = act[0].apply(clipf(gx[hid+j] + gh[hid+j]))
					}
					if !linearBeforeReset {
						for j := 0; j < hid; j++ {
							rh[j] = rr[j] * h[j]
						}
						rdMatVec(gh[2*hid:], rd[2*hid*hid:], rh, rb[2*hid:])
					}
					for j := 0; j < hid; j++ {
						var pre float64
						if linearBeforeReset {
							pre = gx[2*hid+j] + rr[j]*gh[2*hid+j]
						} else {
							pre = gx[2*hid+j] + gh[2*hid+j]
						}
						hh := act[1].apply(clipf(pre))
						h[j] = (1-z[j])*hh + z[j]*h[j]
					}
				case rdCellLSTM:
					pd := p[d*3*hid : (d+1)*3*hid]
					for j := 0; j < hid; j++ {
						ig := act[0].apply(clipf(gx[j] + gh[j] + pd[j]*c[j]))
						fg := act[0].apply(clipf(gx[2*hid+j] + gh[2*hid+j] + pd[2*hid+j]*c[j]))
						if inputForget {
							fg = 1 - ig
						}
						cg := act[1].apply(clipf(gx[3*hid+j] + gh[3*hid+j]))
						c[j] = fg*c[j] + ig*cg
						og := act[0].apply(clipf(gx[hid+j] + gh[hid+j] + pd[hid+j]*c[j]))
						h[j] = og * act[2].apply(c[j])
					}
				}
				copy(y[((t*dirs+d)*batch+bb)*hid:], h)
			}
			copy(yh[(d*batch+bb)*hid:], h)
			if k == rdCellLSTM {
				copy(yc[(d*batch+bb)*hid:], c)
			}
		}
	}

	dt := X.DType()
	var outs []*tensor.Tensor
	want := len(n.Outputs)
	if layout == 0 {
		outs = append(outs, tensor.FromFloat64s(dt, tensor.Shape{seq, dirs, batch, hid}, y))
	} else {
		yt := make([]float64, len(y))
		for t := 0; t < seq; t++ {
			for d := 0; d < dirs; d++ {
				for bb := 0; bb < batch; bb++ {
					copy(yt[((bb*seq+t)*dirs+d)*hid:((bb*seq+t)*dirs+d+1)*hid], y[((t*dirs+d)*batch+bb)*hid:])
				}
			}
		}
		outs = append(outs, tensor.FromFloat64s(dt, tensor.Shape{batch, seq, dirs, hid}, yt))
	}
	state := func(s []float64) *tensor.Tensor {
		if layout == 0 {
			return tensor.FromFloat64s(dt, stateShape, s)
		}
		st := make([]float64, len(s))
		for bb := 0; bb < batch; bb++ {
			for d := 0; d < dirs; d++ {
				copy(st[(bb*dirs+d)*hid:(bb*dirs+d+1)*hid], s[(d*batch+bb)*hid:])
			}
		}
		return tensor.FromFloat64s(dt, stateShape, st)
	}
	outs = append(outs, state(yh))
	if k == rdCellLSTM {
		outs = append(outs, state(yc))
	}
	if want > 0 && want < len(outs) {
		outs = outs[:want]
	}
	return outs, nil
}

// rdMatVec sets out[i] = Σ_j m[i, j]·v[j] + bias[i] for len(out) rows of a
// row-major matrix with len(v) columns.
func rdMatVec(out, m, v, bias []float64) {
	nc := len(v)
	for i := range out {
		row := m[i*nc : (i+1)*nc]
		s := bias[i]
		for j, a := range row {
			s += a * v[j]
		}
		out[i] = s
	}
}
