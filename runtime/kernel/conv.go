package kernel

import (
	"github.com/kiln-ml/kiln/ops/tensor"
)

// float32 Conv (ONNX Conv, 1-D and 2-D, any group, stride, dilation and
// padding) as a GEMM per image and group:
//
//	Y[n, g*M/G + m, :] = W_g[m, :] x im2col(X[n, g*C/G : (g+1)*C/G])
//
// The weights W_g (M/G x C/G*kh*kw) are the A operand, packed once when
// the kernel is made; the im2col matrix is the B operand and is never
// stored: its blocks are packed straight from the image (bSource). A 1x1
// convolution with unit stride and no padding reads X as the B matrix
// directly. The bias and the fused activation are the GEMM epilogue (per
// output channel, i.e. per row of C); a residual input (kiln FusedConv's Z)
// is copied into Y first and accumulated with beta = 1.

// convGeom is the geometry of one group's convolution of one image, in
// 2-D (a 1-D convolution has h = kh = 1).
type convGeom struct {
	c, h, w        int // input channels (of one group) and size
	kh, kw         int
	sh, sw, dh, dw int
	pt, pl         int // padding before (top, left)
	oh, ow         int
}

// convParams reads the geometry of a Conv node with input shape xs
// [N, C, (H,) W], weights ws [M, C/G, (kh,) kw] and output shape ys, or
// reports false for shapes this kernel does not handle (3-D and above).
func convParams(s *Spec, xs, ws, ys tensor.Shape) (g convGeom, group int, ok bool) {
	r := len(xs) - 2
	if r < 1 || r > 2 || len(ws) != len(xs) || len(ys) != len(xs) {
		return g, 0, false
	}
	a := s.Node.Attrs
	group = int(a.Int("group", 1))
	ints := func(name string, n, def int) ([]int, bool) {
		v := a.Ints(name)
		out := make([]int, n)
		if v == nil {
			for i := range out {
				out[i] = def
			}
			return out, true
		}
		if len(v) != n {
			return nil, false
		}
		for i, x := range v {
			out[i] = int(x)
		}
		return out, true
	}
	st, ok1 := ints("strides", r, 1)
	di, ok2 := ints("dilations", r, 1)
	pads, ok3 := ints("pads", 2*r, 0)
	if !ok1 || !ok2 || !ok3 || group < 1 {
		return g, 0, false
	}
	in, k, out := []int(xs[2:]), []int(ws[2:]), []int(ys[2:])
	switch ap := a.String("auto_pad", "NOTSET"); ap {
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < r; i++ {
			o := (in[i] + st[i] - 1) / st[i]
			tot := max((o-1)*st[i]+(k[i]-1)*di[i]+1-in[i], 0)
			if ap == "SAME_UPPER" {
				pads[i] = tot / 2
			} else {
				pads[i] = tot - tot/2
			}
		}
	case "VALID":
		clear(pads)
	case "NOTSET", "":
	default:
		return g, 0, false
	}
	if r == 1 {
		g = convGeom{c: int(xs[1]) / group, h: 1, w: in[0], kh: 1, kw: k[0], sh: 1, sw: st[0], dh: 1, dw: di[0], pl: pads[0], oh: 1, ow: out[0]}
	} else {
		g = convGeom{c: int(xs[1]) / group, h: in[0], w: in[1], kh: k[0], kw: k[1], sh: st[0], sw: st[1], dh: di[0], dw: di[1], pt: pads[0], pl: pads[1], oh: out[0], ow: out[1]}
	}
	// The output size is the planner's observation (the end pads only
	// decide it); positions past the image read zero either way.
	if g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.oh <= 0 || g.ow <= 0 || g.pt < 0 || g.pl < 0 {
		return g, 0, false
	}
	return g, group, true
}

