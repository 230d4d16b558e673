package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// DepthToSpace moves channel blocks into spatial blocks (ONNX
// DepthToSpace-13). For an NCHW input and blocksize b the output is
// [N, C/b², H·b, W·b]. mode "DCR" (default) reads the channel as
// (b_h, b_w, c): reshape to [N,b,b,C/b²,H,W], transpose (0,3,4,1,5,2);
// "CRD" reads it as (c, b_h, b_w): reshape to [N,C/b²,b,b,H,W], transpose
// (0,1,4,2,5,3).
var DepthToSpace = &Def{Name: "DepthToSpace", Infer: shpNeed(1, shpInferD2S(true)), Kernel: shpDepthToSpaceKernel}

// SpaceToDepth is the inverse of DepthToSpace in DCR mode (ONNX
// SpaceToDepth-13): [N,C,H,W] becomes [N, C·b², H/b, W/b] via reshape to
// [N,C,H/b,b,W/b,b] and transpose (0,3,5,1,2,4).
var SpaceToDepth = &Def{Name: "SpaceToDepth", Infer: shpNeed(1, shpInferD2S(false)), Kernel: shpSpaceToDepthKernel}

func init() {
	Register(DepthToSpace)
	Register(SpaceToDepth)
}

func shpInferD2S(d2s bool) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		t := ic.In[0]
		if t.Unranked {
			return []graph.Type{shpInferUnknown(t.DType, 4)}, nil
		}
		if len(t.Shape) != 4 {
			return nil, ic.Errorf("input must be 4-D (NCHW), got %v", t)
		}
		b := int(ic.Node.Attrs.Int("blocksize", 0))
		if b <= 0 {
			return nil, ic.Errorf("blocksize must be positive, got %d", b)
		}
		s := append([]int{}, t.Shape...)
		f := func(i int, mul bool) {
			switch {
			case s[i] < 0:
			case mul:
				s[i] *= b
			default:
				s[i] /= b
			}
		}
		if d2s {
			if s[1] >= 0 {
				s[1] /= b * b
			}
			f(2, true)
			f(3, true)
		} else {
			if s[1] >= 0 {
				s[1] *= b * b
			}
			f(2, false)
			f(3, false)
		}
		return []graph.Type{graph.TensorType(t.DType, s...)}, nil
	}
}

func shpPermuted(n *graph.Node, x *tensor.Tensor, view, perm, out []int) ([]*tensor.Tensor, error) {
	v, err := x.Reshape(tensor.Shape(view))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	t, err := shpTranspose(v, perm)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	r, err := t.Reshape(tensor.Shape(out))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{r}, nil
}

func shpDepthToSpaceKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil || in[0].Rank() != 4 {
		return nil, Errorf(n, "needs a 4-D (NCHW) input")
	}
	s := in[0].Shape()
	b := int(n.Attrs.Int("blocksize", 0))
	if b <= 0 || s[1]%(b*b) != 0 {
		return nil, Errorf(n, "blocksize %d must be positive with its square dividing the %d channels", b, s[1])
	}
	N, C, H, W := s[0], s[1], s[2], s[3]
	c := C / (b * b)
	out := []int{N, c, H * b, W * b}
	switch mode := n.Attrs.String("mode", "DCR"); mode {
	case "DCR":
		return shpPermuted(n, in[0], []int{N, b, b, c, H, W}, []int{0, 3, 4, 1, 5, 2}, out)
	case "CRD":
		return shpPermuted(n, in[0], []int{N, c, b, b, H, W}, []int{0, 1, 4, 2, 5, 3}, out)
	default:
		return nil, Errorf(n, "unknown mode %q (want DCR or CRD)", mode)
	}
}

func shpSpaceToDepthKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil || in[0].Rank() != 4 {
		return nil, Errorf(n, "needs a 4-D (NCHW) input")
	}
	s := in[0].Shape()
	b := int(n.Attrs.Int("blocksize", 0))
	if b <= 0 || s[2]%b != 0 || s[3]%b != 0 {
		return nil, Errorf(n, "blocksize %d must be positive and divide height %d and width %d", b, s[2], s[3])
	}
	N, C, H, W := s[0], s[1], s[2], s[3]
	return shpPermuted(n, in[0], []int{N, C, H / b, b, W / b, b}, []int{0, 3, 5, 1, 2, 4}, []int{N, C * b * b, H / b, W / b})
}
