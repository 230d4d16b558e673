package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ReverseSequence reverses, for each batch entry b, the first
// sequence_lens[b] elements along time_axis (ONNX ReverseSequence-10).
// time_axis (default 0) and batch_axis (default 1) are 0 and 1 in some
// order; the rest of each sequence is copied unchanged.
var ReverseSequence = &Def{Name: "ReverseSequence", Infer: InferSame(0), Kernel: shpReverseSequenceKernel}

func init() { Register(ReverseSequence) }

func shpReverseSequenceKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs input and sequence_lens inputs")
	}
	x := in[0]
	s := x.Shape()
	if len(s) < 2 {
		return nil, Errorf(n, "input must have rank >= 2, got shape %v", s)
	}
	ta, ba := int(n.Attrs.Int("time_axis", 0)), int(n.Attrs.Int("batch_axis", 1))
	if !(ta == 0 && ba == 1 || ta == 1 && ba == 0) {
		return nil, Errorf(n, "time_axis %d and batch_axis %d must be 0 and 1", ta, ba)
	}
	lens, err := shpInts(n, in[1], "sequence_lens")
	if err != nil {
		return nil, err
	}
	if len(lens) != s[ba] {
		return nil, Errorf(n, "sequence_lens has %d entries for batch size %d", len(lens), s[ba])
	}
	for _, l := range lens {
		if l < 0 || l > s[ta] {
			return nil, Errorf(n, "sequence length %d out of range [0, %d]", l, s[ta])
		}
	}
	st := s.Strides()
	idx := shpIdentity(x.Len())
	for p := range idx {
		t := (p / st[ta]) % s[ta]
		b := (p / st[ba]) % s[ba]
		if t < lens[b] {
			idx[p] = p + (lens[b]-1-2*t)*st[ta]
		}
	}
	out, err := shpTake(x, s, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}
