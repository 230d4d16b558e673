package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Trilu keeps the upper (upper=1, default) or lower triangle of the last two
// dimensions of its input and zeroes the rest (ONNX Trilu-14). The optional
// int64 scalar k shifts the diagonal: upper keeps elements with j-i >= k,
// lower those with j-i <= k.
var Trilu = &Def{Name: "Trilu", Infer: InferSame(0), Kernel: shpTriluKernel}

func init() { Register(Trilu) }

func shpTriluKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs an input")
	}
	x := in[0]
	s := x.Shape()
	if len(s) < 2 {
		return nil, Errorf(n, "input must have rank >= 2, got shape %v", s)
	}
	k := 0
	if len(in) > 1 && in[1] != nil {
		ks, err := shpInts(n, in[1], "k")
		if err != nil {
			return nil, err
		}
		if len(ks) != 1 {
			return nil, Errorf(n, "k must be a scalar")
		}
		k = ks[0]
	}
	upper := n.Attrs.Int("upper", 1) != 0
	R, C := s[len(s)-2], s[len(s)-1]
	idx := shpIdentity(x.Len())
	for p := range idx {
		j := p % C
		i := (p / C) % R
		if upper && j-i < k || !upper && j-i > k {
			idx[p] = -1
		}
	}
	out, err := shpTake(x, s, idx, nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}
