package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// 2-D MaxPool and AveragePool (NCHW, float32; strides, dilations, pads,
// auto_pad, ceil_mode, count_include_pad; MaxPool without the Indices
// output) and GlobalAveragePool / GlobalMaxPool. The output size comes
// from the plan; the window geometry follows the reference (ops/pool.go).
// Planes (n, c) are split across the pool's workers.

type pool2d struct {
	max              bool
	incl             bool
	planes           int
	H, W, OH, OW     int
	kh, kw           int
	sh, sw, dh, dw   int
	ph, pw, peh, pew int // begin and end pads
	parts            int // planes split over this many workers
}

func pool2dFactory(isMax bool) Factory {
	return func(s *Spec) Kernel {
		if len(s.In) != 1 || s.In[0].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 || len(s.In[0].Shape) != 4 {
			return nil
		}
		for _, o := range s.Out[1:] {
			if o.DType != tensor.Undefined {
				return nil
			}
		}
		a := s.Node.Attrs
		ks := a.Ints("kernel_shape")
		if len(ks) != 2 {
			return nil
		}
		get := func(name string, n int, def int64) []int {
			v := a.Ints(name)
			out := make([]int, n)
			for i := range out {
				out[i] = int(def)
				if len(v) == n {
					out[i] = int(v[i])
				}
			}
			return out
		}
		st, dl, pads := get("strides", 2, 1), get("dilations", 2, 1), get("pads", 4, 0)
		xs, os := s.In[0].Shape, s.Out[0].Shape
		k := &pool2d{max: isMax, incl: a.Int("count_include_pad", 0) != 0, planes: xs[0] * xs[1],
			H: xs[2], W: xs[3], OH: os[2], OW: os[3], kh: int(ks[0]), kw: int(ks[1]),
			sh: st[0], sw: st[1], dh: dl[0], dw: dl[1], ph: pads[0], pw: pads[1], peh: pads[2], pew: pads[3]}
		switch ap := a.String("auto_pad", "NOTSET"); ap {
		case "SAME_UPPER", "SAME_LOWER":
			in := []int{k.H, k.W}
			kk := []int{k.kh, k.kw}
			ss := []int{k.sh, k.sw}
			dd := []int{k.dh, k.dw}
			var pb, pe [2]int
			for i := range 2 {
				o := (in[i] + ss[i] - 1) / ss[i]
				tot := max((o-1)*ss[i]+(kk[i]-1)*dd[i]+1-in[i], 0)
				if ap == "SAME_UPPER" {
					pb[i], pe[i] = tot/2, tot-tot/2
				} else {
					pb[i], pe[i] = tot-tot/2, tot/2
				}
			}
			k.ph, k.pw, k.peh, k.pew = pb[0], pb[1], pe[0], pe[1]
		case "VALID":
			k.ph, k.pw, k.peh, k.pew = 0, 0, 0, 0
		case "NOTSET", "":
		default:
			return nil
		}
		if a.Int("storage_order", 0) != 0 && len(s.Out) > 1 {
			return nil
		}
		k.parts = 1
		if k.planes*k.OH*k.OW*k.kh*k.kw >= 1<<15 {
			k.parts = max(min(s.Threads, k.planes), 1)
		}
		return k
	}
}

func (k *pool2d) Run(env *Env, in, out []*tensor.Tensor) {
	if k.parts <= 1 || env == nil || env.Pool == nil {
		k.part(0, k.planes, in[0].F32(), out[0].F32())
		return
	}
	// k (a pointer) is the Task: a two-word task value converted to the
	// interface would allocate on every run.
	env.Pool.ParallelTask(k.parts, k, in, out)
}

// RunPart pools the planes of part p of k.parts (Task).
func (k *pool2d) RunPart(p int, in, out []*tensor.Tensor) {
	k.part(k.planes*p/k.parts, k.planes*(p+1)/k.parts, in[0].F32(), out[0].F32())
}

func (k *pool2d) part(p0, p1 int, x, y []float32) {
	// Max pooling with a 2x2 or 3x3 undilated window takes the interior
	// outputs (window inside the image) on an unrolled path without bounds
	// tests; the borders and every other case take the general loop.
	fast := k.max && k.dh == 1 && k.dw == 1 && k.kh == k.kw && (k.kh == 2 || k.kh == 3)
	owa, owb := 0, 0 // interior columns [owa, owb)
	if fast {
		owa = min((k.pw+k.sw-1)/k.sw, k.OW)
		if k.W-k.kw+k.pw >= 0 {
			owb = max(min((k.W-k.kw+k.pw)/k.sw+1, k.OW), owa)
		} else {
			owb = owa
		}
	}
	for p := p0; p < p1; p++ {
		xp := x[p*k.H*k.W : (p+1)*k.H*k.W]
		yp := y[p*k.OH*k.OW : (p+1)*k.OH*k.OW]
		for oh := 0; oh < k.OH; oh++ {
			h0 := oh*k.sh - k.ph
			if fast && h0 >= 0 && h0+k.kh <= k.H && owa < owb {
				k.general(xp, yp, oh, 0, owa)
				k.maxRow(xp[h0*k.W:(h0+k.kh)*k.W], yp[oh*k.OW+owa:oh*k.OW+owb], owa*k.sw-k.pw)
				k.general(xp, yp, oh, owb, k.OW)
				continue
			}
			k.general(xp, yp, oh, 0, k.OW)
		}
	}
}

