package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// GridSample samples X [N, C, D1..Dr] at the normalized locations of grid
// [N, O1..Or, r] (ONNX GridSample-22). grid's last axis lists coordinates
// innermost axis first (x for width). A coordinate n in [-1, 1] maps to
// ((n+1)/2)*(size-1) with align_corners=1, else ((n+1)*size-1)/2. mode is
// linear, nearest (round half to even, which is what the ONNX test data
// holds for 2-D and 3-D alike) or cubic (Keys, a=-0.75). padding_mode: zeros (outside points
// read 0), border (coordinates and taps clamped to the edge) or reflection
// (reflected at the borders, which are the pixel centres with
// align_corners=1 and the pixel edges otherwise).
var GridSample = &Def{Name: "GridSample", Infer: nnGridSampleInfer, Kernel: nnGridSampleKernel}

// AffineGrid builds the sampling grid of a batch of affine transforms (ONNX
// AffineGrid-20): theta [N, 2, 3] with size [N, C, H, W] gives grid
// [N, H, W, 2]; theta [N, 3, 4] with size [N, C, D, H, W] gives
// [N, D, H, W, 3]. Base coordinates along an axis of length L are
// linspace(-1, 1, L) with align_corners=1, else (2i+1)/L - 1.
var AffineGrid = &Def{Name: "AffineGrid", Infer: nnAffineGridInfer, Kernel: nnAffineGridKernel}

// RoiAlign pools each region of interest of X [N, C, H, W] into an
// output_height x output_width grid by bilinear sampling (ONNX RoiAlign-22).
// rois [R, 4] holds (x1, y1, x2, y2) scaled by spatial_scale, batch_indices
// [R] the image of each; each bin averages (mode avg) or takes the maximum
// (mode max) of sampling_ratio^2 samples (adaptive ceil(roi/bins) when 0).
// coordinate_transformation_mode half_pixel shifts coordinates by -0.5;
// output_half_pixel (RoiAlign-10 behaviour) does not and forces regions at
// least 1x1. As in ONNX Runtime and the ONNX reference, max mode takes the
// maximum of the weighted corner values of each sample.
var RoiAlign = &Def{Name: "RoiAlign", Infer: nnRoiAlignInfer, Kernel: nnRoiAlignKernel}

func init() {
	Register(GridSample)
	Register(AffineGrid)
	Register(RoiAlign)
}

func nnGridSampleInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs inputs X and grid")
	}
	x, g := ic.In[0], ic.In[1]
	if x.Unranked || g.Unranked || len(x.Shape) < 2 || len(g.Shape) < 2 {
		return []graph.Type{graph.UnrankedType(x.DType)}, nil
	}
	out := append([]int{x.Shape[0], x.Shape[1]}, g.Shape[1:len(g.Shape)-1]...)
	return []graph.Type{graph.TensorType(x.DType, out...)}, nil
}

func nnReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	if x < lo {
		dx := lo - x
		k := int(dx / rng)
		r := dx - float64(k)*rng
		if k%2 == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		k := int(dx / rng)
		r := dx - float64(k)*rng
		if k%2 == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

func nnGridSampleKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs X and grid")
	}
	x, grid := in[0], in[1]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs, gs := x.Shape(), grid.Shape()
	r := len(xs) - 2
	if r < 1 || len(gs) != len(xs) || gs[0] != xs[0] || gs[len(gs)-1] != r {
		return nil, Errorf(n, "X %v must be [N, C, D...] and grid %v [N, O..., %d]", xs, gs, r)
	}
	mode := n.Attrs.String("mode", "linear")
	switch mode {
	case "bilinear":
		mode = "linear"
	case "bicubic":
		mode = "cubic"
	case "linear", "nearest", "cubic":
	default:
		return nil, Errorf(n, "unknown mode %q", mode)
	}
	pm := n.Attrs.String("padding_mode", "zeros")
	if pm != "zeros" && pm != "border" && pm != "reflection" {
		return nil, Errorf(n, "unknown padding_mode %q", pm)
	}
	ac := n.Attrs.Int("align_corners", 0) != 0
	N, C := xs[0], xs[1]
	dims := []int(xs[2:])
	osh := []int(gs[1 : len(gs)-1])
	osz, isz := nnProd(osh), nnProd(dims)
	ist := tensor.Shape(dims).Strides()
	xv, gv := x.Float64s(), grid.Float64s()
	res := make([]float64, N*C*osz)
	taps := make([][]nnTap, r)
	valid := make([][]bool, r)
	cidx, clen := make([]int, r), make([]int, r)
	for nb := 0; nb < N; nb++ {
		for o := 0; o < osz; o++ {
			for d := 0; d < r; d++ {
				nv := gv[(nb*osz+o)*r+(r-1-d)]
				L := float64(dims[d])
				var c, lo, hi float64
				if ac {
					c = (nv + 1) / 2 * (L - 1)
					lo, hi = 0, L-1
				} else {
					c = ((nv+1)*L - 1) / 2
					lo, hi = -0.5, L-0.5
				}
				if mode == "nearest" {
					c = math.RoundToEven(c)
				}
				if c < lo || c > hi {
					if pm == "border" {
						c = math.Max(0, math.Min(L-1, c))
					} else if pm == "reflection" {
						c = nnReflect(c, lo, hi)
					}
				}
				var idx []int
				var w []float64
				switch mode {
				case "nearest":
					idx, w = []int{int(c)}, []float64{1}
				case "linear":
					f := math.Floor(c)
					idx, w = []int{int(f), int(f) + 1}, []float64{1 - (c - f), c - f}
				case "cubic":
					f := math.Floor(c)
					idx = []int{int(f) - 1, int(f), int(f) + 1, int(f) + 2}
					w = nnCubicCoeffs(c-f, -0.75)
				}
				taps[d] = taps[d][:0]
				valid[d] = valid[d][:0]
				for j, i := range idx {
					ok := true
					switch pm {
					case "zeros":
						ok = i >= 0 && i < dims[d]
					case "border":
						i = min(max(i, 0), dims[d]-1)
					case "reflection":
						i = int(nnReflect(float64(i), lo, hi))
						i = min(max(i, 0), dims[d]-1)
					}
					taps[d] = append(taps[d], nnTap{i, w[j]})
					valid[d] = append(valid[d], ok)
				}
				clen[d] = len(taps[d])
			}
			for c := 0; c < C; c++ {
				base := (nb*C + c) * isz
				for d := range cidx {
					cidx[d] = 0
				}
				s := 0.0
				for {
					wt, off, ok := 1.0, 0, true
					for d := 0; d < r; d++ {
						t := taps[d][cidx[d]]
						ok = ok && valid[d][cidx[d]]
						wt *= t.w
						off += t.i * ist[d]
					}
					if ok {
						s += wt * xv[base+off]
					}
					if !nnNext(cidx, clen) {
						break
					}
				}
				res[(nb*C+c)*osz+o] = s
			}
		}
	}
	out := append([]int{N, C}, osh...)
	return []*tensor.Tensor{nnOut(x.DType(), out, res)}, nil
}

func nnAffineGridInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs inputs theta and size")
	}
	t := ic.In[0]
	if sz := ic.Const(1); sz != nil {
		s := sz.Int64s()
		out := []int{int(s[0])}
		for _, v := range s[2:] {
			out = append(out, int(v))
		}
		return []graph.Type{graph.TensorType(t.DType, append(out, len(s)-2)...)}, nil
	}
	return []graph.Type{graph.UnrankedType(t.DType)}, nil
}

func nnAffineGridKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs theta and size")
	}
	th := in[0]
	if err := nnCheckFloat(n, th, "theta"); err != nil {
		return nil, err
	}
	sz := in[1].Int64s()
	r := len(sz) - 2
	ts := th.Shape()
	if (r != 2 && r != 3) || len(ts) != 3 || ts[0] != int(sz[0]) || ts[1] != r || ts[2] != r+1 {
		return nil, Errorf(n, "theta %v and size %v must be [N, 2, 3] with [N, C, H, W] or [N, 3, 4] with [N, C, D, H, W]", ts, sz)
	}
	ac := n.Attrs.Int("align_corners", 0) != 0
	N := int(sz[0])
	sp := make([]int, r)
	for i := range sp {
		if sz[2+i] < 0 {
			return nil, Errorf(n, "negative size %v", sz)
		}
		sp[i] = int(sz[2+i])
	}
	base := func(i, L int) float64 {
		if ac {
			if L == 1 {
				return -1
			}
			return -1 + 2*float64(i)/float64(L-1)
		}
		return (2*float64(i)+1)/float64(L) - 1
	}
	tv := th.Float64s()
	osz := nnProd(sp)
	res := make([]float64, N*osz*r)
	idx := make([]int, r)
	p := make([]float64, r+1)
	for nb := 0; nb < N; nb++ {
		for i := range idx {
			idx[i] = 0
		}
		for o := 0; o < osz; o++ {
			// p = (x, y[, z], 1) with x along the innermost axis.
			for d := 0; d < r; d++ {
				p[d] = base(idx[r-1-d], sp[r-1-d])
			}
			p[r] = 1
			for row := 0; row < r; row++ {
				s := 0.0
				for j := 0; j <= r; j++ {
					s += tv[(nb*r+row)*(r+1)+j] * p[j]
				}
				res[(nb*osz+o)*r+row] = s
			}
			nnNext(idx, sp)
		}
	}
	out := append(append([]int{N}, sp...), r)
	return []*tensor.Tensor{nnOut(th.DType(), out, res)}, nil
}

func nnRoiAlignInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 3 {
		return nil, ic.Errorf("needs inputs X, rois, batch_indices")
	}
	x, rois := ic.In[0], ic.In[1]
	R, C := -1, -1
	if !rois.Unranked && len(rois.Shape) == 2 {
		R = rois.Shape[0]
	}
	if !x.Unranked && len(x.Shape) == 4 {
		C = x.Shape[1]
	}
	oh, ow := int(ic.Node.Attrs.Int("output_height", 1)), int(ic.Node.Attrs.Int("output_width", 1))
	return []graph.Type{graph.TensorType(x.DType, R, C, oh, ow)}, nil
}

func nnRoiAlignKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs inputs X, rois, batch_indices")
	}
	x, rois, bi := in[0], in[1], in[2]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) != 4 || rois.Rank() != 2 || rois.Shape()[1] != 4 || bi.Len() != rois.Shape()[0] {
		return nil, Errorf(n, "X %v must be [N, C, H, W], rois %v [R, 4], batch_indices %v [R]", xs, rois.Shape(), bi.Shape())
	}
	N, C, H, W := xs[0], xs[1], xs[2], xs[3]
	R := rois.Shape()[0]
	oh, ow := int(n.Attrs.Int("output_height", 1)), int(n.Attrs.Int("output_width", 1))
	sr := int(n.Attrs.Int("sampling_ratio", 0))
	scale := float64(n.Attrs.Float("spatial_scale", 1))
	maxMode := n.Attrs.String("mode", "avg") == "max"
	half := n.Attrs.String("coordinate_transformation_mode", "half_pixel") == "half_pixel"
	if oh < 1 || ow < 1 || sr < 0 {
		return nil, Errorf(n, "output_height %d, output_width %d must be positive and sampling_ratio %d non-negative", oh, ow, sr)
	}
	off := 0.0
	if half {
		off = 0.5
	}
	xv, rv, bv := x.Float64s(), rois.Float64s(), bi.Int64s()
	res := make([]float64, R*C*oh*ow)
	for ri := 0; ri < R; ri++ {
		b := int(bv[ri])
		if b < 0 || b >= N {
			return nil, Errorf(n, "batch index %d out of range [0, %d)", b, N)
		}
		x1, y1 := rv[ri*4]*scale-off, rv[ri*4+1]*scale-off
		x2, y2 := rv[ri*4+2]*scale-off, rv[ri*4+3]*scale-off
		rw, rh := x2-x1, y2-y1
		if !half {
			rw, rh = math.Max(rw, 1), math.Max(rh, 1)
		}
		bh, bw := rh/float64(oh), rw/float64(ow)
		gh, gw := sr, sr
		if sr == 0 {
			gh, gw = int(math.Ceil(rh/float64(oh))), int(math.Ceil(rw/float64(ow)))
		}
		cnt := float64(max(gh*gw, 1))
		for c := 0; c < C; c++ {
			img := xv[(b*C+c)*H*W : (b*C+c+1)*H*W]
			for ph := 0; ph < oh; ph++ {
				for pw := 0; pw < ow; pw++ {
					acc, first := 0.0, true
					for iy := 0; iy < gh; iy++ {
						y := y1 + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
						for ix := 0; ix < gw; ix++ {
							xx := x1 + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
							var v float64
							if !(y < -1 || y > float64(H) || xx < -1 || xx > float64(W)) {
								yy, xq := math.Max(y, 0), math.Max(xx, 0)
								yl, xl := int(yy), int(xq)
								var yh, xh int
								if yl >= H-1 {
									yl, yh, yy = H-1, H-1, float64(H-1)
								} else {
									yh = yl + 1
								}
								if xl >= W-1 {
									xl, xh, xq = W-1, W-1, float64(W-1)
								} else {
									xh = xl + 1
								}
								ly, lx := yy-float64(yl), xq-float64(xl)
								hy, hx := 1-ly, 1-lx
								a1, a2 := hy*hx*img[yl*W+xl], hy*lx*img[yl*W+xh]
								a3, a4 := ly*hx*img[yh*W+xl], ly*lx*img[yh*W+xh]
								if maxMode {
									v = math.Max(math.Max(a1, a2), math.Max(a3, a4))
								} else {
									v = a1 + a2 + a3 + a4
								}
							}
							if maxMode {
								if first || v > acc {
									acc = v
								}
								first = false
							} else {
								acc += v
							}
						}
					}
					if !maxMode {
						acc /= cnt
					}
					res[((ri*C+c)*oh+ph)*ow+pw] = acc
				}
			}
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), tensor.Shape{R, C, oh, ow}, res)}, nil
}