// packIm2col packs depth [p0, p0+kc) and columns [j0, j0+nc) of the
// im2col matrix of the image x (g.c channels of g.h x g.w) into panels of
// NR columns, k-major:
//
//	dst[(j/NR)*kc*NR + p*NR + j%NR] = x[ci][oy*sh-pt+ki*dh][ox*sw-pl+kj*dw]
//
// for depth p0+p = (ci*kh+ki)*kw+kj and column j0+j = oy*ow+ox, zero where
// the index falls in the padding.
func (g *convGeom) packIm2col(dst, x []float32, p0, kc, j0, nc int) {
	khw := g.kh * g.kw
	ci, r := p0/khw, p0%khw
	ki, kj := r/g.kw, r%g.kw
	oy0, ox0 := j0/g.ow, j0%g.ow
	hw := g.h * g.w
	for p := 0; p < kc; p++ {
		img := x[ci*hw : ci*hw+hw]
		yoff := ki*g.dh - g.pt
		xoff := kj*g.dw - g.pl
		// Output columns ox in [oxa, oxb) read inside the image row.
		oxa := 0
		if xoff < 0 {
			oxa = min((-xoff+g.sw-1)/g.sw, g.ow)
		}
		oxb := g.ow
		if last := xoff + (g.ow-1)*g.sw; last >= g.w {
			oxb = max(min((g.w-1-xoff)/g.sw+1, g.ow), oxa)
		}
		oy, ox := oy0, ox0
		for j := 0; j < nc; {
			off := j % nr
			run := min(g.ow-ox, nr-off, nc-j)
			d := dst[(j/nr)*kc*nr+p*nr+off:]
			d = d[:run]
			iy := oy*g.sh + yoff
			a, b := max(ox, oxa), min(ox+run, oxb)
			if iy < 0 || iy >= g.h || a >= b {
				clear(d)
			} else {
				row := img[iy*g.w : iy*g.w+g.w]
				clear(d[:a-ox])
				clear(d[b-ox:])
				if g.sw == 1 {
					copy(d[a-ox:b-ox], row[a+xoff:b+xoff])
				} else {
					s := a*g.sw + xoff
					dd := d[a-ox : b-ox]
					for t := range dd {
						dd[t] = row[s]
						s += g.sw
					}
				}
			}
			j += run
			ox += run
			if ox == g.ow {
				ox = 0
				oy++
			}
		}
		if kj++; kj == g.kw {
			kj = 0
			if ki++; ki == g.kh {
				ki = 0
				ci++
			}
		}
	}
}

// convGemm is the GEMM convolution kernel.
type convGemm struct {
	g              convGeom
	n, groups      int
	cin, m, mpg    int
	hw, inHW       int
	direct         bool // 1x1, unit stride, no padding: X is the B matrix
	residual       bool // input 3 is added before the activation
	pa             []*PackedA
	eps            []Epilogue // per group
	hasEp          bool
	parts          int
	splitRows      bool
	units, mpanels int
}

func init() {
	Register("", "Conv", "Conv/f32-gemm", 10, func(s *Spec) Kernel { return newConvGemm(s, Epilogue{}, false) })
}

