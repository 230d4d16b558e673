package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Resize resamples X (ONNX Resize-19). Inputs: X, roi (optional, used by
// tf_crop_and_resize: [starts..., ends...] over the resized axes), scales
// (optional) and sizes (optional); exactly one of scales and sizes is given.
// Output sizes are floor(in*scale), or sizes (with keep_aspect_ratio_policy
// not_larger/not_smaller: one common scale, sizes round(in*scale)).
//
// Each output coordinate x maps to an input coordinate by
// coordinate_transformation_mode (half_pixel, half_pixel_symmetric,
// pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize), and
// the value is a weighted sum of the nearest input points along each resized
// axis (mode nearest with nearest_mode round_prefer_floor/round_prefer_ceil/
// floor/ceil; linear; cubic with cubic_coeff_a and exclude_outside), with
// reads outside the input clamped to the edge. antialias widens linear and
// cubic filters by 1/scale when downsampling. tf_crop_and_resize writes
// extrapolation_value where the mapped coordinate leaves the input. The
// weights are separable, so N-d interpolation is the product of 1-D ones, as
// in the ONNX reference implementation.
var Resize = &Def{Name: "Resize", Infer: nnResizeInfer, Kernel: nnResizeKernel}

func init() { Register(Resize) }

// nnResizePlan computes output shape and per-axis scale factors.
func nnResizePlan(n *graph.Node, xs []int, scalesT, sizesT *tensor.Tensor) (out []int, scale []float64, axes []int, err error) {
	r := len(xs)
	axes = nnInts(n, "axes", nil)
	if axes == nil {
		axes = make([]int, r)
		for i := range axes {
			axes[i] = i
		}
	}
	for i, a := range axes {
		na, e := tensor.NormAxis(a, r)
		if e != nil {
			return nil, nil, nil, Errorf(n, "axes %v out of range for rank %d", axes, r)
		}
		axes[i] = na
	}
	out = append([]int{}, xs...)
	scale = make([]float64, r)
	for i := range scale {
		scale[i] = 1
	}
	switch {
	case scalesT != nil && scalesT.Len() > 0:
		sv := scalesT.Float64s()
		if len(sv) != len(axes) {
			return nil, nil, nil, Errorf(n, "scales has %d entries, want %d", len(sv), len(axes))
		}
		for i, a := range axes {
			if sv[i] <= 0 {
				return nil, nil, nil, Errorf(n, "scales must be positive, got %v", sv)
			}
			scale[a] = sv[i]
			out[a] = int(math.Floor(float64(xs[a]) * sv[i]))
		}
	case sizesT != nil && sizesT.Len() > 0:
		sz := sizesT.Int64s()
		if len(sz) != len(axes) {
			return nil, nil, nil, Errorf(n, "sizes has %d entries, want %d", len(sz), len(axes))
		}
		pol := n.Attrs.String("keep_aspect_ratio_policy", "stretch")
		if pol == "stretch" {
			for i, a := range axes {
				if sz[i] < 0 {
					return nil, nil, nil, Errorf(n, "negative sizes %v", sz)
				}
				out[a] = int(sz[i])
				scale[a] = float64(sz[i]) / float64(xs[a])
			}
			break
		}
		var s float64
		for i, a := range axes {
			q := float64(sz[i]) / float64(xs[a])
			switch {
			case i == 0:
				s = q
			case pol == "not_larger":
				s = math.Min(s, q)
			case pol == "not_smaller":
				s = math.Max(s, q)
			default:
				return nil, nil, nil, Errorf(n, "keep_aspect_ratio_policy %q is not stretch, not_larger or not_smaller", pol)
			}
		}
		for _, a := range axes {
			scale[a] = s
			out[a] = int(math.Floor(s*float64(xs[a]) + 0.5))
		}
	default:
		return nil, nil, nil, Errorf(n, "needs scales or sizes")
	}
	return out, scale, axes, nil
}

func nnResizeInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs input X")
	}
	x := ic.In[0]
	if x.Unranked {
		return []graph.Type{x}, nil
	}
	var sc, sz *tensor.Tensor
	if ic.Has(2) {
		sc = ic.Const(2)
	}
	if ic.Has(3) {
		sz = ic.Const(3)
	}
	if x.Static() && (sc != nil || sz != nil) {
		if out, _, _, err := nnResizePlan(ic.Node, x.Shape, sc, sz); err == nil {
			return []graph.Type{graph.TensorType(x.DType, out...)}, nil
		}
	}
	return []graph.Type{graph.TensorType(x.DType, nnFilled(len(x.Shape), -1)...)}, nil
}

