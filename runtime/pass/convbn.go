package pass

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	Register(Pass{
		Name:  "conv-bn-fold",
		Level: LevelFusion,
		Doc: "Folds an inference-mode BatchNormalization with constant statistics that alone reads a Conv or " +
			"ConvTranspose with constant weights into that convolution: W'[m] = W[m]·s[m] and " +
			"B' = (B - mean)·s + bias with s = scale/sqrt(var + epsilon), computed in float64.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, foldConvBN) },
	})
}

func foldConvBN(g *graph.Graph) (bool, error) {
	changed := false
	nm := (*namer)(nil)
	for {
		ix := newIndex(g)
		done := false
		for _, bn := range g.Nodes {
			if bn.Op != "BatchNormalization" || bn.Domain != "" || len(bn.Inputs) != 5 || bn.Attrs.Int("training_mode", 0) != 0 {
				continue
			}
			if len(bn.Outputs) > 1 {
				extra := false
				for _, o := range bn.Outputs[1:] {
					if o != "" && ix.uses(o) > 0 {
						extra = true
					}
				}
				if extra {
					continue
				}
			}
			conv := ix.prod[bn.Inputs[0]]
			if conv == nil || !ix.only(bn.Inputs[0], bn) || !isPlainConv(conv) {
				continue
			}
			w := ix.konst(conv.Input(1))
			if w == nil || w.Rank() < 3 || !isFloat(w.DType()) {
				continue
			}
			var b *tensor.Tensor
			if conv.Input(2) != "" {
				if b = ix.konst(conv.Input(2)); b == nil {
					continue
				}
			}
			scale, bias, mean, vr := ix.konst(bn.Inputs[1]), ix.konst(bn.Inputs[2]), ix.konst(bn.Inputs[3]), ix.konst(bn.Inputs[4])
			if scale == nil || bias == nil || mean == nil || vr == nil {
				continue
			}
			nw, nb, ok := foldBN(conv, w, b, scale, bias, mean, vr, float64(bn.Attrs.Float("epsilon", 1e-5)))
			if !ok {
				continue
			}
			if nm == nil {
				nm = newNamer(g)
			}
			fused := conv.Clone()
			fused.Inputs = append(fused.Inputs[:0:0], conv.Inputs[0],
				addParam(g, nm, conv.Name+"_W_bnfold", nw), addParam(g, nm, conv.Name+"_B_bnfold", nb))
			fused.Outputs = []string{bn.Outputs[0]}
			fused.Meta = fusedMeta(conv, "conv-bn-fold")
			replaceNode(g, bn, fused)
			deleteNodes(g, map[*graph.Node]bool{conv: true})
			changed, done = true, true
			break
		}
		if !done {
			return changed, nil
		}
	}
}

// isPlainConv accepts Conv, ConvTranspose and a FusedConv with neither an
// activation nor a residual (BatchNormalization must apply before those).
func isPlainConv(n *graph.Node) bool {
	switch {
	case n.Domain == "" && (n.Op == "Conv" || n.Op == "ConvTranspose"):
		return len(n.Outputs) == 1
	case n.Domain == "kiln" && n.Op == "FusedConv":
		return n.Attrs.String("activation", "") == "" && n.Input(3) == ""
	}
	return false
}

// foldBN returns the convolution's new weights and bias.
func foldBN(conv *graph.Node, w, b, scale, bias, mean, vr *tensor.Tensor, eps float64) (*tensor.Tensor, *tensor.Tensor, bool) {
	ws := w.Shape()
	group := int(conv.Attrs.Int("group", 1))
	transposed := conv.Op == "ConvTranspose"
	var M int
	if transposed {
		if group < 1 || ws[0]%group != 0 {
			return nil, nil, false
		}
		M = ws[1] * group
	} else {
		M = ws[0]
	}
	for _, t := range []*tensor.Tensor{scale, bias, mean, vr} {
		if t.Len() != M || !isFloat(t.DType()) {
			return nil, nil, false
		}
	}
	if b != nil && b.Len() != M {
		return nil, nil, false
	}
	sv, bv, mv, vv := scale.Float64s(), bias.Float64s(), mean.Float64s(), vr.Float64s()
	s := make([]float64, M)
	nb := make([]float64, M)
	for m := 0; m < M; m++ {
		s[m] = sv[m] / math.Sqrt(vv[m]+eps)
		b0 := 0.0
		if b != nil {
			b0 = b.At(m)
		}
		nb[m] = (b0-mv[m])*s[m] + bv[m]
	}
	wv := w.Float64s()
	inner := tensor.Shape(ws[2:]).Size()
	if transposed {
		// W is [C, M/group, k...]: row c of group c/(C/group) feeds output
		// channel (c/(C/group))·(M/group) + j.
		cpg, mpg := ws[0]/group, ws[1]
		for c := 0; c < ws[0]; c++ {
			for j := 0; j < mpg; j++ {
				m := (c/cpg)*mpg + j
				base := (c*mpg + j) * inner
				for k := 0; k < inner; k++ {
					wv[base+k] *= s[m]
				}
			}
		}
	} else {
		per := len(wv) / M
		for m := 0; m < M; m++ {
			for k := 0; k < per; k++ {
				wv[m*per+k] *= s[m]
			}
		}
	}
	bt := b
	dt := w.DType()
	if bt != nil {
		dt = bt.DType()
	}
	return tensor.FromFloat64s(w.DType(), ws.Clone(), wv), tensor.FromFloat64s(dt, tensor.Shape{M}, nb), true
}
