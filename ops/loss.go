package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// NegativeLogLikelihoodLoss (ONNX NegativeLogLikelihoodLoss-22) takes input
// [N, C, d1..dk] (log-probabilities), integer target [N, d1..dk] and an
// optional weight [C]:
//
//	loss[n, d] = -input[n, target[n, d], d] · weight[target[n, d]]
//
// with loss = 0 (and weight 0) where target equals the ignore_index
// attribute. reduction "none" returns loss; "sum" its sum; "mean" (the
// default) the sum divided by the sum of the applied weights (the count of
// non-ignored elements without weight). A target outside [0, C) that is not
// ignore_index is an error. Float16/bfloat16 compute in float64.
var NegativeLogLikelihoodLoss = &Def{Name: "NegativeLogLikelihoodLoss", Infer: rdLossInfer(false), Kernel: rdNLLKernel}

// SoftmaxCrossEntropyLoss (ONNX SoftmaxCrossEntropyLoss-13) takes scores
// [N, C, d1..dk], integer labels [N, d1..dk] and optional weights [C]. It
// computes log_prob = log(softmax(scores, axis 1)) and returns
// NegativeLogLikelihoodLoss(log_prob, labels, weights) with the same
// reduction and ignore_index attributes, and log_prob as an optional second
// output.
var SoftmaxCrossEntropyLoss = &Def{Name: "SoftmaxCrossEntropyLoss", Infer: rdLossInfer(true), Kernel: rdSCEKernel}

func init() {
	Register(NegativeLogLikelihoodLoss)
	Register(SoftmaxCrossEntropyLoss)
}

func rdLossInfer(sce bool) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 2 {
			return nil, ic.Errorf("needs inputs scores and labels")
		}
		x, tg := ic.In[0], ic.In[1]
		var out graph.Type
		switch ic.Node.Attrs.String("reduction", "mean") {
		case "none":
			if tg.Unranked {
				out = graph.UnrankedType(x.DType)
			} else {
				out = graph.TensorType(x.DType, tg.Shape...)
			}
		case "sum", "mean":
			out = graph.TensorType(x.DType)
		default:
			return nil, ic.Errorf("reduction %q, want none, sum or mean", ic.Node.Attrs.String("reduction", ""))
		}
		outs := []graph.Type{out}
		if sce && len(ic.Node.Outputs) > 1 {
			outs = append(outs, x)
		}
		return outs, nil
	}
}

// rdNLL computes the loss from log-probabilities lp of shape s = [N, C, d...].
func rdNLL(n *graph.Node, lp []float64, s tensor.Shape, target, weight *tensor.Tensor) (vals []float64, shape tensor.Shape, err error) {
	if len(s) < 2 {
		return nil, nil, Errorf(n, "input must have rank >= 2 ([N, C, ...]), got %v", s)
	}
	N, C := s[0], s[1]
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	wantT := append(tensor.Shape{N}, s[2:]...)
	if target == nil || !target.Shape().Equal(wantT) || !target.DType().IsInt() {
		return nil, nil, Errorf(n, "target must be integers of shape %v", wantT)
	}
	var w []float64
	if weight != nil {
		if !weight.Shape().Equal(tensor.Shape{C}) {
			return nil, nil, Errorf(n, "weight has shape %v, want (%d,)", weight.Shape(), C)
		}
		w = weight.Float64s()
	}
	hasIgnore := n.Attrs.Has("ignore_index")
	ignore := n.Attrs.Int("ignore_index", 0)
	tg := target.Int64s()
	loss := make([]float64, len(tg))
	var wsum, lsum float64
	for i := 0; i < N; i++ {
		for j := 0; j < inner; j++ {
			k := i*inner + j
			c := tg[k]
			if hasIgnore && c == ignore {
				continue
			}
			if c < 0 || int(c) >= C {
				return nil, nil, Errorf(n, "target %d out of range [0, %d)", c, C)
			}
			wt := 1.0
			if w != nil {
				wt = w[c]
			}
			loss[k] = -lp[(i*C+int(c))*inner+j] * wt
			wsum += wt
			lsum += loss[k]
		}
	}
	switch r := n.Attrs.String("reduction", "mean"); r {
	case "none":
		return loss, wantT, nil
	case "sum":
		return []float64{lsum}, tensor.Shape{}, nil
	case "mean":
		return []float64{lsum / wsum}, tensor.Shape{}, nil
	default:
		return nil, nil, Errorf(n, "reduction %q, want none, sum or mean", r)
	}
}

func rdNLLKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := rdGet(in, 0)
	if x == nil || !x.DType().IsFloat() {
		return nil, Errorf(n, "input must be a float tensor")
	}
	v, s, err := rdNLL(n, x.Float64s(), x.Shape(), rdGet(in, 1), rdGet(in, 2))
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{tensor.FromFloat64s(x.DType(), s, v)}, nil
}

func rdSCEKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := rdGet(in, 0)
	if x == nil || !x.DType().IsFloat() {
		return nil, Errorf(n, "scores must be a float tensor")
	}
	s := x.Shape()
	if len(s) < 2 {
		return nil, Errorf(n, "scores must have rank >= 2 ([N, C, ...]), got %v", s)
	}
	N, C := s[0], s[1]
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	lp := x.Float64s()
	for i := 0; i < N; i++ {
		for j := 0; j < inner; j++ {
			m := math.Inf(-1)
			for c := 0; c < C; c++ {
				m = math.Max(m, lp[(i*C+c)*inner+j])
			}
			var sum float64
			for c := 0; c < C; c++ {
				sum += math.Exp(lp[(i*C+c)*inner+j] - m)
			}
			ls := m + math.Log(sum)
			for c := 0; c < C; c++ {
				lp[(i*C+c)*inner+j] -= ls
			}
		}
	}
	v, os, err := rdNLL(n, lp, s, rdGet(in, 1), rdGet(in, 2))
	if err != nil {
		return nil, err
	}
	outs := []*tensor.Tensor{tensor.FromFloat64s(x.DType(), os, v)}
	if len(n.Outputs) != 1 {
		outs = append(outs, tensor.FromFloat64s(x.DType(), s, lp))
	}
	return outs, nil
}