// maxRow writes the maxima of the kh x kh windows of the kh rows rows
// (each k.W wide) starting at columns w0, w0+sw, ... into dst. As the
// reference: the window's first element, then strictly greater ones.
func (k *pool2d) maxRow(rows, dst []float32, w0 int) {
	W, sw := k.W, k.sw
	r0 := rows[:W]
	r1 := rows[W : 2*W]
	if k.kh == 2 {
		if sw == 2 {
			asm.MaxPool2x2(dst, r0[w0:], r1[w0:])
			return
		}
		for i := range dst {
			w := w0 + i*sw
			a := r0[w : w+2 : w+2]
			b := r1[w : w+2 : w+2]
			m := a[0]
			if a[1] > m {
				m = a[1]
			}
			if b[0] > m {
				m = b[0]
			}
			if b[1] > m {
				m = b[1]
			}
			dst[i] = m
		}
		return
	}
	r2 := rows[2*W : 3*W]
	for i := range dst {
		w := w0 + i*sw
		a := r0[w : w+3 : w+3]
		b := r1[w : w+3 : w+3]
		c := r2[w : w+3 : w+3]
		m := a[0]
		if a[1] > m {
			m = a[1]
		}
		if a[2] > m {
			m = a[2]
		}
		if b[0] > m {
			m = b[0]
		}
		if b[1] > m {
			m = b[1]
		}
		if b[2] > m {
			m = b[2]
		}
		if c[0] > m {
			m = c[0]
		}
		if c[1] > m {
			m = c[1]
		}
		if c[2] > m {
			m = c[2]
		}
		dst[i] = m
	}
}

// general pools outputs [owa, owb) of output row oh of one plane.
func (k *pool2d) general(xp, yp []float32, oh, owa, owb int) {
	ninf := float32(math.Inf(-1))
	{
		{
			h0 := oh*k.sh - k.ph
			for ow := owa; ow < owb; ow++ {
				w0 := ow*k.sw - k.pw
				best, first := ninf, true
				var sum float32
				cnt := 0
				for i := 0; i < k.kh; i++ {
					h := h0 + i*k.dh
					if h < 0 || h >= k.H {
						if k.incl && h >= -k.ph && h < k.H+k.peh {
							for j := 0; j < k.kw; j++ {
								if w := w0 + j*k.dw; w >= -k.pw && w < k.W+k.pew {
									cnt++
								}
							}
						}
						continue
					}
					row := xp[h*k.W : (h+1)*k.W]
					for j := 0; j < k.kw; j++ {
						w := w0 + j*k.dw
						if w < 0 || w >= k.W {
							if k.incl && w >= -k.pw && w < k.W+k.pew {
								cnt++
							}
							continue
						}
						v := row[w]
						if k.max {
							// As the reference: the first element, then strictly greater ones.
							if first || v > best {
								best, first = v, false
							}
						} else {
							sum += v
							cnt++
						}
					}
				}
				if k.max {
					yp[oh*k.OW+ow] = best
				} else if cnt > 0 {
					yp[oh*k.OW+ow] = sum / float32(cnt)
				} else {
					yp[oh*k.OW+ow] = 0
				}
			}
		}
	}
}

// globalPool reduces each (n, c) plane of an [N, C, ...] input.
type globalPool struct {
	max          bool
	planes, size int
}

func globalPoolFactory(isMax bool) Factory {
	return func(s *Spec) Kernel {
		if len(s.In) != 1 || !allF32(s.In) || !allF32(s.Out) || len(s.In[0].Shape) < 3 {
			return nil
		}
		xs := s.In[0].Shape
		if xs[2:].Size() == 0 {
			return nil
		}
		return &globalPool{max: isMax, planes: xs[0] * xs[1], size: xs[2:].Size()}
	}
}

func (k *globalPool) Run(env *Env, in, out []*tensor.Tensor) {
	x, y := in[0].F32(), out[0].F32()
	for p := 0; p < k.planes; p++ {
		xp := x[p*k.size : (p+1)*k.size]
		if k.max {
			m := xp[0]
			for _, v := range xp[1:] {
				if v > m {
					m = v
				}
			}
			y[p] = m
			continue
		}
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(xp); i += 4 {
			s0 += xp[i]
			s1 += xp[i+1]
			s2 += xp[i+2]
			s3 += xp[i+3]
		}
		for ; i < len(xp); i++ {
			s0 += xp[i]
		}
		y[p] = (s0 + s1 + s2 + s3) / float32(k.size)
	}
}

func init() {
	Register("", "MaxPool", "MaxPool/f32-2d", 10, pool2dFactory(true))
	Register("", "AveragePool", "AveragePool/f32-2d", 10, pool2dFactory(false))
	Register("", "GlobalAveragePool", "GlobalAveragePool/f32", 10, globalPoolFactory(false))
	Register("", "GlobalMaxPool", "GlobalMaxPool/f32", 10, globalPoolFactory(true))
}
