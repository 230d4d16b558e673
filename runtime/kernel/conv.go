package kernel

import (
	"sync"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// float32 Conv (ONNX Conv, 1-D and 2-D, any group, stride, dilation and
// padding) as a GEMM per image and group:
//
//	Y[n, g*M/G + m, :] = W_g[m, :] x im2col(X[n, g*C/G : (g+1)*C/G])
//
// The weights W_g (M/G x C/G*kh*kw) are the A operand, packed once when
// the kernel is made. The im2col matrix is the B operand and is never
// stored. Each image is first copied, zero-padded, into sh*sw phase planes
// per channel (plane (py, px) holds the padded pixels (qy*sh+py,
// qx*sw+px)), each plane wq = ow + (kw-1)*dw/sw columns wide. Then, over
// "wide" output columns j = oy*wq + ox (ox < wq; columns ox >= ow are
// computed and dropped), the im2col row of tap (c, ki, kj) is one
// contiguous window of the planes: row p = planes[off[p] + j]. So B blocks
// are packed by plain copies, and a wide block of C is compacted into Y
// (adding the bias and any residual, then the activation) while it is in
// cache. A 1x1 convolution with unit stride and no padding reads X as the
// B matrix directly and applies the bias and activation in the GEMM
// epilogue; a residual input (kiln FusedConv's Z) is then copied into Y
// first and accumulated with beta = 1.
//
// Threads split the output columns (whole panels, over images and groups),
// or the output channels when there are too few columns to balance; the
// weights are packed already, so no two threads pack the same operand.
// Small images at batch > 1 are multiplied several at a time per block of
// packed weights (gemmPAImgs), so the weights are read once per block.

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

// convGemm is the GEMM convolution kernel.
type convGemm struct {
	g           convGeom
	n, groups   int
	cin, m, mpg int
	hw, inHW    int
	direct      bool // 1x1, unit stride, no padding: X is the B matrix
	residual    bool // input 3 is added before the activation
	pa          []*PackedA
	eps         []Epilogue // per group
	hasEp       bool

	planeGeom         // phase planes (all but direct)
	imgSize   int     // floats of planes per image, with slack
	offs      []int32 // im2col row p of a group: window start in its planes
	cols      int     // GEMM columns per image: oh*wq (or hw when direct)
	wide      bool    // wq > ow: compact each C block into Y

	parts, tparts int
	splitRows     bool
	imgBatch      int  // > 0: images per gemmPAImgs call (small images, batch > 1)
	perImage      bool // parts take whole images and fill their planes just before use
	units         int  // column panels over all images and groups
	mpanels       int  // row panels of a group
}

func init() {
	Register("", "Conv", "Conv/f32-gemm", 10, func(s *Spec) Kernel { return newConvGemm(s, Epilogue{}, false) })
}

// newConvGemm makes the GEMM convolution kernel for a Conv-like node
// (inputs X, W, optional B, and, when residual, an optional Z of Y's shape
// added before the activation) with the activation of ep, or returns nil
// when it does not apply (W or B not constant, not float32, 3-D, or
// attributes it does not understand).
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
		if s.In[2].Shape.Size() != m || s.In[2].Const == nil {
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
	} else if len(s.In) > 3 && s.In[3].DType != tensor.Undefined {
		return nil
	}
	k := &convGemm{g: g, n: int(xs[0]), groups: group, cin: cin, m: m, mpg: m / group,
		hw: g.oh * g.ow, inHW: g.h * g.w, residual: residual}
	k.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w
	kdim := g.c * g.kh * g.kw
	w := s.In[1].Const.F32()
	k.pa = make([]*PackedA, group)
	k.eps = make([]Epilogue, group)
	for gi := range group {
		k.pa[gi] = s.PackA(1, false, k.mpg, kdim, w[gi*k.mpg*kdim:], kdim)
		e := ep
		if bias != nil {
			e.Bias = bias[gi*k.mpg : (gi+1)*k.mpg]
			e.BiasPerRow = true
		}
		k.eps[gi] = e
	}
	k.hasEp = bias != nil || ep.Act != ActNone
	k.cols = k.hw
	if !k.direct {
		k.planeGeom = newPlaneGeom(g)
		k.imgSize = cin*k.chanSz + 2*nr
		k.cols = g.oh * k.wq
		k.wide = k.wq > g.ow
		k.offs = make([]int32, 0, kdim)
		for ci := range g.c {
			for ki := range g.kh {
				for kj := range g.kw {
					k.offs = append(k.offs, int32(ci*k.chanSz+k.tapOffset(ki, kj)))
				}
			}
		}
		if int64(k.n)*int64(k.imgSize) > 1<<31-1 {
			return nil
		}
	}
	k.plan(s.Threads)
	k.planImages()
	return k
}

