package kernel

import (
	"sync"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Float32 kernels for 2-D convolutions whose weight is computed at run
// time, as in a training graph (weights are graph inputs, not params):
//
//   - kiln:ConvGradWeight(X, dY, shape): dW[m, ckk] = sum over images b of
//     dY_b[m, ohw] * col_b[ckk, ohw]^T, with col_b = Im2col(X_b);
//   - kiln:ConvGradInput(dY, W, shape): col_b = W^T[ckk, m] * dY_b[m, ohw],
//     then dX_b = col2im(col_b), the adjoint of Im2col (a transposed
//     convolution);
//   - Conv(X, W[, B]) with W not a param: Y_b = W * col_b (+ bias).
//
// group 1 only; other groups and ranks run the reference ops these are
// tested against. The work is split over images: each worker owns a range
// of images, its own im2col buffer and (for the weight gradient) its own
// partial sum, so one call hands work to the pool once. The products run
// on the packed single-thread SGEMM. Sums are float32 (the reference sums
// in float64), so results differ by float32 rounding of dot products of
// length m (input gradient), n*oh*ow (weight gradient) or c*kh*kw.

// gradConvShape is a 2-D group-1 convolution's geometry.
type gradConvShape struct {
	n, c, h, w     int // input X [n, c, h, w]
	m, kh, kw      int // weight W [m, c, kh, kw]
	oh, ow         int // output Y [n, m, oh, ow]
	sh, sw, dh, dw int
	pt, pl         int // top and left padding
}

func (g *gradConvShape) ckk() int { return g.c * g.kh * g.kw }
func (g *gradConvShape) ohw() int { return g.oh * g.ow }
func (g *gradConvShape) hw() int  { return g.h * g.w }

// pointwise reports a 1x1, stride 1, unpadded convolution, whose im2col
// matrix is the image itself.
func (g *gradConvShape) pointwise() bool {
	return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w
}

// newGradConvShape resolves the geometry as the reference ops do (ONNX
// Conv attributes) from the shapes of X, W and Y, and returns nil unless
// it is a 2-D group-1 convolution whose output shape matches Y.
func newGradConvShape(n *graph.Node, x, w, y tensor.Shape) *gradConvShape {
	if len(x) != 4 || len(w) != 4 || len(y) != 4 || n.Attrs.Int("group", 1) != 1 ||
		w[1] != x[1] || y[1] != w[0] || y[0] != x[0] {
		return nil
	}
	g := &gradConvShape{n: x[0], c: x[1], h: x[2], w: x[3], m: w[0], kh: w[2], kw: w[3], oh: y[2], ow: y[3]}
	ints := func(name string, def ...int) []int {
		v, ok := n.Attrs[name].([]int64)
		if !ok {
			return def
		}
		r := make([]int, len(v))
		for i, e := range v {
			r[i] = int(e)
		}
		return r
	}
	s, d, p := ints("strides", 1, 1), ints("dilations", 1, 1), ints("pads", 0, 0, 0, 0)
	if ks := ints("kernel_shape", g.kh, g.kw); len(ks) != 2 || ks[0] != g.kh || ks[1] != g.kw {
		return nil
	}
	if len(s) != 2 || len(d) != 2 || len(p) != 4 || s[0] < 1 || s[1] < 1 || d[0] < 1 || d[1] < 1 {
		return nil
	}
	g.sh, g.sw, g.dh, g.dw = s[0], s[1], d[0], d[1]
	in, k := [2]int{g.h, g.w}, [2]int{g.kh, g.kw}
	var out, pb [2]int
	switch ap := n.Attrs.String("auto_pad", "NOTSET"); ap {
	case "NOTSET", "", "VALID":
		for i := range 2 {
			b, e := p[i], p[i+2]
			if ap == "VALID" {
				b, e = 0, 0
			}
			span := in[i] + b + e - (k[i]-1)*d[i] - 1
			if span < 0 {
				return nil
			}
			out[i], pb[i] = span/s[i]+1, b
		}
	case "SAME_UPPER", "SAME_LOWER":
		for i := range 2 {
			o := (in[i] + s[i] - 1) / s[i]
			tot := max((o-1)*s[i]+(k[i]-1)*d[i]+1-in[i], 0)
			out[i], pb[i] = o, tot/2
			if ap == "SAME_LOWER" {
				pb[i] = tot - tot/2
			}
		}
	default:
		return nil
	}
	if out[0] != g.oh || out[1] != g.ow || g.oh <= 0 || g.ow <= 0 {
		return nil
	}
	g.pt, g.pl = pb[0], pb[1]
	return g
}

// im2col writes image x [c, h, w] unrolled as the (c*kh*kw) x (oh*ow)
// matrix col (row stride oh*ow), as Im2col does.
func (g *gradConvShape) im2col(col, x []float32) {
	Im2col(col, x, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.oh, g.ow)
}

// col2im adds the (c*kh*kw) x (oh*ow) matrix col into image x [c, h, w]:
// every col entry is added at the input position Im2col read it from, and
// entries that Im2col filled from the padding are dropped.
func (g *gradConvShape) col2im(x, col []float32) {
	n, hw := g.ohw(), g.hw()
	for ci := 0; ci < g.c; ci++ {
		img := x[ci*hw : (ci+1)*hw]
		for ki := 0; ki < g.kh; ki++ {
			for kj := 0; kj < g.kw; kj++ {
				row := col[((ci*g.kh+ki)*g.kw+kj)*n:][:n]
				// Columns ox in [ox0, ox1) land inside the image.
				x0 := kj*g.dw - g.pl
				ox0 := 0
				if x0 < 0 {
					ox0 = min((-x0+g.sw-1)/g.sw, g.ow)
				}
				ox1 := g.ow
				if x0+(g.ow-1)*g.sw >= g.w {
					ox1 = max(min((g.w-1-x0)/g.sw+1, g.ow), ox0)
				}
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*g.sh - g.pt + ki*g.dh
					if iy < 0 || iy >= g.h {
						continue
					}
					src := row[oy*g.ow : oy*g.ow+g.ow]
					dst := img[iy*g.w : iy*g.w+g.w]
					if g.sw == 1 {
						addTo(dst[x0+ox0:x0+ox1], src[ox0:ox1])
						continue
					}
					for ox := ox0; ox < ox1; ox++ {
						dst[x0+ox*g.sw] += src[ox]
					}
				}
			}
		}
	}
}

