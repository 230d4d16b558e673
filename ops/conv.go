package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Conv is an N-d grouped cross-correlation (ONNX Conv-22):
//
//	Y[n, m, o...] = B[m] + sum_{c, k...} X[n, g*C/G + c, o*s + k*d - pad_begin] * W[m, c, k...]
//
// with X [N, C, D1..Dr], W [M, C/group, k1..kr], optional B [M] and g the
// group of output channel m. Attributes: strides, dilations, pads
// ([begin..., end...]), auto_pad (NOTSET, SAME_UPPER, SAME_LOWER, VALID),
// group, and kernel_shape (checked against W when given; inferred from W
// otherwise). Positions outside the input read zero.
var Conv = &Def{Name: "Conv", Infer: nnConvInfer, Kernel: nnConvKernel}

// ConvTranspose is the gradient of Conv with respect to its input (ONNX
// ConvTranspose-22): every input element scatters X[n, c, i...] * W[c, m, k...]
// to output position i*s + k*d - pad_begin. W is [C, M/group, k1..kr]. The
// output size is s*(in-1) + output_padding + (k-1)*d + 1 - pad_begin -
// pad_end, unless output_shape is given (then pads are derived from it, the
// odd unit going to the end for SAME_UPPER and to the start otherwise) or
// auto_pad is SAME_* (output in*s).
var ConvTranspose = &Def{Name: "ConvTranspose", Infer: nnConvTInfer, Kernel: nnConvTKernel}

func init() {
	Register(Conv)
	Register(ConvTranspose)
}

func nnConvInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs inputs X and W")
	}
	x, w := ic.In[0], ic.In[1]
	if x.Unranked {
		return []graph.Type{graph.UnrankedType(x.DType)}, nil
	}
	out := nnFilled(len(x.Shape), -1)
	if len(out) > 0 {
		out[0] = x.Shape[0]
	}
	if !w.Unranked && len(w.Shape) > 0 && len(out) > 1 {
		out[1] = w.Shape[0]
	}
	if x.Static() && w.Static() && len(x.Shape) == len(w.Shape) && len(x.Shape) > 2 {
		k := nnInts(ic.Node, "kernel_shape", w.Shape[2:])
		if g, err := nnWindow(ic.Node, x.Shape[2:], k, false); err == nil {
			copy(out[2:], g.out)
		}
	}
	return []graph.Type{graph.TensorType(x.DType, out...)}, nil
}

func nnConvKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 {
		return nil, Errorf(n, "needs inputs X and W")
	}
	x, w := in[0], in[1]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	if err := nnCheckFloat(n, w, "W"); err != nil {
		return nil, err
	}
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	return nnConvCore(n, x, w, b, nil, nil)
}

