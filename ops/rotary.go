package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// RotaryEmbedding applies rotary position embeddings (ONNX
// RotaryEmbedding-23). X is [B, S, H·D] (with the num_heads attribute) or
// [B, H, S, D]; the first R = rotary_embedding_dim (0: all of D) features of
// each head are rotated in pairs (x1, x2):
//
//	x1' = cos·x1 - sin·x2,  x2' = sin·x1 + cos·x2
//
// where the pairs are (k, k + R/2) and, with interleaved = 1, (2k, 2k+1).
// cos/sin come from cos_cache and sin_cache: [max_position, R/2] indexed by
// position_ids [B, S] when given, else [B, S, R/2] directly. Features past R
// pass through. A position id outside the cache is an error.
var RotaryEmbedding = &Def{Name: "RotaryEmbedding", Infer: InferSame(0), Kernel: rdRotaryKernel}

func init() { Register(RotaryEmbedding) }

func rdRotaryKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	X, cosC, sinC, pos := rdGet(in, 0), rdGet(in, 1), rdGet(in, 2), rdGet(in, 3)
	if X == nil || cosC == nil || sinC == nil {
		return nil, Errorf(n, "needs inputs X, cos_cache and sin_cache")
	}
	if !X.DType().IsFloat() {
		return nil, Errorf(n, "X must be a float tensor, got %v", X.DType())
	}
	s := X.Shape()
	var B, S, H, D int
	switch len(s) {
	case 3:
		H = int(n.Attrs.Int("num_heads", 0))
		if H <= 0 || s[2]%H != 0 {
			return nil, Errorf(n, "3-D input %v needs a num_heads attribute dividing its last axis", s)
		}
		B, S, D = s[0], s[1], s[2]/H
	case 4:
		B, H, S, D = s[0], s[1], s[2], s[3]
	default:
		return nil, Errorf(n, "X must be 3-D or 4-D, got %v", s)
	}
	R := int(n.Attrs.Int("rotary_embedding_dim", 0))
	if R == 0 {
		R = D
	}
	if R > D || R%2 != 0 {
		return nil, Errorf(n, "rotary_embedding_dim %d must be even and at most the head size %d", R, D)
	}
	half := R / 2
	interleaved := n.Attrs.Int("interleaved", 0) != 0
	cv, sv := cosC.Float64s(), sinC.Float64s()
	if !cosC.Shape().Equal(sinC.Shape()) || cosC.Rank() < 2 || cosC.Shape()[cosC.Rank()-1] != half {
		return nil, Errorf(n, "cos_cache %v and sin_cache %v must match and end in R/2 = %d", cosC.Shape(), sinC.Shape(), half)
	}
	// row(b, t) is the cache row offset for batch b, position t.
	var row func(b, t int) int
	if pos != nil {
		if !pos.Shape().Equal(tensor.Shape{B, S}) || cosC.Rank() != 2 {
			return nil, Errorf(n, "position_ids %v must be [%d, %d] with a 2-D cache, cache is %v", pos.Shape(), B, S, cosC.Shape())
		}
		p := pos.Int64s()
		maxPos := cosC.Shape()[0]
		for _, v := range p {
			if v < 0 || int(v) >= maxPos {
				return nil, Errorf(n, "position id %d outside the cache of %d positions", v, maxPos)
			}
		}
		row = func(b, t int) int { return int(p[b*S+t]) * half }
	} else {
		if !cosC.Shape().Equal(tensor.Shape{B, S, half}) {
			return nil, Errorf(n, "without position_ids the caches must be [%d, %d, %d], got %v", B, S, half, cosC.Shape())
		}
		row = func(b, t int) int { return (b*S + t) * half }
	}
	x := X.Float64s()
	out := make([]float64, len(x))
	copy(out, x)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			for t := 0; t < S; t++ {
				var off int
				if len(s) == 3 {
					off = ((b*S+t)*H + h) * D
				} else {
					off = ((b*H+h)*S + t) * D
				}
				r := row(b, t)
				for k := 0; k < half; k++ {
					i1, i2 := off+k, off+k+half
					if interleaved {
						i1, i2 = off+2*k, off+2*k+1
					}
					c, sn := cv[r+k], sv[r+k]
					x1, x2 := x[i1], x[i2]
					out[i1] = c*x1 - sn*x2
					out[i2] = sn*x1 + c*x2
				}
			}
		}
	}
	return []*tensor.Tensor{tensor.FromFloat64s(X.DType(), s, out)}, nil
}