// addTo sets dst[i] += src[i].
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d, s := dst[i:i+4:i+4], src[i:i+4:i+4]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// gradConvParts is how many image ranges a call is split into.
func gradConvParts(env *Env, n, work int) int {
	parts := 1
	if env != nil && env.Pool != nil {
		parts = env.Pool.Workers()
	}
	// Below ~256K multiply-adds per worker the hand-off costs more.
	return max(min(parts, n, work/(1<<18)), 1)
}

// ---- kiln:ConvGradWeight

type convGradWeightK struct {
	g *gradConvShape
	// transposed: accumulate dW^T [ckk, m] (col * dY_b^T). It wastes no
	// more micro-tile lanes than dY_b * col^T in the cases taken, and packs
	// the large operand (col) along its rows, which the packing does
	// faster than gathering its columns (MNIST conv2: 6.2 against 7.4 ms
	// per batch of 128 on one thread).
	transposed bool
}

func newConvGradWeight(s *Spec) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || !allF32(s.In[:2]) || !allF32(s.Out) {
		return nil
	}
	g := newGradConvShape(s.Node, s.In[0].Shape, s.Out[0].Shape, s.In[1].Shape)
	if g == nil {
		return nil
	}
	ckk := g.ckk()
	waste := func(rows, cols int) int { return (rows + mr - 1) / mr * mr * ((cols + nr - 1) / nr * nr) }
	return &convGradWeightK{g: g, transposed: waste(ckk, g.m) <= waste(g.m, ckk)}
}

func (k *convGradWeightK) Run(env *Env, in, out []*tensor.Tensor) {
	g := k.g
	parts := gradConvParts(env, g.n, g.n*g.m*g.ckk()*g.ohw())
	// Scratch: per part an im2col buffer, and for parts after the first a
	// partial sum; part 0 (or a transposed layout) also needs one.
	mk := g.m * g.ckk()
	colN := g.ckk() * g.ohw()
	if g.pointwise() {
		colN = 0
	}
	sc := env.Scratch(parts * (colN + mk))
	if parts == 1 {
		k.part(sc, 0, g.n, in, out)
	} else {
		t := gradTasks.Get().(*gradConvTask)
		t.weight, t.sc, t.parts = k, sc, parts
		env.Pool.ParallelTask(parts, t, in, out)
		*t = gradConvTask{}
		gradTasks.Put(t)
	}
	// Sum the partials into dW.
	dw := out[0].F32()
	ckk := g.ckk()
	for p := 0; p < parts; p++ {
		acc := sc[p*(colN+mk)+colN:][:mk]
		switch {
		case !k.transposed && p == 0:
			copy(dw, acc)
		case !k.transposed:
			addTo(dw, acc)
		default:
			// acc is [ckk, m].
			for m := 0; m < g.m; m++ {
				row := dw[m*ckk : (m+1)*ckk]
				if p == 0 {
					for j := range row {
						row[j] = acc[j*g.m+m]
					}
				} else {
					for j := range row {
						row[j] += acc[j*g.m+m]
					}
				}
			}
		}
	}
}

