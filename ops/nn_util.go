package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Shared helpers of the neural-network ops (MatMul, Conv, pools,
// normalizations, Softmax, Resize, ...). Reference kernels in this family
// compute in float64 and round the result back to the input's element type,
// which covers float32, float64, float16 and bfloat16 with one code path.

// nnOut builds a tensor of type dt from float64 values.
func nnOut(dt tensor.DType, shape tensor.Shape, v []float64) *tensor.Tensor {
	return tensor.FromFloat64s(dt, shape, v)
}

// nnInts returns an integer-list attribute as []int, or def when absent.
func nnInts(n *graph.Node, name string, def []int) []int {
	v := n.Attrs.Ints(name)
	if v == nil {
		return def
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// nnFilled returns a slice of n copies of v.
func nnFilled(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// nnProd is the product of s.
func nnProd(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

// nnCheckFloat reports an error unless t holds floating-point values.
func nnCheckFloat(n *graph.Node, t *tensor.Tensor, what string) error {
	if t == nil {
		return Errorf(n, "missing input %s", what)
	}
	if !t.DType().IsFloat() {
		return Errorf(n, "input %s has element type %v, want a floating-point type", what, t.DType())
	}
	return nil
}

// nnNext advances the odometer idx over shape; it reports false after the
// last index.
func nnNext(idx, shape []int) bool {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d]++
		if idx[d] < shape[d] {
			return true
		}
		idx[d] = 0
	}
	return false
}

// nnRoundHalfEven rounds to the nearest integer, ties to even.
func nnRoundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// nnInferUnknown returns an Infer function whose outputs have the dtype of
// input 0 and the given rank function's rank with unknown dimensions.
func nnInferRank(rank func(ic *InferContext) int, nout int) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) == 0 {
			return nil, ic.Errorf("needs an input")
		}
		t := ic.In[0]
		out := make([]graph.Type, nout)
		for i := range out {
			if t.Unranked {
				out[i] = graph.UnrankedType(t.DType)
				continue
			}
			r := rank(ic)
			out[i] = graph.TensorType(t.DType, nnFilled(r, -1)...)
		}
		return out, nil
	}
}

// nnSpatial describes the geometry of a sliding-window op (Conv, pools)
// along its spatial axes.
type nnSpatial struct {
	in, k, s, d, pb, pe, out []int
}

// nnWindow computes output sizes and pads of a windowed op from the node's
// strides, dilations, pads, auto_pad and (for pools) ceil_mode attributes.
// in are the spatial input sizes, k the kernel sizes.
func nnWindow(n *graph.Node, in, k []int, ceil bool) (*nnSpatial, error) {
	r := len(in)
	g := &nnSpatial{in: in, k: k}
	g.s = nnInts(n, "strides", nnFilled(r, 1))
	g.d = nnInts(n, "dilations", nnFilled(r, 1))
	pads := nnInts(n, "pads", nnFilled(2*r, 0))
	if len(g.s) != r || len(g.d) != r || len(pads) != 2*r || len(k) != r {
		return nil, Errorf(n, "strides %v, dilations %v, kernel %v and pads %v do not match %d spatial axes", g.s, g.d, k, pads, r)
	}
	g.pb, g.pe = pads[:r], pads[r:]
	g.out = make([]int, r)
	ap := n.Attrs.String("auto_pad", "NOTSET")
	for i := 0; i < r; i++ {
		if g.s[i] < 1 || g.d[i] < 1 || k[i] < 1 {
			return nil, Errorf(n, "strides, dilations and kernel sizes must be positive (got %v, %v, %v)", g.s, g.d, k)
		}
		ek := (k[i]-1)*g.d[i] + 1
		switch ap {
		case "SAME_UPPER", "SAME_LOWER":
			o := (in[i] + g.s[i] - 1) / g.s[i]
			tot := (o-1)*g.s[i] + ek - in[i]
			if tot < 0 {
				tot = 0
			}
			if ap == "SAME_UPPER" {
				g.pb[i], g.pe[i] = tot/2, tot-tot/2
			} else {
				g.pb[i], g.pe[i] = tot-tot/2, tot/2
			}
			g.out[i] = o
			continue
		case "VALID":
			g.pb[i], g.pe[i] = 0, 0
		case "NOTSET", "":
		default:
			return nil, Errorf(n, "auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap)
		}
		span := in[i] + g.pb[i] + g.pe[i] - ek
		if span < 0 {
			return nil, Errorf(n, "kernel extent %d exceeds padded input %d on spatial axis %d", ek, in[i]+g.pb[i]+g.pe[i], i)
		}
		if ceil {
			o := (span+g.s[i]-1)/g.s[i] + 1
			if (o-1)*g.s[i] >= in[i]+g.pb[i] {
				o--
			}
			g.out[i] = o
		} else {
			g.out[i] = span/g.s[i] + 1
		}
	}
	return g, nil
}