// plan splits the work into parts for threads workers: by columns (whole
// panels of output pixels, over images and groups) or, when there are too
// few of those to balance, by rows (output channels).
func (k *convGemm) plan(threads int) {
	p := (k.cols + nr - 1) / nr
	k.units = k.n * k.groups * p
	k.mpanels = (k.mpg + mr - 1) / mr
	flops := 2 * k.n * k.m * k.hw * k.g.c * k.g.kh * k.g.kw
	k.parts = max(min(threads, flops/(1<<20)), 1)
	k.tparts = max(min(threads, k.n*k.cin*k.chanSz/(1<<14)), 1)
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

// planImages chooses gemmPAImgs for small images at batch > 1 (several
// images per B block, A reused across them), splitting images over parts.
func (k *convGemm) planImages() {
	cpad := (k.cols + nr - 1) / nr * nr
	if k.n > 1 && k.groups == 1 && k.n >= k.parts && 2*cpad <= ncMax {
		k.imgBatch = ncMax / cpad
		k.splitRows = false
	}
	// With at least one image per part, each part fills the planes of its
	// images right before multiplying them, while they are in cache, in a
	// buffer of its own (filling every image first streams them through
	// memory at batch 8).
	k.perImage = !k.direct && k.n > 1 && k.n >= k.parts && !k.splitRows
}

// imgsPerFill is how many images' planes a part holds at once.
func (k *convGemm) imgsPerFill() int { return max(k.imgBatch, 1) }

// convRun is one Run's state, shared by its parallel parts.
type convRun struct {
	k      *convGemm
	planes []float32 // phase planes of every image
	chunks []float32 // per part: a group's rows x ncMax block of wide C
	phase  int       // 0: fill the planes, 1: GEMM
}

var convRuns = sync.Pool{New: func() any { return new(convRun) }}

func (k *convGemm) Run(env *Env, in, out []*tensor.Tensor) {
	if k.residual && !k.wide {
		copy(out[0].F32(), in[3].F32())
	}
	st := convRuns.Get().(*convRun)
	st.k = k
	np := 0
	switch {
	case k.perImage:
		np = k.parts * k.imgsPerFill() * k.imgSize
	case !k.direct:
		np = k.n * k.imgSize
	}
	nc := 0
	if k.wide {
		nc = k.parts * k.mpg * ncMax
	}
	if np+nc > 0 {
		var buf []float32
		if env != nil {
			buf = env.Scratch(np + nc)
		} else {
			buf = make([]float32, np+nc)
		}
		st.planes, st.chunks = buf[:np], buf[np:]
	}
	if !k.direct && !k.perImage {
		st.phase = 0
		runParts(env, k.tparts, st, in, out)
	}
	st.phase = 1
	runParts(env, k.parts, st, in, out)
	*st = convRun{}
	convRuns.Put(st)
}

// runParts runs t's parts 0..n-1 on env's pool (or the calling goroutine).
func runParts(env *Env, n int, t Task, in, out []*tensor.Tensor) {
	if n > 1 && env != nil && env.Pool != nil {
		env.Pool.ParallelTask(n, t, in, out)
		return
	}
	for i := range n {
		t.RunPart(i, in, out)
	}
}

// RunPart runs part i of the current phase (Task).
func (st *convRun) RunPart(i int, in, out []*tensor.Tensor) {
	k := st.k
	if st.phase == 0 {
		u := k.n * k.cin
		for c := u * i / k.tparts; c < u*(i+1)/k.tparts; c++ {
			nb, ci := c/k.cin, c%k.cin
			k.fillPlanes(st.planes[nb*k.imgSize+ci*k.chanSz:nb*k.imgSize+(ci+1)*k.chanSz], in[0].F32()[c*k.inHW:(c+1)*k.inHW])
		}
		return
	}
	x, y := in[0].F32(), out[0].F32()
	var z []float32
	if k.residual {
		z = in[3].F32()
	}
	var beta float32
	if k.residual && !k.wide {
		beta = 1
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	var chunk []float32
	if k.wide {
		chunk = st.chunks[i*k.mpg*ncMax : (i+1)*k.mpg*ncMax]
	}
	src := bSource{ldb: k.hw, offs: k.offs}
	// run multiplies group gi of image nb, whose planes start at pl.
	run := func(nb, gi, i0, i1, j0, j1 int, pl []float32) {
		if k.direct {
			src.b = x[(nb*k.cin+gi*k.g.c)*k.inHW:]
		} else {
			src.b = pl[gi*k.g.c*k.chanSz:]
		}
		if !k.wide {
			var ep *Epilogue
			if k.hasEp {
				ep = &k.eps[gi]
			}
			gemmPA(ws, k.pa[gi], &src, i0, i1, j0, j1, y[(nb*k.m+gi*k.mpg)*k.hw:], k.hw, 0, beta, ep)
			return
		}
		for jc := j0; jc < j1; jc += ncMax {
			je := min(jc+ncMax, j1)
			gemmPA(ws, k.pa[gi], &src, i0, i1, jc, je, chunk, ncMax, jc, 0, nil)
			k.compact(chunk, y, z, nb, gi, i0, i1, jc, je)
		}
	}
	if k.perImage && k.imgBatch == 0 {
		pl := st.planes[i*k.imgSize : (i+1)*k.imgSize]
		for nb := k.n * i / k.parts; nb < k.n*(i+1)/k.parts; nb++ {
			k.fillImage(pl, x, nb)
			for gi := range k.groups {
				run(nb, gi, 0, k.mpg, 0, k.cols, pl)
			}
		}
		return
	}
	if k.imgBatch > 0 {
		var ep *Epilogue
		if k.hasEp && !k.wide {
			ep = &k.eps[0]
		}
		for nb := k.n * i / k.parts; nb < k.n*(i+1)/k.parts; nb += k.imgBatch {
			nimg := min(k.imgBatch, k.n*(i+1)/k.parts-nb)
			switch {
			case k.direct:
				src.b = x[nb*k.cin*k.inHW:]
			case k.perImage:
				pl := st.planes[i*k.imgBatch*k.imgSize : (i+1)*k.imgBatch*k.imgSize]
				for im := range nimg {
					k.fillImage(pl[im*k.imgSize:(im+1)*k.imgSize], x, nb+im)
				}
				src.b = pl
			default:
				src.b = st.planes[nb*k.imgSize:]
			}
			srcStride := k.imgSize
			if k.direct {
				srcStride = k.cin * k.inHW
			}
			if !k.wide {
				gemmPAImgs(ws, k.pa[0], &src, nimg, srcStride, k.cols, y[nb*k.m*k.hw:], k.hw, k.m*k.hw, beta, ep)
				continue
			}
			cpad := (k.cols + nr - 1) / nr * nr
			gemmPAImgs(ws, k.pa[0], &src, nimg, srcStride, k.cols, chunk, ncMax, cpad, 0, nil)
			for im := range nimg {
				k.compact(chunk[im*cpad:], y, z, nb+im, 0, 0, k.mpg, 0, k.cols)
			}
		}
		return
	}
	if k.splitRows {
		i0 := k.mpanels * i / k.parts * mr
		i1 := min(k.mpanels*(i+1)/k.parts*mr, k.mpg)
		if i0 >= i1 {
			return
		}
		for nb := range k.n {
			for gi := range k.groups {
				run(nb, gi, i0, i1, 0, k.cols, st.planes[nb*k.imgSize:])
			}
		}
		return
	}
	p := (k.cols + nr - 1) / nr
	lo, hi := k.units*i/k.parts, k.units*(i+1)/k.parts
	for u := lo; u < hi; {
		seg := u / p // image*groups + group
		end := min(hi, (seg+1)*p)
		nb := seg / k.groups
		run(nb, seg%k.groups, 0, k.mpg, (u-seg*p)*nr, min((end-seg*p)*nr, k.cols), st.planes[nb*k.imgSize:])
		u = end
	}
}

// planeGeom is the layout of one channel's zero-padded phase planes: for
// a stride (sh, sw), sh*sw planes of hq x wq, plane (py, px) holding the
// padded pixels (qy*sh+py, qx*sw+px). Tap (ki, kj) of output (oy, ox)
// reads plane ((ki*dh)%sh, (kj*dw)%sw) at (oy + ki*dh/sh, ox + kj*dw/sw).
type planeGeom struct {
	g             convGeom
	nph, hq, wq   int
	plane, chanSz int
	unused        uint64 // bit py*sw+px: no tap reads that plane (1x1 strided)
}

func newPlaneGeom(g convGeom) planeGeom {
	p := planeGeom{g: g, nph: g.sh * g.sw}
	p.wq = g.ow + (g.kw-1)*g.dw/g.sw
	p.hq = g.oh + (g.kh-1)*g.dh/g.sh + 1 // a spare row for wide columns' overrun
	p.plane = p.hq * p.wq
	p.chanSz = p.nph * p.plane
	if p.nph <= 64 {
		p.unused = 1<<p.nph - 1
		if p.nph == 64 {
			p.unused = ^uint64(0)
		}
		for ki := range g.kh {
			for kj := range g.kw {
				p.unused &^= 1 << ((ki*g.dh%g.sh)*g.sw + kj*g.dw%g.sw)
			}
		}
	}
	return p
}

// tapOffset is the offset of tap (ki, kj) in a channel's planes.
func (k *planeGeom) tapOffset(ki, kj int) int {
	g := &k.g
	dy, dx := ki*g.dh, kj*g.dw
	return ((dy%g.sh)*g.sw+dx%g.sw)*k.plane + dy/g.sh*k.wq + dx/g.sw
}

// fillImage writes the phase planes of every channel of image nb of x
// into pl.
func (k *convGemm) fillImage(pl, x []float32, nb int) {
	for ci := range k.cin {
		c := nb*k.cin + ci
		k.fillPlanes(pl[ci*k.chanSz:(ci+1)*k.chanSz], x[c*k.inHW:(c+1)*k.inHW])
	}
}

// fillPlanes writes one channel's zero-padded phase planes:
// dst[(py*sw+px)*plane + qy*wq + qx] = x[qy*sh+py-pt][qx*sw+px-pl].
func (k *planeGeom) fillPlanes(dst, x []float32) {
	g := &k.g
	for py := range g.sh {
		for px := range g.sw {
			if k.unused>>(py*g.sw+px)&1 != 0 {
				continue
			}
			pl := dst[(py*g.sw+px)*k.plane : (py*g.sw+px+1)*k.plane]
			x0 := px - g.pl
			// Columns qx in [qa, qb) read inside the image.
			qa := 0
			if x0 < 0 {
				qa = min((-x0+g.sw-1)/g.sw, k.wq)
			}
			qb := qa
			if x0+qa*g.sw < g.w {
				qb = max(min((g.w-1-x0)/g.sw+1, k.wq), qa)
			}
			wq, h, w, sh, sw := k.wq, g.h, g.w, g.sh, g.sw
			qy0, qy1 := k.hq, k.hq // rows reading inside the image
			for qy := range k.hq {
				row := pl[qy*wq : qy*wq+wq]
				iy := qy*sh + py - g.pt
				if iy < 0 || iy >= h || qa >= qb {
					clear(row)
					continue
				}
				if qy0 == k.hq {
					qy0 = qy
				}
				qy1 = qy + 1
				// The borders are a pixel or two: plain stores beat clear's call.
				for q := range row[:qa] {
					row[q] = 0
				}
				for q := range row[qb:] {
					row[qb+q] = 0
				}
			}
			if qy0 < qy1 {
				iy0 := qy0*sh + py - g.pt
				gatherRows(pl[qy0*wq+qa:], x[iy0*w+qa*sw+x0:], qb-qa, qy1-qy0, wq, sh*w, sw)
			}
		}
	}
}

// gatherRowsGo is gatherRows' pure-Go twin.
func gatherRowsGo(dst, src []float32, n, rows, dstStride, srcStride, stride int) {
	for r := range rows {
		d := dst[r*dstStride : r*dstStride+n]
		sr := src[r*srcStride:]
		if stride == 1 {
			copy(d, sr[:n])
			continue
		}
		gatherStridedGo(d, sr, stride)
	}
}

// compact moves the valid columns of the wide block chunk (rows [i0, i1)
// of group gi, wide columns [jc, je), chunk[i*ncMax + j-jc]) of image nb
// into Y, adding the bias and the residual z (when not nil) and applying
// the activation.
func (k *convGemm) compact(chunk, y, z []float32, nb, gi, i0, i1, jc, je int) {
	ep := &k.eps[gi]
	ow, wq := k.g.ow, k.wq
	flags, lo, hi, clampAct := ep.clampFlags()
	if z != nil {
		flags |= asm.EpResidual
	}
	for i := i0; i < i1; i++ {
		src := chunk[i*ncMax : i*ncMax+je-jc]
		base := (nb*k.m + gi*k.mpg + i) * k.hw
		var b float32
		if ep.Bias != nil {
			b = ep.Bias[i]
		}
		for oy := jc / wq; oy*wq < je; oy++ {
			a, e := max(jc, oy*wq), min(je, oy*wq+ow)
			if a >= e {
				continue
			}
			s := src[a-jc : e-jc]
			o := base + oy*ow + a - oy*wq
			d := y[o : o+len(s)]
			var zz []float32
			if z != nil {
				zz = z[o : o+len(s)]
			}
			asm.BiasActRow(d, s, zz, b, lo, hi, flags)
			if !clampAct {
				ep.Apply(d)
			}
		}
	}
}

// gatherStridedGo sets dst[i] = src[i*stride].
func gatherStridedGo(dst, src []float32, stride int) {
	if len(dst) == 0 {
		return
	}
	src = src[:(len(dst)-1)*stride+1]
	if stride == 2 {
		for i := range dst {
			dst[i] = src[2*i]
		}
		return
	}
	for i := range dst {
		dst[i] = src[i*stride]
	}
}