// part accumulates images [b0, b1) into the partial sum that follows its
// im2col buffer in sc.
func (k *convGradWeightK) part(sc []float32, b0, b1 int, in, out []*tensor.Tensor) {
	g := k.g
	x, dy := in[0].F32(), in[1].F32()
	ckk, ohw, mk := g.ckk(), g.ohw(), g.m*g.ckk()
	colN := ckk * ohw
	if g.pointwise() {
		colN = 0
	}
	col, acc := sc[:colN], sc[colN:colN+mk]
	for b := b0; b < b1; b++ {
		xb := x[b*g.c*g.hw() : (b+1)*g.c*g.hw()]
		cb := xb
		if colN > 0 {
			g.im2col(col, xb)
			cb = col
		}
		yb := dy[b*g.m*ohw : (b+1)*g.m*ohw]
		beta := float32(1)
		if b == b0 {
			beta = 0
		}
		if k.transposed {
			Sgemm(false, true, ckk, g.m, ohw, 1, cb, ohw, yb, ohw, beta, acc, g.m)
		} else {
			Sgemm(false, true, g.m, ckk, ohw, 1, yb, ohw, cb, ohw, beta, acc, ckk)
		}
	}
	if b0 == b1 {
		clear(acc)
	}
}

// ---- kiln:ConvGradInput

type convGradInputK struct {
	g *gradConvShape
}

func newConvGradInput(s *Spec) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || !allF32(s.In[:2]) || !allF32(s.Out) {
		return nil
	}
	g := newGradConvShape(s.Node, s.Out[0].Shape, s.In[1].Shape, s.In[0].Shape)
	if g == nil {
		return nil
	}
	return &convGradInputK{g: g}
}

func (k *convGradInputK) colLen() int {
	if k.g.pointwise() {
		return 0
	}
	return k.g.ckk() * k.g.ohw()
}

func (k *convGradInputK) Run(env *Env, in, out []*tensor.Tensor) {
	g := k.g
	parts := gradConvParts(env, g.n, g.n*g.m*g.ckk()*g.ohw())
	sc := env.Scratch(parts * k.colLen())
	if parts == 1 {
		k.part(sc, 0, g.n, in, out)
		return
	}
	t := gradTasks.Get().(*gradConvTask)
	t.input, t.sc, t.parts = k, sc, parts
	env.Pool.ParallelTask(parts, t, in, out)
	*t = gradConvTask{}
	gradTasks.Put(t)
}

func (k *convGradInputK) part(col []float32, b0, b1 int, in, out []*tensor.Tensor) {
	g := k.g
	dy, w, dx := in[0].F32(), in[1].F32(), out[0].F32()
	ckk, ohw, chw := g.ckk(), g.ohw(), g.c*g.hw()
	for b := b0; b < b1; b++ {
		yb := dy[b*g.m*ohw : (b+1)*g.m*ohw]
		xb := dx[b*chw : (b+1)*chw]
		if len(col) == 0 {
			Sgemm(true, false, ckk, ohw, g.m, 1, w, ckk, yb, ohw, 0, xb, ohw)
			continue
		}
		Sgemm(true, false, ckk, ohw, g.m, 1, w, ckk, yb, ohw, 0, col, ohw)
		clear(xb)
		g.col2im(xb, col)
	}
}

// ---- Conv with a run-time weight

type convRuntimeWK struct {
	g    *gradConvShape
	bias bool
	// FusedConv: a residual input Z added to the output, then the
	// activation of ep (ep holds no bias: the bias is a run-time input).
	residual bool
	ep       Epilogue
}

// newFusedConvRuntimeW is newConvRuntimeW for kiln FusedConv (evaluation
// and prediction graphs of models in training take their weights as
// inputs, and the passes fuse bias, activation and residual into the
// convolution).
func newFusedConvRuntimeW(s *Spec) Kernel {
	ep, ok := fusedEpilogue(s)
	if !ok {
		return nil
	}
	in := s.In
	residual := len(in) > 3 && in[3].DType != tensor.Undefined
	if residual {
		in = in[:3]
	}
	k, _ := newConvRuntimeW(&Spec{Node: s.Node, In: in, Out: s.Out, Threads: s.Threads}).(*convRuntimeWK)
	if k == nil {
		return nil
	}
	if residual {
		if s.In[3].DType != tensor.Float32 || !s.In[3].Shape.Equal(s.Out[0].Shape) {
			return nil
		}
		k.residual = true
	}
	k.ep = ep
	return k
}

