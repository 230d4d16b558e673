package kernel

import (
	"github.com/kiln-ml/kiln/ops/tensor"
)

// float32 Gemm (ONNX Gemm: Y = alpha*A'*B' + beta*C, A' and B' optionally
// transposed, C broadcasting to [M, N]) on the packed SGEMM. A constant B
// is packed once (transposed or not). A constant C that is a row vector
// ([N], [1, N]), a column ([M, 1]) or a scalar becomes the epilogue's bias
// (beta*C, precomputed); any other C is broadcast into Y before the
// product, which then accumulates with beta. A single row of A runs the
// GEMV path.
type gemmKernel struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pb             *PackedB
	fill           bool  // broadcast C into Y first, then accumulate with beta
	cIdx           []int // C index per element of Y (fill, C not [M, N])
	ep             Epilogue
	hasEp          bool
}

func init() {
	Register("", "Gemm", "Gemm/f32", 10, func(s *Spec) Kernel { return newGemm(s, Epilogue{}) })
}

func newGemm(s *Spec, ep Epilogue) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || s.In[0].DType != tensor.Float32 || s.In[1].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 {
		return nil
	}
	as, bs := s.In[0].Shape, s.In[1].Shape
	if len(as) != 2 || len(bs) != 2 {
		return nil
	}
	a := s.Node.Attrs
	g := &gemmKernel{transA: a.Int("transA", 0) != 0, transB: a.Int("transB", 0) != 0,
		alpha: a.Float("alpha", 1), beta: a.Float("beta", 1), ep: ep}
	g.m, g.k = int(as[0]), int(as[1])
	if g.transA {
		g.m, g.k = g.k, g.m
	}
	k2, n := int(bs[0]), int(bs[1])
	if g.transB {
		k2, n = n, k2
	}
	g.n = n
	if k2 != g.k || !s.Out[0].Shape.Equal(tensor.Shape{g.m, g.n}) {
		return nil
	}
	if s.In[1].Const != nil && n > 1 {
		ldb := n
		if g.transB {
			ldb = g.k
		}
		g.pb = s.PackB(1, g.transB, g.k, n, s.In[1].Const.F32(), ldb)
	}
	if len(s.In) > 2 && s.In[2].DType != tensor.Undefined && g.beta != 0 {
		c := s.In[2]
		if c.DType != tensor.Float32 {
			return nil
		}
		out := tensor.Shape{g.m, g.n}
		if bc, err := tensor.Broadcast(c.Shape, out); err != nil || !bc.Equal(out) {
			return nil
		}
		cs := c.Shape
		for len(cs) > 0 && cs[0] == 1 {
			cs = cs[1:]
		}
		switch {
		case c.Const != nil && (len(cs) == 0 || len(cs) == 1 && int(cs[0]) == n):
			cv := c.Const.F32()
			g.ep.Bias = make([]float32, n)
			for j := range g.ep.Bias {
				g.ep.Bias[j] = g.beta * cv[min(j, len(cv)-1)]
			}
		case c.Const != nil && len(cs) == 2 && int(cs[0]) == g.m && int(cs[1]) == 1:
			cv := c.Const.F32()
			g.ep.Bias = make([]float32, g.m)
			for i := range g.ep.Bias {
				g.ep.Bias[i] = g.beta * cv[i]
			}
			g.ep.BiasPerRow = true
		default:
			g.fill = true
			if !c.Shape.Equal(out) {
				g.cIdx = tensor.BroadcastIndex(c.Shape, out)
			}
		}
	}
	g.hasEp = g.ep.Bias != nil || g.ep.Act != ActNone
	return g
}

func (g *gemmKernel) Run(env *Env, in, out []*tensor.Tensor) {
	var pool Pool
	if env != nil && env.Pool != nil {
		pool = env.Pool
	}
	a, y := in[0].F32(), out[0].F32()
	var beta float32
	if g.fill {
		c := in[2].F32()
		if g.cIdx == nil {
			copy(y, c)
		} else {
			for i, j := range g.cIdx {
				y[i] = c[j]
			}
		}
		beta = g.beta
	}
	var ep *Epilogue
	if g.hasEp {
		ep = &g.ep
	}
	lda := g.k
	if g.transA {
		lda = g.m
	}
	if g.pb != nil {
		SgemmPacked(pool, g.transA, g.m, g.alpha, a, lda, g.pb, beta, y, g.n, ep)
		return
	}
	ldb := g.n
	if g.transB {
		ldb = g.k
	}
	SgemmParallel(pool, g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, in[1].F32(), ldb, beta, y, g.n, ep)
}