// nnConvCore runs Conv; when offs is non-nil it runs DeformConv with
// per-position sampling offsets (and optional mask).
func nnConvCore(n *graph.Node, x, w, b, offs, mask *tensor.Tensor) ([]*tensor.Tensor, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, Errorf(n, "X %v must be [N, C, D...] and W %v [M, C/group, k...] of the same rank", xs, ws)
	}
	r := len(xs) - 2
	group := int(n.Attrs.Int("group", 1))
	N, C, M := xs[0], xs[1], ws[0]
	if group < 1 || C%group != 0 || M%group != 0 || ws[1]*group != C {
		return nil, Errorf(n, "group %d does not fit X channels %d, W %v", group, C, ws)
	}
	k := nnInts(n, "kernel_shape", []int(ws[2:]))
	if !tensor.Shape(k).Equal(ws[2:]) {
		return nil, Errorf(n, "kernel_shape %v differs from W's spatial shape %v", k, ws[2:])
	}
	g, err := nnWindow(n, []int(xs[2:]), k, false)
	if err != nil {
		return nil, err
	}
	var bv []float64
	if b != nil {
		if b.Len() != M {
			return nil, Errorf(n, "bias has %d elements, want %d", b.Len(), M)
		}
		bv = b.Float64s()
	}
	xv, wv := x.Float64s(), w.Float64s()
	outShape := append(tensor.Shape{N, M}, g.out...)
	osz := nnProd(g.out)
	isz := nnProd(xs[2:])
	ksz := nnProd(k)
	cpg, mpg := C/group, M/group
	res := make([]float64, outShape.Size())
	xst := tensor.Shape(xs[2:]).Strides()
	// Deformable-conv extras.
	var ov, mv []float64
	offGroups := 1
	if offs != nil {
		offGroups = int(n.Attrs.Int("offset_group", 1))
		want := append(tensor.Shape{N, offGroups * ksz * r}, g.out...)
		if offGroups < 1 || C%offGroups != 0 || !offs.Shape().Equal(want) {
			return nil, Errorf(n, "offset shape %v, want %v", offs.Shape(), want)
		}
		ov = offs.Float64s()
		if mask != nil {
			wantM := append(tensor.Shape{N, offGroups * ksz}, g.out...)
			if !mask.Shape().Equal(wantM) {
				return nil, Errorf(n, "mask shape %v, want %v", mask.Shape(), wantM)
			}
			mv = mask.Float64s()
		}
	}
	oidx := make([]int, r)
	kidx := make([]int, r)
	pos := make([]float64, r)
	for nb := 0; nb < N; nb++ {
		for m := 0; m < M; m++ {
			gr := m / mpg
			for i := range oidx {
				oidx[i] = 0
			}
			for o := 0; o < osz; o++ {
				s := 0.0
				if bv != nil {
					s = bv[m]
				}
				for c := 0; c < cpg; c++ {
					ci := gr*cpg + c
					xb := (nb*C + ci) * isz
					wb := (m*cpg + c) * ksz
					for i := range kidx {
						kidx[i] = 0
					}
					for kk := 0; kk < ksz; kk++ {
						wt := wv[wb+kk]
						if offs == nil {
							off, ok := 0, true
							for d := 0; d < r; d++ {
								p := oidx[d]*g.s[d] + kidx[d]*g.d[d] - g.pb[d]
								if p < 0 || p >= xs[2+d] {
									ok = false
									break
								}
								off += p * xst[d]
							}
							if ok {
								s += xv[xb+off] * wt
							}
						} else {
							og := ci / (C / offGroups)
							for d := 0; d < r; d++ {
								oc := (nb*offGroups*ksz*r + (og*ksz+kk)*r + d) * osz
								pos[d] = float64(oidx[d]*g.s[d]+kidx[d]*g.d[d]-g.pb[d]) + ov[oc+o]
							}
							v := nnLinearSample(xv[xb:xb+isz], xs[2:], pos)
							if mv != nil {
								v *= mv[(nb*offGroups*ksz+og*ksz+kk)*osz+o]
							}
							s += v * wt
						}
						nnNext(kidx, k)
					}
				}
				res[(nb*M+m)*osz+o] = s
				nnNext(oidx, g.out)
			}
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), outShape, res)}, nil
}

// nnLinearSample reads an N-d grid by multilinear interpolation at a
// fractional position; points outside read zero.
func nnLinearSample(v []float64, shape []int, pos []float64) float64 {
	r := len(shape)
	st := tensor.Shape(shape).Strides()
	total := 0.0
	for corner := 0; corner < 1<<r; corner++ {
		wgt, off, ok := 1.0, 0, true
		for d := 0; d < r; d++ {
			f := pos[d]
			lo := int(floorF(f))
			fr := f - float64(lo)
			i := lo
			if corner>>d&1 == 1 {
				i = lo + 1
				wgt *= fr
			} else {
				wgt *= 1 - fr
			}
			if i < 0 || i >= shape[d] {
				ok = false
				break
			}
			off += i * st[d]
		}
		if ok && wgt != 0 {
			total += wgt * v[off]
		}
	}
	return total
}

func floorF(x float64) float64 {
	i := float64(int64(x))
	if i > x {
		i--
	}
	return i
}

// nnConvTGeom derives output sizes and begin pads of ConvTranspose.
func nnConvTGeom(n *graph.Node, in, k []int) (out, pb []int, s, d []int, err error) {
	r := len(in)
	s = nnInts(n, "strides", nnFilled(r, 1))
	d = nnInts(n, "dilations", nnFilled(r, 1))
	pads := nnInts(n, "pads", nnFilled(2*r, 0))
	op := nnInts(n, "output_padding", nnFilled(r, 0))
	if len(s) != r || len(d) != r || len(pads) != 2*r || len(op) != r || len(k) != r {
		return nil, nil, nil, nil, Errorf(n, "strides %v, dilations %v, pads %v, output_padding %v do not match %d spatial axes", s, d, pads, op, r)
	}
	ap := n.Attrs.String("auto_pad", "NOTSET")
	os := nnInts(n, "output_shape", nil)
	if len(os) > r {
		os = os[len(os)-r:]
	}
	out = make([]int, r)
	pb = make([]int, r)
	for i := 0; i < r; i++ {
		full := s[i]*(in[i]-1) + op[i] + (k[i]-1)*d[i] + 1
		switch {
		case os != nil || ap == "SAME_UPPER" || ap == "SAME_LOWER":
			o := in[i] * s[i]
			if os != nil {
				o = os[i]
			}
			tot := full - o
			half := nnFloorDiv(tot, 2)
			if ap == "SAME_UPPER" {
				pb[i] = half
			} else {
				pb[i] = tot - half
			}
			out[i] = o
		case ap == "VALID":
			out[i] = full
		default:
			pb[i] = pads[i]
			out[i] = full - pads[i] - pads[r+i]
		}
		if out[i] < 0 {
			return nil, nil, nil, nil, Errorf(n, "negative output size on spatial axis %d", i)
		}
	}
	return out, pb, s, d, nil
}

func nnConvTInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs inputs X and W")
	}
	x, w := ic.In[0], ic.In[1]
	if x.Unranked {
		return []graph.Type{graph.UnrankedType(x.DType)}, nil
	}
	out := nnFilled(len(x.Shape), -1)
	if len(out) > 0 {
		out[0] = x.Shape[0]
	}
	group := int(ic.Node.Attrs.Int("group", 1))
	if !w.Unranked && len(w.Shape) > 1 && len(out) > 1 && w.Shape[1] >= 0 {
		out[1] = w.Shape[1] * group
	}
	if x.Static() && w.Static() && len(x.Shape) == len(w.Shape) && len(x.Shape) > 2 {
		k := nnInts(ic.Node, "kernel_shape", w.Shape[2:])
		if o, _, _, _, err := nnConvTGeom(ic.Node, x.Shape[2:], k); err == nil {
			copy(out[2:], o)
		}
	}
	return []graph.Type{graph.TensorType(x.DType, out...)}, nil
}

func nnConvTKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 {
		return nil, Errorf(n, "needs inputs X and W")
	}
	x, w := in[0], in[1]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	if err := nnCheckFloat(n, w, "W"); err != nil {
		return nil, err
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, Errorf(n, "X %v must be [N, C, D...] and W %v [C, M/group, k...] of the same rank", xs, ws)
	}
	r := len(xs) - 2
	group := int(n.Attrs.Int("group", 1))
	N, C := xs[0], xs[1]
	if group < 1 || C%group != 0 || ws[0] != C {
		return nil, Errorf(n, "group %d does not fit X channels %d, W %v", group, C, ws)
	}
	mpg := ws[1]
	M := mpg * group
	k := nnInts(n, "kernel_shape", []int(ws[2:]))
	if !tensor.Shape(k).Equal(ws[2:]) {
		return nil, Errorf(n, "kernel_shape %v differs from W's spatial shape %v", k, ws[2:])
	}
	out, pb, s, d, err := nnConvTGeom(n, []int(xs[2:]), k)
	if err != nil {
		return nil, err
	}
	outShape := append(tensor.Shape{N, M}, out...)
	res := make([]float64, outShape.Size())
	osz, isz, ksz := nnProd(out), nnProd(xs[2:]), nnProd(k)
	ost := tensor.Shape(out).Strides()
	xv, wv := x.Float64s(), w.Float64s()
	cpg := C / group
	iidx, kidx := make([]int, r), make([]int, r)
	for nb := 0; nb < N; nb++ {
		for c := 0; c < C; c++ {
			gr := c / cpg
			for i := range iidx {
				iidx[i] = 0
			}
			for ii := 0; ii < isz; ii++ {
				xval := xv[(nb*C+c)*isz+ii]
				for i := range kidx {
					kidx[i] = 0
				}
				for kk := 0; kk < ksz; kk++ {
					off, ok := 0, true
					for dd := 0; dd < r; dd++ {
						p := iidx[dd]*s[dd] + kidx[dd]*d[dd] - pb[dd]
						if p < 0 || p >= out[dd] {
							ok = false
							break
						}
						off += p * ost[dd]
					}
					if ok {
						for mm := 0; mm < mpg; mm++ {
							m := gr*mpg + mm
							res[(nb*M+m)*osz+off] += xval * wv[(c*mpg+mm)*ksz+kk]
						}
					}
					nnNext(kidx, k)
				}
				nnNext(iidx, xs[2:])
			}
		}
	}
	if len(in) > 2 && in[2] != nil {
		if in[2].Len() != M {
			return nil, Errorf(n, "bias has %d elements, want %d", in[2].Len(), M)
		}
		bv := in[2].Float64s()
		for nb := 0; nb < N; nb++ {
			for m := 0; m < M; m++ {
				for o := 0; o < osz; o++ {
					res[(nb*M+m)*osz+o] += bv[m]
				}
			}
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), outShape, res)}, nil
}

