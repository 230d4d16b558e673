package kernel

import (
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// kiln:MaxPoolGrad and kiln:AveragePoolGrad for 2-D float32 NCHW pooling:
// dX of X's shape from X (read by MaxPoolGrad only) and dY. The window
// geometry is the forward MaxPool/AveragePool kernel's (pooling.go),
// resolved from the node's attributes with dY's shape as the pooled
// output. MaxPoolGrad adds each dY element at its window's maximum, the
// first in window order on ties, reading only in-bounds elements (as the
// reference, ops/gradops_nn.go); AveragePoolGrad spreads dY/count over the
// in-bounds elements of the window. Planes (n, c) are split over the
// workers. Non-overlapping 2x2 stride-2 max pooling, the common case, has
// its own loop that writes every dX element once.

type poolGradK struct {
	p     *pool2d
	parts int // planes split over this many workers (fixed at plan time)
	task  poolGradTask
	// tiled: 2x2 windows, stride 2, no padding or dilation.
	tiled bool
}

func poolGradFactory(isMax bool) Factory {
	return func(s *Spec) Kernel {
		if len(s.In) != 2 || len(s.Out) != 1 || !allF32(s.In) || !allF32(s.Out) || len(s.In[0].Shape) != 4 || len(s.In[1].Shape) != 4 {
			return nil
		}
		xs, ys := s.In[0].Shape, s.In[1].Shape
		if ys[0] != xs[0] || ys[1] != xs[1] || !s.Out[0].Shape.Equal(xs) {
			return nil
		}
		fwd := pool2dFactory(isMax)(&Spec{Node: s.Node, In: s.In[:1], Out: s.In[1:2], Threads: s.Threads})
		p, ok := fwd.(*pool2d)
		if !ok || p == nil {
			return nil
		}
		// The window count must agree with the reference's geometry:
		// floor mode output sizes, or a ceil-mode size the reference would
		// also produce; both come from dY's shape here, which the planner
		// checked against the reference's inference.
		k := &poolGradK{p: p, parts: 1}
		if p.planes*p.H*p.W >= 1<<15 {
			k.parts = max(min(s.Threads, p.planes), 1)
		}
		k.task = poolGradTask{k: k, parts: k.parts}
		k.tiled = isMax && p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.dh == 1 && p.dw == 1 &&
			p.ph == 0 && p.pw == 0 && 2*p.OH <= p.H && 2*p.OW <= p.W
		return k
	}
}

func (k *poolGradK) Run(env *Env, in, out []*tensor.Tensor) {
	if k.parts <= 1 || env == nil || env.Pool == nil {
		k.part(0, k.p.planes, in, out)
		return
	}
	env.Pool.ParallelTask(k.parts, &k.task, in, out)
}

type poolGradTask struct {
	k     *poolGradK
	parts int
}

func (t *poolGradTask) RunPart(i int, in, out []*tensor.Tensor) {
	n := t.k.p.planes
	t.k.part(n*i/t.parts, n*(i+1)/t.parts, in, out)
}

func (k *poolGradK) part(p0, p1 int, in, out []*tensor.Tensor) {
	p := k.p
	hw, ohw := p.H*p.W, p.OH*p.OW
	x, dy, dx := in[0].F32(), in[1].F32(), out[0].F32()
	for pl := p0; pl < p1; pl++ {
		xp, yp, dp := x[pl*hw:(pl+1)*hw], dy[pl*ohw:(pl+1)*ohw], dx[pl*hw:(pl+1)*hw]
		switch {
		case k.tiled:
			k.tiledPlane(dp, xp, yp)
		case p.max:
			k.maxPlane(dp, xp, yp)
		default:
			k.avgPlane(dp, yp)
		}
	}
}

// tiledPlane is the 2x2 stride-2 max pooling gradient of one plane: each
// window's four elements are written (dY at the maximum, zeros elsewhere),
// and rows or columns no window covers are cleared.
func (k *poolGradK) tiledPlane(dp, xp, yp []float32) {
	p := k.p
	W := p.W
	for oh := 0; oh < p.OH; oh++ {
		r0 := xp[2*oh*W : 2*oh*W+W]
		r1 := xp[(2*oh+1)*W : (2*oh+1)*W+W]
		d0 := dp[2*oh*W : 2*oh*W+W]
		d1 := dp[(2*oh+1)*W : (2*oh+1)*W+W]
		asm.MaxPoolGrad2x2(d0, d1, r0, r1, yp[oh*p.OW:oh*p.OW+p.OW])
		if 2*p.OW < W {
			clear(d0[2*p.OW:])
			clear(d1[2*p.OW:])
		}
	}
	clear(dp[2*p.OH*W:])
}

// maxPlane is the general max pooling gradient of one plane.
func (k *poolGradK) maxPlane(dp, xp, yp []float32) {
	p := k.p
	clear(dp)
	for oh := 0; oh < p.OH; oh++ {
		h0 := oh*p.sh - p.ph
		for ow := 0; ow < p.OW; ow++ {
			w0 := ow*p.sw - p.pw
			at := -1
			var best float32
			for i := 0; i < p.kh; i++ {
				h := h0 + i*p.dh
				if h < 0 || h >= p.H {
					continue
				}
				for j := 0; j < p.kw; j++ {
					w := w0 + j*p.dw
					if w < 0 || w >= p.W {
						continue
					}
					if v := xp[h*p.W+w]; at < 0 || v > best {
						best, at = v, h*p.W+w
					}
				}
			}
			if at >= 0 {
				dp[at] += yp[oh*p.OW+ow]
			}
		}
	}
}

// avgPlane is the average pooling gradient of one plane.
func (k *poolGradK) avgPlane(dp, yp []float32) {
	p := k.p
	clear(dp)
	for oh := 0; oh < p.OH; oh++ {
		h0 := oh*p.sh - p.ph
		for ow := 0; ow < p.OW; ow++ {
			w0 := ow*p.sw - p.pw
			cnt := 0
			for i := 0; i < p.kh; i++ {
				h := h0 + i*p.dh
				for j := 0; j < p.kw; j++ {
					w := w0 + j*p.dw
					switch {
					case h >= 0 && h < p.H && w >= 0 && w < p.W:
						cnt++
					case p.incl && h >= -p.ph && h < p.H+p.peh && w >= -p.pw && w < p.W+p.pew:
						cnt++
					}
				}
			}
			if cnt == 0 {
				continue
			}
			v := yp[oh*p.OW+ow] / float32(cnt)
			for i := 0; i < p.kh; i++ {
				h := h0 + i*p.dh
				if h < 0 || h >= p.H {
					continue
				}
				for j := 0; j < p.kw; j++ {
					if w := w0 + j*p.dw; w >= 0 && w < p.W {
						dp[h*p.W+w] += v
					}
				}
			}
		}
	}
}

func init() {
	Register("kiln", "MaxPoolGrad", "MaxPoolGrad/f32-2d", 10, poolGradFactory(true))
	Register("kiln", "AveragePoolGrad", "AveragePoolGrad/f32-2d", 10, poolGradFactory(false))
}