// newConvGemm makes the GEMM convolution kernel for a Conv-like node
// (inputs X, W, optional B, optional residual Z when residual) with the
// activation of ep, or returns nil when it does not apply (W not
// constant, not float32, 3-D, or attributes it does not understand).
func newConvGemm(s *Spec, ep Epilogue, residual bool) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || s.In[1].Const == nil {
		return nil
	}
	for _, a := range s.In {
		if a.DType != tensor.Float32 && a.DType != tensor.Undefined {
			return nil
		}
	}
	if s.Out[0].DType != tensor.Float32 {
		return nil
	}
	xs, ws, ys := s.In[0].Shape, s.In[1].Shape, s.Out[0].Shape
	g, group, ok := convParams(s, xs, ws, ys)
	if !ok {
		return nil
	}
	cin, m := int(xs[1]), int(ws[0])
	if cin%group != 0 || m%group != 0 || int(ws[1])*group != cin || int(ys[1]) != m {
		return nil
	}
	if kshape := s.Node.Attrs.Ints("kernel_shape"); kshape != nil {
		if len(kshape) != len(ws)-2 {
			return nil
		}
		for i, v := range kshape {
			if int(v) != int(ws[2+i]) {
				return nil
			}
		}
	}
	var bias []float32
	if len(s.In) > 2 && s.In[2].DType != tensor.Undefined {
		if s.In[2].Shape.Size() != m {
			return nil
		}
		if s.In[2].Const == nil {
			return nil
		}
		bias = s.In[2].Const.F32()
	}
	if residual {
		if len(s.In) < 4 || s.In[3].DType == tensor.Undefined {
			residual = false
		} else if !s.In[3].Shape.Equal(ys) {
			return nil
		}
	}
	k := &convGemm{g: g, n: int(xs[0]), groups: group, cin: cin, m: m, mpg: m / group,
		hw: g.oh * g.ow, inHW: g.h * g.w, residual: residual}
	k.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w
	kdim := g.c * g.kh * g.kw
	w := s.In[1].Const.F32()
	k.pa = make([]*PackedA, group)
	k.eps = make([]Epilogue, group)
	for gi := range group {
		k.pa[gi] = PackA(false, k.mpg, kdim, w[gi*k.mpg*kdim:], kdim)
		e := ep
		if bias != nil {
			e.Bias = bias[gi*k.mpg : (gi+1)*k.mpg]
			e.BiasPerRow = true
		}
		k.eps[gi] = e
	}
	k.hasEp = bias != nil || ep.Act != ActNone
	k.plan(s.Threads)
	return k
}

// plan splits the work into parts for threads workers: by columns (whole
// panels of output pixels, over images and groups) or, when there are too
// few of those to balance, by rows (output channels).
func (k *convGemm) plan(threads int) {
	p := (k.hw + nr - 1) / nr
	k.units = k.n * k.groups * p
	k.mpanels = (k.mpg + mr - 1) / mr
	flops := 2 * k.n * k.m * k.hw * k.g.c * k.g.kh * k.g.kw
	k.parts = max(min(threads, flops/(1<<20)), 1)
	if k.parts == 1 {
		return
	}
	eff := func(u int) float64 {
		return float64(u) / float64(k.parts*((u+k.parts-1)/k.parts))
	}
	if eff(k.mpanels) > eff(k.units)+0.05 {
		k.splitRows = true
	}
}

func (k *convGemm) Run(env *Env, in, out []*tensor.Tensor) {
	if k.residual {
		copy(out[0].F32(), in[3].F32())
	}
	if k.parts > 1 && env != nil && env.Pool != nil {
		env.Pool.ParallelTask(k.parts, k, in, out)
		return
	}
	for i := range k.parts {
		k.RunPart(i, in, out)
	}
}

// RunPart runs part i of k.parts (Task).
func (k *convGemm) RunPart(i int, in, out []*tensor.Tensor) {
	x, y := in[0].F32(), out[0].F32()
	var beta float32
	if k.residual {
		beta = 1
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	src := bSource{ldb: k.hw}
	if !k.direct {
		src.conv = &k.g
	}
	run := func(nb, gi, i0, i1, j0, j1 int) {
		src.b = x[(nb*k.cin+gi*k.g.c)*k.inHW:]
		c := y[(nb*k.m+gi*k.mpg)*k.hw:]
		var ep *Epilogue
		if k.hasEp {
			ep = &k.eps[gi]
		}
		gemmPA(ws, k.pa[gi], &src, i0, i1, j0, j1, c, k.hw, beta, ep)
	}
	if k.splitRows {
		i0 := k.mpanels * i / k.parts * mr
		i1 := min(k.mpanels*(i+1)/k.parts*mr, k.mpg)
		if i0 >= i1 {
			return
		}
		for nb := range k.n {
			for gi := range k.groups {
				run(nb, gi, i0, i1, 0, k.hw)
			}
		}
		return
	}
	p := (k.hw + nr - 1) / nr
	lo, hi := k.units*i/k.parts, k.units*(i+1)/k.parts
	for u := lo; u < hi; {
		seg := u / p // image * groups + group
		end := min(hi, (seg+1)*p)
		run(seg/k.groups, seg%k.groups, 0, k.mpg, (u-seg*p)*nr, min((end-seg*p)*nr, k.hw))
		u = end
	}
}
