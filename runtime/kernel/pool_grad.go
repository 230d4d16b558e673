package kernel

import (
	"github.com/kiln-ml/kiln/ops/tensor"
)

// MaxPoolGrad for training graphs (kiln:MaxPoolGrad, 2-D NCHW float32):
// each dY element is added at the position of its window's maximum, the
// first one in window order on ties, as the reference kernel does.
// Windows are clipped to the image (padding never holds the maximum).
func init() {
	Register("kiln", "MaxPoolGrad", "MaxPoolGrad/f32-2d", 10, func(s *Spec) Kernel {
		if len(s.In) < 2 || len(s.Out) != 1 || !isF32(s.In[0], s.In[1], s.Out[0]) {
			return nil
		}
		x, y := s.In[0].Shape, s.In[1].Shape
		at := s.Node.Attrs
		k := at.Ints("kernel_shape")
		if len(x) != 4 || len(y) != 4 || len(k) != 2 || y[0] != x[0] || y[1] != x[1] || at.Int("storage_order", 0) != 0 {
			return nil
		}
		sh, sw, dh, dw, pt, pl := 1, 1, 1, 1, 0, 0
		if v := at.Ints("strides"); len(v) == 2 {
			sh, sw = int(v[0]), int(v[1])
		}
		if v := at.Ints("dilations"); len(v) == 2 {
			dh, dw = int(v[0]), int(v[1])
		}
		switch at.String("auto_pad", "NOTSET") {
		case "NOTSET":
			if v := at.Ints("pads"); len(v) == 4 {
				pt, pl = int(v[0]), int(v[1])
			} else if len(v) != 0 {
				return nil
			}
		case "VALID":
		default:
			return nil
		}
		kh, kw := int(k[0]), int(k[1])
		planes, h, w, oh, ow := x[0]*x[1], x[2], x[3], y[2], y[3]
		return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
			xs, dy, dx := in[0].F32(), in[1].F32(), out[0].F32()
			clear(dx)
			for p := 0; p < planes; p++ {
				img := xs[p*h*w : (p+1)*h*w]
				g := dx[p*h*w : (p+1)*h*w]
				d := dy[p*oh*ow : (p+1)*oh*ow]
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						best, bi := float32(0), -1
						for ki := 0; ki < kh; ki++ {
							iy := oy*sh - pt + ki*dh
							if iy < 0 || iy >= h {
								continue
							}
							for kj := 0; kj < kw; kj++ {
								ix := ox*sw - pl + kj*dw
								if ix < 0 || ix >= w {
									continue
								}
								if v := img[iy*w+ix]; bi < 0 || v > best {
									best, bi = v, iy*w+ix
								}
							}
						}
						if bi >= 0 {
							g[bi] += d[oy*ow+ox]
						}
					}
				}
			}
		})
	})
}
