package kernel

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Convolution kernels for training graphs, whose weights are graph inputs
// rather than constants: 2-D float32 Conv with a run-time weight (group 1),
// and the backward helpers kiln:ConvGradWeight and kiln:ConvGradInput, all
// as im2col + SGEMM per image. They register below the constant-weight
// kernels' priority and decline anything else (other ranks, groups), which
// then runs the reference kernels they are tested against.

// convGeom is a 2-D convolution's geometry.
type convGeom struct {
	n, c, h, w     int // input
	m, kh, kw      int // weight
	oh, ow         int // output
	sh, sw, dh, dw int
	pt, pl         int
}

func (g *convGeom) ckk() int { return g.c * g.kh * g.kw }

// trainConvGeom resolves the geometry from the node's attributes and the
// input, weight and output shapes (all NCHW / MCKK), or returns nil.
func trainConvGeom(n *graph.Node, x, w, y tensor.Shape) *convGeom {
	if len(x) != 4 || len(w) != 4 || len(y) != 4 || n.Attrs.Int("group", 1) != 1 || w[1] != x[1] || y[1] != w[0] || y[0] != x[0] {
		return nil
	}
	g := &convGeom{n: x[0], c: x[1], h: x[2], w: x[3], m: w[0], kh: w[2], kw: w[3], oh: y[2], ow: y[3], sh: 1, sw: 1, dh: 1, dw: 1}
	if s := n.Attrs.Ints("strides"); len(s) == 2 {
		g.sh, g.sw = int(s[0]), int(s[1])
	}
	if d := n.Attrs.Ints("dilations"); len(d) == 2 {
		g.dh, g.dw = int(d[0]), int(d[1])
	}
	if ks := n.Attrs.Ints("kernel_shape"); len(ks) == 2 && (int(ks[0]) != g.kh || int(ks[1]) != g.kw) {
		return nil
	}
	switch ap := n.Attrs.String("auto_pad", "NOTSET"); ap {
	case "NOTSET":
		if p := n.Attrs.Ints("pads"); len(p) == 4 {
			g.pt, g.pl = int(p[0]), int(p[1])
		} else if len(p) != 0 {
			return nil
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		pad := func(in, s, k, d int) int {
			out := (in + s - 1) / s
			t := max((out-1)*s+(k-1)*d+1-in, 0)
			if ap == "SAME_UPPER" {
				return t / 2
			}
			return t - t/2
		}
		g.pt, g.pl = pad(g.h, g.sh, g.kh, g.dh), pad(g.w, g.sw, g.kw, g.dw)
	default:
		return nil
	}
	if g.oh <= 0 || g.ow <= 0 {
		return nil
	}
	return g
}

func isF32(a ...Arg) bool {
	for _, x := range a {
		if x.DType != tensor.Float32 {
			return false
		}
	}
	return true
}

// col2im adds the (c*kh*kw) x (oh*ow) matrix col back into the image x
// [c, h, w]: the adjoint of Im2col.
func col2im(x, col []float32, g *convGeom) {
	n := g.oh * g.ow
	for ci := 0; ci < g.c; ci++ {
		img := x[ci*g.h*g.w : (ci+1)*g.h*g.w]
		for ki := 0; ki < g.kh; ki++ {
			for kj := 0; kj < g.kw; kj++ {
				row := col[((ci*g.kh+ki)*g.kw+kj)*n:]
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*g.sh - g.pt + ki*g.dh
					if iy < 0 || iy >= g.h {
						continue
					}
					dst := img[iy*g.w : iy*g.w+g.w]
					src := row[oy*g.ow : oy*g.ow+g.ow]
					x0 := kj*g.dw - g.pl
					for ox, v := range src {
						if ix := x0 + ox*g.sw; ix >= 0 && ix < g.w {
							dst[ix] += v
						}
					}
				}
			}
		}
	}
}