// nnFloorDiv divides rounding toward negative infinity.
func nnFloorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// DeformConv is a deformable convolution (ONNX DeformConv-22): Conv whose
// kernel taps are displaced per output position by offset
// [N, offset_group*prod(k)*r, O...] (for each offset group and kernel tap,
// one displacement per spatial axis) and optionally scaled by mask
// [N, offset_group*prod(k), O...]. Displaced taps read X by multilinear
// interpolation, corners outside X reading zero. Inputs: X, W, offset,
// optional B, optional mask.
var DeformConv = &Def{Name: "DeformConv", Infer: nnConvInfer, Kernel: nnDeformConvKernel}

// Col2Im rearranges column blocks back into an image, summing overlaps
// (ONNX Col2Im-18): input [N, C*prod(block_shape), L] with image_shape and
// block_shape inputs gives [N, C, image_shape...]; strides, dilations and
// pads as in Conv, L the number of block positions.
var Col2Im = &Def{Name: "Col2Im", Infer: nnCol2ImInfer, Kernel: nnCol2ImKernel}

func init() {
	Register(DeformConv)
	Register(Col2Im)
}

func nnDeformConvKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[2] == nil {
		return nil, Errorf(n, "needs inputs X, W and offset")
	}
	if err := nnCheckFloat(n, in[0], "X"); err != nil {
		return nil, err
	}
	if err := nnCheckFloat(n, in[1], "W"); err != nil {
		return nil, err
	}
	var b, mask *tensor.Tensor
	if len(in) > 3 {
		b = in[3]
	}
	if len(in) > 4 {
		mask = in[4]
	}
	return nnConvCore(n, in[0], in[1], b, in[2], mask)
}

func nnCol2ImInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 3 {
		return nil, ic.Errorf("needs inputs input, image_shape, block_shape")
	}
	x := ic.In[0]
	if img := ic.Const(1); img != nil && !x.Unranked && len(x.Shape) == 3 {
		out := []int{x.Shape[0], -1}
		if bs := ic.Const(2); bs != nil && x.Shape[1] >= 0 {
			out[1] = x.Shape[1] / max(nnProd(nnI64(bs.Int64s())), 1)
		}
		out = append(out, nnI64(img.Int64s())...)
		return []graph.Type{graph.TensorType(x.DType, out...)}, nil
	}
	return []graph.Type{graph.UnrankedType(x.DType)}, nil
}

func nnI64(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func nnCol2ImKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs inputs input, image_shape, block_shape")
	}
	x := in[0]
	img, blk := nnI64(in[1].Int64s()), nnI64(in[2].Int64s())
	xs := x.Shape()
	r := len(img)
	ksz := nnProd(blk)
	if len(blk) != r || len(xs) != 3 || ksz == 0 || xs[1]%ksz != 0 {
		return nil, Errorf(n, "input %v must be [N, C*prod(block_shape %v), L] with image_shape %v", xs, blk, img)
	}
	g, err := nnWindow(n, img, blk, false)
	if err != nil {
		return nil, err
	}
	if nnProd(g.out) != xs[2] {
		return nil, Errorf(n, "input has %d blocks but image_shape %v and block_shape %v give %d", xs[2], img, blk, nnProd(g.out))
	}
	N, C, L := xs[0], xs[1]/ksz, xs[2]
	isz := nnProd(img)
	ist := tensor.Shape(img).Strides()
	xv := x.Float64s()
	res := make([]float64, N*C*isz)
	lidx, kidx := make([]int, r), make([]int, r)
	for nb := 0; nb < N; nb++ {
		for c := 0; c < C; c++ {
			for i := range kidx {
				kidx[i] = 0
			}
			for kk := 0; kk < ksz; kk++ {
				for i := range lidx {
					lidx[i] = 0
				}
				for l := 0; l < L; l++ {
					off, ok := 0, true
					for d := 0; d < r; d++ {
						p := lidx[d]*g.s[d] + kidx[d]*g.d[d] - g.pb[d]
						if p < 0 || p >= img[d] {
							ok = false
							break
						}
						off += p * ist[d]
					}
					if ok {
						res[(nb*C+c)*isz+off] += xv[((nb*C+c)*ksz+kk)*L+l]
					}
					nnNext(lidx, g.out)
				}
				nnNext(kidx, blk)
			}
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), append(tensor.Shape{N, C}, img...), res)}, nil
}
