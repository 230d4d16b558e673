package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// CausalConvWithState is a stateful depthwise causal 1-D convolution (ONNX
// CausalConvWithState-27), the short convolution of Mamba-style models.
// input is [B, C, L], weight [C, 1, K], bias [C] (optional), past_state
// [B, C, K-1] (optional, zeros when absent). With P = concat(past_state,
// input) along the last axis:
//
//	output[b, c, t]     = act(bias[c] + Σ_k weight[c, 0, k] · P[b, c, t+k])
//	present_state[b, c] = P[b, c, L : L+K-1]   (the last K-1 positions)
//
// activation is "none" (default), or "silu" / "swish" (x·sigmoid(x)).
var CausalConvWithState = &Def{Name: "CausalConvWithState", Infer: rsCausalConvInfer, Kernel: rsCausalConvKernel}

func init() { Register(CausalConvWithState) }

func rsCausalConvInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 || !ic.Has(0) || !ic.Has(1) {
		return nil, ic.Errorf("needs inputs input and weight")
	}
	x, w := ic.In[0], ic.In[1]
	state := graph.TensorType(x.DType, -1, -1, -1)
	if xs := rsShapeOf(x); xs != nil {
		if len(xs) != 3 {
			return nil, ic.Errorf("input must be [batch, channels, length], got %v", x)
		}
		state.Shape[0], state.Shape[1] = xs[0], xs[1]
	}
	if ws := rsShapeOf(w); ws != nil {
		if len(ws) != 3 {
			return nil, ic.Errorf("weight must be [channels, 1, kernel], got %v", w)
		}
		if ws[2] > 0 {
			state.Shape[2] = ws[2] - 1
		}
	}
	return []graph.Type{x, state}, nil
}

func rsCausalConvKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x, w, bias, past := rsIn(in, 0), rsIn(in, 1), rsIn(in, 2), rsIn(in, 3)
	if x == nil || w == nil {
		return nil, Errorf(n, "needs inputs input and weight")
	}
	if err := rsCheckFloat(n, x, "input"); err != nil {
		return nil, err
	}
	act := n.Attrs.String("activation", "none")
	silu := false
	switch act {
	case "none":
	case "silu", "swish":
		silu = true
	default:
		return nil, Errorf(n, "activation %q must be \"none\", \"silu\" or \"swish\"", act)
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 3 {
		return nil, Errorf(n, "input must be [batch, channels, length], got %v", xs)
	}
	B, C, L := xs[0], xs[1], xs[2]
	if len(ws) != 3 || ws[0] != C || ws[1] != 1 || ws[2] < 1 {
		return nil, Errorf(n, "weight must be [%d, 1, kernel], got %v", C, ws)
	}
	K := ws[2]
	if bias != nil && (bias.Len() != C || bias.Rank() != 1) {
		return nil, Errorf(n, "bias must be [%d], got %v", C, bias.Shape())
	}
	if past != nil && !past.Shape().Equal(tensor.Shape{B, C, K - 1}) {
		return nil, Errorf(n, "past_state must be [%d, %d, %d], got %v", B, C, K-1, past.Shape())
	}
	xv, wv := x.Float64s(), w.Float64s()
	var bv, sv []float64
	if bias != nil {
		bv = bias.Float64s()
	}
	if past != nil {
		sv = past.Float64s()
	}
	P := L + K - 1
	padded := make([]float64, P)
	out := make([]float64, B*C*L)
	state := make([]float64, B*C*(K-1))
	for b := 0; b < B; b++ {
		for c := 0; c < C; c++ {
			bc := b*C + c
			for i := range padded[:K-1] {
				padded[i] = 0
				if sv != nil {
					padded[i] = sv[bc*(K-1)+i]
				}
			}
			copy(padded[K-1:], xv[bc*L:(bc+1)*L])
			wr := wv[c*K : (c+1)*K]
			for t := 0; t < L; t++ {
				acc := 0.0
				if bv != nil {
					acc = bv[c]
				}
				for k, wk := range wr {
					acc += wk * padded[t+k]
				}
				if silu {
					acc *= rsSigmoid(acc)
				}
				out[bc*L+t] = acc
			}
			copy(state[bc*(K-1):(bc+1)*(K-1)], padded[P-(K-1):])
		}
	}
	stDT := x.DType()
	if past != nil {
		stDT = past.DType()
	}
	return []*tensor.Tensor{
		tensor.FromFloat64s(x.DType(), tensor.Shape{B, C, L}, out),
		tensor.FromFloat64s(stDT, tensor.Shape{B, C, K - 1}, state),
	}, nil
}
