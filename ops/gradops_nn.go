package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Helper ops of the backward pass for convolution, pooling and LRN (domain
// "kiln"). Each takes the forward node's attributes unchanged (strides,
// pads, dilations, auto_pad, group, kernel_shape, ceil_mode,
// count_include_pad), so the geometry is resolved exactly as the forward
// op resolves it.

// ConvGradInput is the adjoint of Conv with respect to its input
// (kiln:ConvGradInput). Inputs: dY [N, M, o...], W [M, C/group, k...] and
// the input shape S = [N, C, i...] (1-D int64). Output dX of shape S with
// dX[n, c, p] = sum over m in c's group, o, k with p = o*s + k*d - pad_begin
// of dY[n, m, o] * W[m, c mod C/group, k].
var ConvGradInput = &Def{Name: "ConvGradInput", Domain: "kiln", Infer: gradInferToShape(2), Kernel: gradConvInputKernel}

// ConvGradWeight is the adjoint of Conv with respect to its weight
// (kiln:ConvGradWeight). Inputs: X [N, C, i...], dY [N, M, o...] and the
// weight shape S = [M, C/group, k...] (1-D int64). Output dW of shape S with
// dW[m, c, k] = sum over n, o of dY[n, m, o] * X[n, g*C/group + c, o*s + k*d - pad_begin]
// (g the group of m; positions in the padding read zero).
var ConvGradWeight = &Def{Name: "ConvGradWeight", Domain: "kiln", Infer: gradInferToShape(2), Kernel: gradConvWeightKernel}

// MaxPoolGrad is the adjoint of MaxPool (kiln:MaxPoolGrad). Inputs: X and
// dY. Output dX of X's shape: each dY element is added at the position of
// its window's maximum, the first one in window order on ties (the element
// MaxPool's Indices output names).
var MaxPoolGrad = &Def{Name: "MaxPoolGrad", Domain: "kiln", Infer: InferSame(0), Kernel: gradPoolKernel("max")}

// AveragePoolGrad is the adjoint of AveragePool (kiln:AveragePoolGrad).
// Inputs: X (only its shape is read) and dY. Output dX of X's shape: each dY
// element divided by its window's divisor (the count of in-bounds elements,
// or of elements inside the padded input when count_include_pad is 1) is
// added to every in-bounds element of its window.
var AveragePoolGrad = &Def{Name: "AveragePoolGrad", Domain: "kiln", Infer: InferSame(0), Kernel: gradPoolKernel("avg")}

// LRNGrad is the adjoint of LRN with respect to X (kiln:LRNGrad). Inputs:
// X and dY; attributes are the forward node's (size, alpha, beta, bias).
// With d[c] = bias + alpha/size·S[c], S[c] the sum of X² over c's channel
// window [c-lo, c+hi] (lo = floor((size-1)/2), hi = ceil((size-1)/2)) and
// Y[c] = X[c]·d[c]^-beta, the output is
//
//	dX[j] = dY[j]·d[j]^-beta - 2·beta·alpha/size·X[j]·
//	        sum over c in [j-hi, j+lo] of dY[c]·X[c]·d[c]^(-beta-1)
//
// (the channels whose window holds j), per batch item and spatial position.
var LRNGrad = &Def{Name: "LRNGrad", Domain: "kiln", Infer: InferSame(0), Kernel: gradLRNKernel}

func init() {
	Register(ConvGradInput)
	Register(ConvGradWeight)
	Register(MaxPoolGrad)
	Register(AveragePoolGrad)
	Register(LRNGrad)
}

func gradLRNKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs X and dY")
	}
	x, dy := in[0], in[1]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) < 2 {
		return nil, Errorf(n, "X %v must be [N, C, D...]", xs)
	}
	if !dy.Shape().Equal(xs) {
		return nil, Errorf(n, "dY has shape %v, want X's shape %v", dy.Shape(), xs)
	}
	size := int(n.Attrs.Int("size", 0))
	if size < 1 {
		return nil, Errorf(n, "size must be positive, got %d", size)
	}
	alpha := float64(n.Attrs.Float("alpha", 1e-4))
	beta := float64(n.Attrs.Float("beta", 0.75))
	bias := float64(n.Attrs.Float("bias", 1))
	lo, hi := (size-1)/2, (size-1)-(size-1)/2
	k := alpha / float64(size)
	xv, dv := x.Float64s(), dy.Float64s()
	res := make([]float64, len(xv))
	d := make([]float64, xs[1])
	t := make([]float64, xs[1]) // dY[c]·X[c]·d[c]^(-beta-1)
	nnAxisIter(xs, 1, func(base, st, C int) {
		for c := 0; c < C; c++ {
			s := 0.0
			for j := max(0, c-lo); j <= min(C-1, c+hi); j++ {
				v := xv[base+j*st]
				s += v * v
			}
			d[c] = bias + k*s
			t[c] = dv[base+c*st] * xv[base+c*st] * math.Pow(d[c], -beta-1)
		}
		for j := 0; j < C; j++ {
			s := 0.0
			for c := max(0, j-hi); c <= min(C-1, j+lo); c++ {
				s += t[c]
			}
			res[base+j*st] = dv[base+j*st]*math.Pow(d[j], -beta) - 2*beta*k*xv[base+j*st]*s
		}
	})
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}