func newConvRuntimeW(s *Spec) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || !allF32(s.In[:2]) || !allF32(s.Out) || s.In[1].Const != nil {
		return nil
	}
	g := newGradConvShape(s.Node, s.In[0].Shape, s.In[1].Shape, s.Out[0].Shape)
	if g == nil {
		return nil
	}
	k := &convRuntimeWK{g: g}
	if len(s.In) > 2 && s.In[2].DType != tensor.Undefined {
		if s.In[2].DType != tensor.Float32 || s.In[2].Shape.Size() != g.m {
			return nil
		}
		k.bias = true
	}
	return k
}

func (k *convRuntimeWK) colLen() int {
	if k.g.pointwise() {
		return 0
	}
	return k.g.ckk() * k.g.ohw()
}

func (k *convRuntimeWK) Run(env *Env, in, out []*tensor.Tensor) {
	g := k.g
	parts := gradConvParts(env, g.n, g.n*g.m*g.ckk()*g.ohw())
	sc := env.Scratch(parts * k.colLen())
	// The epilogue holds this run's bias, so it lives in the pooled task
	// (a kernel is shared by concurrent runs; a local would escape).
	t := gradTasks.Get().(*gradConvTask)
	t.fwd, t.sc, t.parts = k, sc, parts
	t.ep = k.ep
	if k.bias {
		t.ep.Bias, t.ep.BiasPerRow = in[2].F32(), true
	}
	if parts == 1 {
		k.part(sc, 0, g.n, in, out, t.epilogue())
	} else {
		env.Pool.ParallelTask(parts, t, in, out)
	}
	*t = gradConvTask{}
	gradTasks.Put(t)
}

func (k *convRuntimeWK) part(col []float32, b0, b1 int, in, out []*tensor.Tensor, epp *Epilogue) {
	g := k.g
	x, w, y := in[0].F32(), in[1].F32(), out[0].F32()
	ckk, ohw, chw := g.ckk(), g.ohw(), g.c*g.hw()
	// Bias and activation are applied in the GEMM's epilogue ep (nil for
	// none), on tiles still in cache; a residual is copied into the output
	// first and accumulated (beta = 1).
	for b := b0; b < b1; b++ {
		xb := x[b*chw : (b+1)*chw]
		yb := y[b*g.m*ohw : (b+1)*g.m*ohw]
		cb := xb
		if len(col) > 0 {
			g.im2col(col, xb)
			cb = col
		}
		beta := float32(0)
		if k.residual {
			copy(yb, in[3].F32()[b*g.m*ohw:(b+1)*g.m*ohw])
			beta = 1
		}
		SgemmParallel(nil, false, false, g.m, ohw, ckk, 1, w, ckk, cb, ohw, beta, yb, ohw, epp)
	}
}

// gradConvTask is one parallel call of a kernel above over image ranges;
// exactly one of weight, input and fwd is set. Tasks are pooled so a call
// does not allocate (the scratch slice belongs to the calling state, so a
// task cannot live in the shared kernel).
type gradConvTask struct {
	weight *convGradWeightK
	input  *convGradInputK
	fwd    *convRuntimeWK
	sc     []float32
	parts  int
	ep     Epilogue // fwd's epilogue for this run
}

// epilogue returns the forward convolution's epilogue, nil when it has
// nothing to do.
func (t *gradConvTask) epilogue() *Epilogue {
	if t.ep.Bias == nil && t.ep.Act == ActNone {
		return nil
	}
	return &t.ep
}

var gradTasks = sync.Pool{New: func() any { return new(gradConvTask) }}

func (t *gradConvTask) RunPart(p int, in, out []*tensor.Tensor) {
	switch {
	case t.weight != nil:
		n, per := t.weight.g.n, len(t.sc)/t.parts
		t.weight.part(t.sc[p*per:(p+1)*per], n*p/t.parts, n*(p+1)/t.parts, in, out)
	case t.input != nil:
		n, per := t.input.g.n, t.input.colLen()
		t.input.part(t.sc[p*per:(p+1)*per], n*p/t.parts, n*(p+1)/t.parts, in, out)
	default:
		n, per := t.fwd.g.n, t.fwd.colLen()
		t.fwd.part(t.sc[p*per:(p+1)*per], n*p/t.parts, n*(p+1)/t.parts, in, out, t.epilogue())
	}
}

func init() {
	Register("kiln", "ConvGradWeight", "ConvGradWeight/f32-im2col-images", 20, newConvGradWeight)
	Register("kiln", "ConvGradInput", "ConvGradInput/f32-col2im-images", 20, newConvGradInput)
	// Below the constant-weight Conv kernels (which pre-pack W), which
	// decline a run-time weight.
	Register("", "Conv", "Conv/f32-runtime-weight", 8, newConvRuntimeW)
	Register("kiln", "FusedConv", "FusedConv/f32-runtime-weight", 8, newFusedConvRuntimeW)
}