func init() {
	Register("", "Conv", "Conv/f32-train-im2col", 5, func(s *Spec) Kernel {
		if len(s.In) < 2 || len(s.Out) != 1 || !isF32(s.In[0], s.In[1], s.Out[0]) || s.In[1].Const != nil {
			return nil
		}
		g := trainConvGeom(s.Node, s.In[0].Shape, s.In[1].Shape, s.Out[0].Shape)
		if g == nil {
			return nil
		}
		hasBias := len(s.In) > 2 && s.In[2].DType != tensor.Undefined
		if hasBias && (s.In[2].DType != tensor.Float32 || s.In[2].Shape.Size() != g.m) {
			return nil
		}
		return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
			x, w, y := in[0].F32(), in[1].F32(), out[0].F32()
			ckk, ohw := g.ckk(), g.oh*g.ow
			col := env.Scratch(ckk * ohw)
			for b := 0; b < g.n; b++ {
				Im2col(col, x[b*g.c*g.h*g.w:], g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.oh, g.ow)
				yb := y[b*g.m*ohw : (b+1)*g.m*ohw]
				SgemmParallel(envPool(env), false, false, g.m, ohw, ckk, 1, w, ckk, col, ohw, 0, yb, ohw, nil)
				if hasBias {
					bias := in[2].F32()
					for mi := 0; mi < g.m; mi++ {
						r := yb[mi*ohw : (mi+1)*ohw]
						for i := range r {
							r[i] += bias[mi]
						}
					}
				}
			}
		})
	})
	// ConvGradWeight(X, dY, shape): dW[m, ckk] = sum_b dY_b[m, ohw] * col_b^T.
	Register("kiln", "ConvGradWeight", "ConvGradWeight/f32-im2col", 5, func(s *Spec) Kernel {
		if len(s.In) < 2 || len(s.Out) != 1 || !isF32(s.In[0], s.In[1], s.Out[0]) {
			return nil
		}
		g := trainConvGeom(s.Node, s.In[0].Shape, s.Out[0].Shape, s.In[1].Shape)
		if g == nil {
			return nil
		}
		return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
			x, dy, dw := in[0].F32(), in[1].F32(), out[0].F32()
			ckk, ohw := g.ckk(), g.oh*g.ow
			col := env.Scratch(ckk * ohw)
			clear(dw)
			for b := 0; b < g.n; b++ {
				Im2col(col, x[b*g.c*g.h*g.w:], g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.oh, g.ow)
				SgemmParallel(envPool(env), false, true, g.m, ckk, ohw, 1, dy[b*g.m*ohw:], ohw, col, ohw, 1, dw, ckk, nil)
			}
		})
	})
	// ConvGradInput(dY, W, shape): col_b = W^T * dY_b, then col2im.
	Register("kiln", "ConvGradInput", "ConvGradInput/f32-col2im", 5, func(s *Spec) Kernel {
		if len(s.In) < 2 || len(s.Out) != 1 || !isF32(s.In[0], s.In[1], s.Out[0]) {
			return nil
		}
		g := trainConvGeom(s.Node, s.Out[0].Shape, s.In[1].Shape, s.In[0].Shape)
		if g == nil {
			return nil
		}
		return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
			dy, w, dx := in[0].F32(), in[1].F32(), out[0].F32()
			ckk, ohw := g.ckk(), g.oh*g.ow
			col := env.Scratch(ckk * ohw)
			clear(dx)
			for b := 0; b < g.n; b++ {
				SgemmParallel(envPool(env), true, false, ckk, ohw, g.m, 1, w, ckk, dy[b*g.m*ohw:], ohw, 0, col, ohw, nil)
				col2im(dx[b*g.c*g.h*g.w:], col, g)
			}
		})
	})
}

// envPool is the environment's pool as a Pool (nil when there is none).
func envPool(env *Env) Pool {
	if env == nil || env.Pool == nil {
		return nil
	}
	return env.Pool
}