// nnTap is one input index and its weight.
type nnTap struct {
	i int
	w float64
}

func nnCubicCoeffs(r, a float64) []float64 {
	return []float64{
		((a*(r+1)-5*a)*(r+1)+8*a)*(r+1) - 4*a,
		((a+2)*r-(a+3))*r*r + 1,
		((a+2)*(1-r)-(a+3))*(1-r)*(1-r) + 1,
		((a*((1-r)+1)-5*a)*((1-r)+1)+8*a)*((1-r)+1) - 4*a,
	}
}

func nnCubicAA(r, s, a float64) []float64 {
	s = math.Min(s, 1)
	f := func(x float64) float64 {
		x = math.Abs(x)
		x2, x3 := x*x, x*x*x
		if x <= 1 {
			return (a+2)*x3 - (a+3)*x2 + 1
		}
		if x < 2 {
			return a*x3 - 5*a*x2 + 8*a*x - 4*a
		}
		return 0
	}
	start := int(math.Floor(-2/s) + 1)
	end := 2 - start
	var c []float64
	sum := 0.0
	for i := start; i < end; i++ {
		v := f(s * (float64(i) - r))
		c = append(c, v)
		sum += v
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

func nnLinearAA(r, s float64) []float64 {
	s = math.Min(s, 1)
	start := int(math.Floor(-1/s) + 1)
	fp := 2 - 2*start
	var c []float64
	sum := 0.0
	for i := 0; i < fp; i++ {
		v := 1 - math.Abs((float64(start+i)-r)*s)
		v = math.Max(0, math.Min(1, v))
		c = append(c, v)
		sum += v
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

// nnResizeAxis returns the taps of each output index along one axis, or nil
// for outputs that take the extrapolation value.
func nnResizeAxis(n *graph.Node, in, out int, scale float64, roiS, roiE float64) ([][]nnTap, error) {
	mode := n.Attrs.String("mode", "nearest")
	ctm := n.Attrs.String("coordinate_transformation_mode", "half_pixel")
	nm := n.Attrs.String("nearest_mode", "round_prefer_floor")
	a := float64(n.Attrs.Float("cubic_coeff_a", -0.75))
	excl := n.Attrs.Int("exclude_outside", 0) != 0
	aa := n.Attrs.Int("antialias", 0) != 0
	fin, fout := float64(in), scale*float64(in)
	taps := make([][]nnTap, out)
	for o := 0; o < out; o++ {
		x := float64(o)
		var xo float64
		switch ctm {
		case "half_pixel":
			xo = (x+0.5)/scale - 0.5
		case "half_pixel_symmetric":
			adj := float64(out) / fout
			xo = fin/2*(1-adj) + (x+0.5)/scale - 0.5
		case "pytorch_half_pixel":
			if fout == 1 {
				xo = -0.5
			} else {
				xo = (x+0.5)/scale - 0.5
			}
		case "align_corners":
			if fout == 1 {
				xo = 0
			} else {
				xo = x * (fin - 1) / (fout - 1)
			}
		case "asymmetric":
			xo = x / scale
		case "tf_crop_and_resize":
			if fout == 1 {
				xo = (roiE - roiS) * (fin - 1) / 2
			} else {
				xo = x * (roiE - roiS) * (fin - 1) / (fout - 1)
			}
			xo += roiS * (fin - 1)
			if xo < 0 || xo > fin-1 {
				continue
			}
		default:
			return nil, Errorf(n, "unknown coordinate_transformation_mode %q", ctm)
		}
		base := math.Floor(xo)
		r := xo - base
		if r == 0 {
			r, base = 1, base-1
		}
		var c []float64
		switch mode {
		case "nearest":
			var lo bool
			switch {
			case r == 1:
				lo = false
			case nm == "round_prefer_floor":
				lo = r <= 0.5
			case nm == "round_prefer_ceil":
				lo = r < 0.5
			case nm == "floor":
				lo = true
			case nm == "ceil":
				lo = false
			default:
				return nil, Errorf(n, "unknown nearest_mode %q", nm)
			}
			if lo {
				c = []float64{1, 0}
			} else {
				c = []float64{0, 1}
			}
		case "linear":
			if aa {
				c = nnLinearAA(r, scale)
			} else {
				c = []float64{1 - r, r}
			}
		case "cubic":
			if aa {
				c = nnCubicAA(r, scale, a)
			} else {
				c = nnCubicCoeffs(r, a)
			}
		default:
			return nil, Errorf(n, "unknown mode %q", mode)
		}
		first := int(base) - len(c)/2 + 1
		if excl {
			sum := 0.0
			for j := range c {
				if i := first + j; i < 0 || i >= in {
					c[j] = 0
				}
				sum += c[j]
			}
			if sum != 0 {
				for j := range c {
					c[j] /= sum
				}
			}
		}
		ts := make([]nnTap, 0, len(c))
		for j, w := range c {
			if w == 0 {
				continue
			}
			i := min(max(first+j, 0), in-1)
			ts = append(ts, nnTap{i, w})
		}
		if len(ts) == 0 {
			ts = append(ts, nnTap{min(max(first, 0), in-1), 0})
		}
		taps[o] = ts
	}
	return taps, nil
}

// nnResizeTaps resolves a Resize node's geometry for input shape xs: the
// output shape and, per axis and output index, the input taps (nil for
// outputs that take the extrapolation value). in holds the node's inputs
// (X, roi, scales, sizes; entries may be nil or missing). ResizeGrad uses it
// too, so the forward and backward geometry cannot drift apart.
func nnResizeTaps(n *graph.Node, xs []int, in []*tensor.Tensor) (out []int, taps [][][]nnTap, err error) {
	get := func(i int) *tensor.Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	r := len(xs)
	out, scale, axes, err := nnResizePlan(n, xs, get(2), get(3))
	if err != nil {
		return nil, nil, err
	}
	roiS, roiE := make([]float64, r), make([]float64, r)
	for i := range roiE {
		roiE[i] = 1
	}
	if n.Attrs.String("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize" {
		roi := get(1)
		if roi == nil || roi.Len() != 2*len(axes) {
			return nil, nil, Errorf(n, "tf_crop_and_resize needs roi with %d entries", 2*len(axes))
		}
		rv := roi.Float64s()
		for i, a := range axes {
			roiS[a], roiE[a] = rv[i], rv[len(axes)+i]
		}
	}
	taps = make([][][]nnTap, r)
	resized := make([]bool, r)
	for _, a := range axes {
		resized[a] = true
	}
	for d := 0; d < r; d++ {
		if !resized[d] {
			t := make([][]nnTap, xs[d])
			for i := range t {
				t[i] = []nnTap{{i, 1}}
			}
			taps[d] = t
			continue
		}
		if xs[d] == 0 && out[d] > 0 {
			return nil, nil, Errorf(n, "cannot resize an empty axis %d to size %d", d, out[d])
		}
		if taps[d], err = nnResizeAxis(n, xs[d], out[d], scale[d], roiS[d], roiE[d]); err != nil {
			return nil, nil, err
		}
	}
	return out, taps, nil
}

// nnResizeWalk visits the weighted sum behind every output: for output
// position o (flat, row-major) it calls f(o, off, w) once per term, off being
// the flat input offset (xst are the input strides) and w the product of the
// per-axis tap weights; for an output that takes the extrapolation value it
// calls ext(o) instead.
func nnResizeWalk(out []int, taps [][][]nnTap, xst []int, f func(o, off int, w float64), ext func(o int)) {
	r := len(out)
	oidx := make([]int, r)
	cur := make([][]nnTap, r)
	cidx := make([]int, r)
	clen := make([]int, r)
	total := nnProd(out)
	for o := 0; o < total; o++ {
		extrap := false
		for d := 0; d < r; d++ {
			cur[d] = taps[d][oidx[d]]
			if cur[d] == nil {
				extrap = true
			}
			clen[d] = len(cur[d])
			cidx[d] = 0
		}
		if extrap {
			ext(o)
		} else {
			for {
				w, off := 1.0, 0
				for d := 0; d < r; d++ {
					t := cur[d][cidx[d]]
					w *= t.w
					off += t.i * xst[d]
				}
				f(o, off, w)
				if !nnNext(cidx, clen) {
					break
				}
			}
		}
		nnNext(oidx, out)
	}
}

func nnResizeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs input X")
	}
	x := in[0]
	if !x.DType().IsNumeric() {
		return nil, Errorf(n, "unsupported element type %v", x.DType())
	}
	xs := []int(x.Shape())
	out, taps, err := nnResizeTaps(n, xs, in)
	if err != nil {
		return nil, err
	}
	ext := float64(n.Attrs.Float("extrapolation_value", 0))
	xv := x.Float64s()
	res := make([]float64, nnProd(out))
	nnResizeWalk(out, taps, tensor.Shape(xs).Strides(),
		func(o, off int, w float64) { res[o] += w * xv[off] },
		func(o int) { res[o] = ext })
	if x.DType().IsInt() {
		for i, v := range res {
			res[i] = math.Round(v)
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), out, res)}, nil
}
