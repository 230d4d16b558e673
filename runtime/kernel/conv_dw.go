package kernel

import (
	"math"
	"sync"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// Depthwise 3x3 Conv (group == C == M, one filter per channel; any stride
// and dilation; MobileNet's stride 1 and 2 layers): each channel is copied,
// zero-padded, into its phase planes (planeGeom), so that output row oy is
//
//	Y[c][oy][ox] = B[c] + sum_{t<9} w[c][t] * planes[off[t] + oy*wq + ox]
//
// nine shifted windows of one buffer, computed by dwRows (AVX-512 with a Go
// twin), which also clamps for Relu and Clip. Other activations run after
// the row; a residual Z is added before them.
type convDW struct {
	planeGeom
	n, c, hw, inHW int
	w, bias        []float32 // [c][9], [c] (zeros when absent)
	offs           [9]int
	ep             Epilogue
	clamp          bool    // ep is Relu or Clip: clamp to [lo, hi]
	lo, hi         float32 // the clamp
	epFlags        int     // asm.BiasActRow flags adding the residual
	residual       bool
	parts          int
}

func init() {
	Register("", "Conv", "Conv/f32-dw3x3", 20, func(s *Spec) Kernel { return newConvDW(s, Epilogue{}, false) })
}

func newConvDW(s *Spec, ep Epilogue, residual bool) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || s.In[1].Const == nil || s.In[0].DType != tensor.Float32 || s.In[1].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 {
		return nil
	}
	xs, ws, ys := s.In[0].Shape, s.In[1].Shape, s.Out[0].Shape
	if len(xs) != 4 {
		return nil
	}
	g, group, ok := convParams(s, xs, ws, ys)
	if !ok || group != int(xs[1]) || int(ws[0]) != group || int(ws[1]) != 1 || g.kh != 3 || g.kw != 3 || int(ys[1]) != group {
		return nil
	}
	if kshape := s.Node.Attrs.Ints("kernel_shape"); kshape != nil && (len(kshape) != 2 || kshape[0] != 3 || kshape[1] != 3) {
		return nil
	}
	c := group
	k := &convDW{planeGeom: newPlaneGeom(g), n: int(xs[0]), c: c, hw: g.oh * g.ow, inHW: g.h * g.w, ep: ep, residual: residual}
	k.w = s.In[1].Const.F32()
	k.bias = make([]float32, c)
	if len(s.In) > 2 && s.In[2].DType != tensor.Undefined {
		if s.In[2].DType != tensor.Float32 || s.In[2].Const == nil || s.In[2].Shape.Size() != c {
			return nil
		}
		copy(k.bias, s.In[2].Const.F32())
	}
	if residual {
		if len(s.In) < 4 || s.In[3].DType == tensor.Undefined {
			k.residual = false
		} else if s.In[3].DType != tensor.Float32 || !s.In[3].Shape.Equal(ys) {
			return nil
		}
	} else if len(s.In) > 3 && s.In[3].DType != tensor.Undefined {
		return nil
	}
	for t := range 9 {
		k.offs[t] = k.tapOffset(t/3, t%3)
	}
	k.lo, k.hi = float32(math.Inf(-1)), float32(math.Inf(1))
	switch ep.Act {
	case ActRelu:
		k.clamp, k.lo = true, 0
	case ActClip:
		k.clamp, k.lo, k.hi = true, ep.Lo, ep.Hi
	}
	if k.residual {
		k.epFlags = asm.EpResidual
		if k.clamp {
			k.epFlags |= asm.EpClamp
		}
	}
	k.parts = max(min(s.Threads, k.n*k.c*k.hw*18/(1<<17)), 1)
	return k
}

// dwRun is one Run's state, shared by its parallel parts.
type dwRun struct {
	k   *convDW
	buf []float32 // per part: one channel's planes
}

var dwRuns = sync.Pool{New: func() any { return new(dwRun) }}

func (k *convDW) Run(env *Env, in, out []*tensor.Tensor) {
	st := dwRuns.Get().(*dwRun)
	st.k = k
	n := k.parts * (k.chanSz + 16)
	if env != nil {
		st.buf = env.Scratch(n)
	} else {
		st.buf = make([]float32, n)
	}
	runParts(env, k.parts, st, in, out)
	*st = dwRun{}
	dwRuns.Put(st)
}

func (st *dwRun) RunPart(i int, in, out []*tensor.Tensor) {
	k := st.k
	x, y := in[0].F32(), out[0].F32()
	var z []float32
	if k.residual {
		z = in[3].F32()
	}
	planes := st.buf[i*(k.chanSz+16) : (i+1)*(k.chanSz+16)]
	u := k.n * k.c
	ow, wq := k.g.ow, k.wq
	offs := k.offs
	// dwRows reads planes[offs[t] + oy*wq + j] for j < ow.
	_ = planes[maxOff(&offs)+(k.g.oh-1)*wq+ow-1]
	for nc := u * i / k.parts; nc < u*(i+1)/k.parts; nc++ {
		c := nc % k.c
		k.fillPlanes(planes[:k.chanSz], x[nc*k.inHW:(nc+1)*k.inHW])
		w := (*[9]float32)(k.w[c*9 : c*9+9])
		d := y[nc*k.hw : (nc+1)*k.hw]
		if k.residual {
			// The residual goes in before the activation.
			dwRows(d, planes, &offs, w, ow, k.g.oh, ow, wq, k.bias[c], false, 0, 0)
			asm.BiasActRow(d, d, z[nc*k.hw:(nc+1)*k.hw], 0, k.lo, k.hi, k.epFlags)
		} else {
			dwRows(d, planes, &offs, w, ow, k.g.oh, ow, wq, k.bias[c], k.clamp, k.lo, k.hi)
		}
		if !k.clamp && k.ep.Act != ActNone {
			k.ep.Apply(d)
		}
	}
}

// dwRowsGo is dwRows' pure-Go twin.
func dwRowsGo(dst, src []float32, offs *[9]int, w *[9]float32, n, rows, dstStride, srcStride int, bias float32, clamp bool, lo, hi float32) {
	for r := range rows {
		d := dst[r*dstStride : r*dstStride+n]
		sr := src[r*srcStride:]
		for j := range d {
			s := bias
			for t := range 9 {
				s += w[t] * sr[offs[t]+j]
			}
			if clamp {
				s = min(max(s, lo), hi)
			}
			d[j] = s
		}
	}
}

func maxOff(offs *[9]int) int {
	m := 0
	for _, o := range offs {
		m = max(m, o)
	}
	return m
}