// gradConvGeom resolves a convolution's geometry from X's and W's shapes.
func gradConvGeom(n *graph.Node, xs, ws tensor.Shape) (*nnSpatial, int, error) {
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, 0, Errorf(n, "X %v must be [N, C, D...] and W %v [M, C/group, k...] of the same rank", xs, ws)
	}
	group := int(n.Attrs.Int("group", 1))
	C, M := xs[1], ws[0]
	if group < 1 || C%group != 0 || M%group != 0 || ws[1]*group != C {
		return nil, 0, Errorf(n, "group %d does not fit X channels %d, W %v", group, C, ws)
	}
	g, err := nnWindow(n, []int(xs[2:]), []int(ws[2:]), false)
	return g, group, err
}

// gradConvWalk calls f(xOffset, wOffset, yOffset) for every term of the
// convolution sum whose input position is inside X.
func gradConvWalk(xs, ws tensor.Shape, g *nnSpatial, group int, f func(xo, wo, yo int)) {
	r := len(xs) - 2
	N, C, M := xs[0], xs[1], ws[0]
	cpg, mpg := C/group, M/group
	isz, osz, ksz := nnProd(xs[2:]), nnProd(g.out), nnProd(ws[2:])
	xst := tensor.Shape(xs[2:]).Strides()
	k := []int(ws[2:])
	// Precompute, per output position and kernel position, the input
	// offset or -1 when it falls in the padding.
	offs := make([]int, osz*ksz)
	oidx, kidx := make([]int, r), make([]int, r)
	for o := 0; o < osz; o++ {
		for i := range kidx {
			kidx[i] = 0
		}
		for kk := 0; kk < ksz; kk++ {
			off := 0
			for d := 0; d < r; d++ {
				p := oidx[d]*g.s[d] + kidx[d]*g.d[d] - g.pb[d]
				if p < 0 || p >= xs[2+d] {
					off = -1
					break
				}
				off += p * xst[d]
			}
			offs[o*ksz+kk] = off
			nnNext(kidx, k)
		}
		nnNext(oidx, g.out)
	}
	for nb := 0; nb < N; nb++ {
		for m := 0; m < M; m++ {
			gr := m / mpg
			yb := (nb*M + m) * osz
			for c := 0; c < cpg; c++ {
				xb := (nb*C + gr*cpg + c) * isz
				wb := (m*cpg + c) * ksz
				for o := 0; o < osz; o++ {
					row := offs[o*ksz : (o+1)*ksz]
					for kk, off := range row {
						if off >= 0 {
							f(xb+off, wb+kk, yb+o)
						}
					}
				}
			}
		}
	}
}

func gradConvInputKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs dY, W and the input shape")
	}
	dy, w := in[0], in[1]
	xs, err := gradShapeInput(n, in[2])
	if err != nil {
		return nil, err
	}
	g, group, err := gradConvGeom(n, xs, w.Shape())
	if err != nil {
		return nil, err
	}
	want := append(tensor.Shape{xs[0], w.Shape()[0]}, g.out...)
	if !want.Equal(dy.Shape()) {
		return nil, Errorf(n, "dY has shape %v, want %v", dy.Shape(), want)
	}
	dv, wv := dy.Float64s(), w.Float64s()
	res := make([]float64, xs.Size())
	gradConvWalk(xs, w.Shape(), g, group, func(xo, wo, yo int) { res[xo] += dv[yo] * wv[wo] })
	return []*tensor.Tensor{nnOut(dy.DType(), xs, res)}, nil
}

func gradConvWeightKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs X, dY and the weight shape")
	}
	x, dy := in[0], in[1]
	ws, err := gradShapeInput(n, in[2])
	if err != nil {
		return nil, err
	}
	g, group, err := gradConvGeom(n, x.Shape(), ws)
	if err != nil {
		return nil, err
	}
	want := append(tensor.Shape{x.Shape()[0], ws[0]}, g.out...)
	if !want.Equal(dy.Shape()) {
		return nil, Errorf(n, "dY has shape %v, want %v", dy.Shape(), want)
	}
	dv, xv := dy.Float64s(), x.Float64s()
	res := make([]float64, ws.Size())
	gradConvWalk(x.Shape(), ws, g, group, func(xo, wo, yo int) { res[wo] += dv[yo] * xv[xo] })
	return []*tensor.Tensor{nnOut(dy.DType(), ws, res)}, nil
}

func gradPoolKernel(kind string) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, Errorf(n, "needs inputs X and dY")
		}
		x, dy := in[0], in[1]
		xs := x.Shape()
		if len(xs) < 3 {
			return nil, Errorf(n, "X %v must be [N, C, D...]", xs)
		}
		r := len(xs) - 2
		k := nnInts(n, "kernel_shape", nil)
		if len(k) != r {
			return nil, Errorf(n, "kernel_shape %v must have %d entries", k, r)
		}
		g, err := nnWindow(n, []int(xs[2:]), k, n.Attrs.Int("ceil_mode", 0) != 0)
		if err != nil {
			return nil, err
		}
		want := append(tensor.Shape{xs[0], xs[1]}, g.out...)
		if !want.Equal(dy.Shape()) {
			return nil, Errorf(n, "dY has shape %v, want %v", dy.Shape(), want)
		}
		incl := n.Attrs.Int("count_include_pad", 0) != 0
		NC := xs[0] * xs[1]
		isz, osz, ksz := nnProd(xs[2:]), nnProd(g.out), nnProd(k)
		xst := tensor.Shape(xs[2:]).Strides()
		var xv []float64
		if kind == "max" {
			xv = x.Float64s()
		}
		dv := dy.Float64s()
		res := make([]float64, xs.Size())
		oidx, kidx := make([]int, r), make([]int, r)
		offs := make([]int, 0, ksz)
		for nc := 0; nc < NC; nc++ {
			base := nc * isz
			for i := range oidx {
				oidx[i] = 0
			}
			for o := 0; o < osz; o++ {
				offs = offs[:0]
				cnt := 0
				for i := range kidx {
					kidx[i] = 0
				}
				for kk := 0; kk < ksz; kk++ {
					off, in, inPad := 0, true, true
					for d := 0; d < r; d++ {
						q := oidx[d]*g.s[d] + kidx[d]*g.d[d] - g.pb[d]
						if q < 0 || q >= xs[2+d] {
							in = false
						}
						if q < -g.pb[d] || q >= xs[2+d]+g.pe[d] {
							inPad = false
						}
						off += q * xst[d]
					}
					if in {
						offs = append(offs, off)
						cnt++
					} else if inPad && incl {
						cnt++
					}
					nnNext(kidx, k)
				}
				v := dv[nc*osz+o]
				switch kind {
				case "max":
					best, at := math.Inf(-1), -1
					for _, off := range offs {
						if xv[base+off] > best || at < 0 {
							best, at = xv[base+off], off
						}
					}
					if at >= 0 {
						res[base+at] += v
					}
				case "avg":
					if cnt > 0 {
						for _, off := range offs {
							res[base+off] += v / float64(cnt)
						}
					}
				}
				nnNext(oidx, g.out)
			}
		}
		return []*tensor.Tensor{nnOut(dy.DType(), xs, res)}, nil
	}
}
