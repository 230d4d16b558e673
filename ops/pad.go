package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Pad pads (or, with negative pads, crops) its input (ONNX Pad-21). Inputs:
// data, pads (int64 [2*len(axes)]: all begin pads, then all end pads),
// optional constant_value (scalar of data's type, default 0 or ""), optional
// axes (default all, negative counts from the end). Cropping is applied
// first; the padding then reads the cropped data according to mode:
// "constant" fills constant_value, "reflect" mirrors without repeating the
// edge element, "edge" repeats the edge element, "wrap" continues
// periodically.
var Pad = &Def{Name: "Pad", Infer: shpNeed(1, shpInferPad), Kernel: shpPadKernel}

// CenterCropPad crops or zero-pads its input symmetrically to the int64
// target shape given by input 1 (ONNX CenterCropPad-18), on the dimensions
// listed in attribute axes (default all). When cropping, the window starts
// at floor((d-t)/2); when padding, the data starts at floor((t-d)/2).
var CenterCropPad = &Def{Name: "CenterCropPad", Infer: shpNeed(1, shpInferCenterCropPad), Kernel: shpCenterCropPadKernel}

func init() {
	Register(Pad)
	Register(CenterCropPad)
}

// shpPadAll returns the begin and end pads for every axis of a rank-r tensor.
func shpPadAll(n *graph.Node, r int, pads, axes []int) (begin, end []int, err error) {
	if axes == nil {
		axes = shpIdentity(r)
	}
	ax, err := shpAxes(n, axes, r)
	if err != nil {
		return nil, nil, err
	}
	if len(pads) != 2*len(ax) {
		return nil, nil, Errorf(n, "pads has %d entries, want %d (2 per padded axis)", len(pads), 2*len(ax))
	}
	begin, end = make([]int, r), make([]int, r)
	for i, a := range ax {
		begin[a], end[a] = pads[i], pads[i+len(ax)]
	}
	return begin, end, nil
}

func shpInferPad(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	if t.Unranked {
		return []graph.Type{t}, nil
	}
	pc := ic.Const(1)
	var ac *tensor.Tensor
	if ic.Has(3) {
		ac = ic.Const(3)
	}
	if pc == nil || (ic.Has(3) && ac == nil) {
		return []graph.Type{shpInferUnknown(t.DType, len(t.Shape))}, nil
	}
	pads, err := shpInts(ic.Node, pc, "pads")
	if err != nil {
		return nil, err
	}
	axes, err := shpInts(ic.Node, ac, "axes")
	if err != nil {
		return nil, err
	}
	b, e, err := shpPadAll(ic.Node, len(t.Shape), pads, axes)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			out[i] = -1
		} else {
			out[i] = d + b[i] + e[i]
		}
	}
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}

// shpPadMap maps output coordinates of one axis to source coordinates.
func shpPadMap(n *graph.Node, d, pb, pe int, mode string) ([]int, error) {
	lo := max(-pb, 0)
	hi := d - max(-pe, 0)
	if hi < lo {
		return nil, Errorf(n, "pads (%d, %d) crop more than the dimension size %d", pb, pe, d)
	}
	dd := hi - lo
	pb, pe = max(pb, 0), max(pe, 0)
	m := make([]int, pb+dd+pe)
	for c := range m {
		s := c - pb
		if s >= 0 && s < dd {
			m[c] = lo + s
			continue
		}
		switch mode {
		case "constant":
			m[c] = -1
			continue
		case "edge":
			if dd == 0 {
				return nil, Errorf(n, "edge padding of an empty dimension")
			}
			s = min(max(s, 0), dd-1)
		case "reflect":
			if dd == 0 {
				return nil, Errorf(n, "reflect padding of an empty dimension")
			}
			if dd == 1 {
				s = 0
				break
			}
			p := 2 * (dd - 1)
			s = ((s % p) + p) % p
			if s >= dd {
				s = p - s
			}
		case "wrap":
			if dd == 0 {
				return nil, Errorf(n, "wrap padding of an empty dimension")
			}
			s = ((s % dd) + dd) % dd
		default:
			return nil, Errorf(n, "unknown mode %q (want constant, reflect, edge or wrap)", mode)
		}
		m[c] = lo + s
	}
	return m, nil
}

func shpPadKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs data and pads inputs")
	}
	x := in[0]
	pads, err := shpInts(n, in[1], "pads")
	if err != nil {
		return nil, err
	}
	var axes []int
	if len(in) > 3 && in[3] != nil {
		if axes, err = shpInts(n, in[3], "axes"); err != nil {
			return nil, err
		}
	}
	b, e, err := shpPadAll(n, x.Rank(), pads, axes)
	if err != nil {
		return nil, err
	}
	mode := n.Attrs.String("mode", "constant")
	maps := make([][]int, x.Rank())
	for i, d := range x.Shape() {
		if maps[i], err = shpPadMap(n, d, b[i], e[i], mode); err != nil {
			return nil, err
		}
	}
	var fill *tensor.Tensor
	if len(in) > 2 && in[2] != nil {
		fill = shpCastScalar(in[2], x.DType())
	}
	out, err := shpTake(x, shpShapeOf(maps), shpProduct(maps, x.Shape().Strides()), fill)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}

func shpCropPadAxes(n *graph.Node, r, k int) ([]int, error) {
	axes := shpIntList(n.Attrs, "axes")
	if axes == nil {
		axes = shpIdentity(r)
	}
	if len(axes) != k {
		return nil, Errorf(n, "shape has %d entries for %d axes", k, len(axes))
	}
	return shpAxes(n, axes, r)
}

func shpInferCenterCropPad(ic *InferContext) ([]graph.Type, error) {
	t := ic.In[0]
	c := ic.Const(1)
	if t.Unranked {
		return []graph.Type{t}, nil
	}
	if c == nil {
		return []graph.Type{shpInferUnknown(t.DType, len(t.Shape))}, nil
	}
	sh, err := shpInts(ic.Node, c, "shape")
	if err != nil {
		return nil, err
	}
	ax, err := shpCropPadAxes(ic.Node, len(t.Shape), len(sh))
	if err != nil {
		return nil, err
	}
	out := append([]int{}, t.Shape...)
	for i, a := range ax {
		out[a] = sh[i]
	}
	return []graph.Type{graph.TensorType(t.DType, out...)}, nil
}

func shpCenterCropPadKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs input_data and shape inputs")
	}
	x := in[0]
	sh, err := shpInts(n, in[1], "shape")
	if err != nil {
		return nil, err
	}
	ax, err := shpCropPadAxes(n, x.Rank(), len(sh))
	if err != nil {
		return nil, err
	}
	maps := make([][]int, x.Rank())
	for i, d := range x.Shape() {
		maps[i] = shpIdentity(d)
	}
	for i, a := range ax {
		d, t := x.Shape()[a], sh[i]
		if t < 0 {
			return nil, Errorf(n, "negative target size %d", t)
		}
		m := make([]int, t)
		if t <= d {
			off := (d - t) / 2
			for c := range m {
				m[c] = c + off
			}
		} else {
			off := (t - d) / 2
			for c := range m {
				if s := c - off; s >= 0 && s < d {
					m[c] = s
				} else {
					m[c] = -1
				}
			}
		}
		maps[a] = m
	}
	out, err := shpTake(x, shpShapeOf(maps), shpProduct(maps, x.Shape().Strides()), nil)
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	return []*tensor.Tensor{out}, nil
}
