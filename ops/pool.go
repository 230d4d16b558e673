package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// MaxPool takes the maximum over each window of X [N, C, D1..Dr] (ONNX
// MaxPool-22). Attributes: kernel_shape (required), strides, dilations, pads,
// auto_pad, ceil_mode (round output sizes up; a window must start inside
// the input or its begin pad) and storage_order (0 row-major, 1
// column-major flat indices). The optional second output Indices holds the
// flat index into X of each maximum (first occurrence). Padding never wins.
// Integer (int8, uint8) inputs are allowed.
var MaxPool = &Def{Name: "MaxPool", Infer: nnPoolInfer, Kernel: nnPoolKernel("max")}

// AveragePool averages each window (ONNX AveragePool-22). With
// count_include_pad=1 the divisor counts pad positions inside the declared
// pads (but not positions beyond them reached only through ceil_mode);
// otherwise only positions inside X.
var AveragePool = &Def{Name: "AveragePool", Infer: nnPoolInfer, Kernel: nnPoolKernel("avg")}

// LpPool computes (sum |x|^p)^(1/p) over each window (ONNX LpPool-22), with
// integer attribute p (default 2); padding contributes zero.
var LpPool = &Def{Name: "LpPool", Infer: nnPoolInfer, Kernel: nnPoolKernel("lp")}

// GlobalAveragePool averages all spatial positions of X [N, C, D...] to
// [N, C, 1...] (ONNX GlobalAveragePool-22).
var GlobalAveragePool = &Def{Name: "GlobalAveragePool", Infer: nnGlobalInfer, Kernel: nnGlobalKernel("avg")}

// GlobalMaxPool takes the maximum over all spatial positions (ONNX
// GlobalMaxPool-22).
var GlobalMaxPool = &Def{Name: "GlobalMaxPool", Infer: nnGlobalInfer, Kernel: nnGlobalKernel("max")}

// GlobalLpPool computes the Lp norm (attribute p, default 2) over all
// spatial positions (ONNX GlobalLpPool-22).
var GlobalLpPool = &Def{Name: "GlobalLpPool", Infer: nnGlobalInfer, Kernel: nnGlobalKernel("lp")}

// MaxUnpool scatters X into a zero tensor at the flat positions given by
// Indices (as produced by MaxPool) (ONNX MaxUnpool-22). The output spatial
// size is (in-1)*stride + kernel - pad_begin - pad_end unless the optional
// input output_shape gives the full output shape.
var MaxUnpool = &Def{Name: "MaxUnpool", Infer: nnUnpoolInfer, Kernel: nnUnpoolKernel}

func init() {
	for _, d := range []*Def{MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool, MaxUnpool} {
		Register(d)
	}
}

func nnPoolInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs input X")
	}
	x := ic.In[0]
	nout := len(ic.Node.Outputs)
	if nout < 1 {
		nout = 1
	}
	mk := func(dt tensor.DType) graph.Type {
		if x.Unranked {
			return graph.UnrankedType(dt)
		}
		out := nnFilled(len(x.Shape), -1)
		copy(out, x.Shape[:min(2, len(x.Shape))])
		if x.Static() && len(x.Shape) > 2 {
			k := nnInts(ic.Node, "kernel_shape", nil)
			if g, err := nnWindow(ic.Node, x.Shape[2:], k, ic.Node.Attrs.Int("ceil_mode", 0) != 0); err == nil {
				copy(out[2:], g.out)
			}
		}
		return graph.TensorType(dt, out...)
	}
	ts := []graph.Type{mk(x.DType)}
	if nout > 1 {
		ts = append(ts, mk(tensor.Int64))
	}
	return ts, nil
}

func nnPoolKernel(kind string) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, Errorf(n, "needs input X")
		}
		x := in[0]
		xs := x.Shape()
		if len(xs) < 3 {
			return nil, Errorf(n, "X %v must be [N, C, D...]", xs)
		}
		if !x.DType().IsNumeric() || (kind != "max" && !x.DType().IsFloat()) {
			return nil, Errorf(n, "unsupported element type %v", x.DType())
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
		incl := n.Attrs.Int("count_include_pad", 0) != 0
		p := float64(n.Attrs.Int("p", 2))
		colMajor := n.Attrs.Int("storage_order", 0) != 0
		NC := xs[0] * xs[1]
		isz, osz, ksz := nnProd(xs[2:]), nnProd(g.out), nnProd(k)
		xst := tensor.Shape(xs[2:]).Strides()
		cst := make([]int, r) // column-major strides for Indices
		acc := 1
		for d := 0; d < r; d++ {
			cst[d] = acc
			acc *= xs[2+d]
		}
		xv := x.Float64s()
		res := make([]float64, NC*osz)
		var ind []int64
		wantInd := len(n.Outputs) > 1 && n.Outputs[1] != ""
		if wantInd {
			ind = make([]int64, NC*osz)
		}
		oidx, kidx := make([]int, r), make([]int, r)
		for nc := 0; nc < NC; nc++ {
			base := nc * isz
			for i := range oidx {
				oidx[i] = 0
			}
			for o := 0; o < osz; o++ {
				best, bestAt, sum, cnt := math.Inf(-1), -1, 0.0, 0
				for i := range kidx {
					kidx[i] = 0
				}
				for kk := 0; kk < ksz; kk++ {
					off, coff, in, inPad := 0, 0, true, true
					for d := 0; d < r; d++ {
						q := oidx[d]*g.s[d] + kidx[d]*g.d[d] - g.pb[d]
						if q < 0 || q >= xs[2+d] {
							in = false
						}
						if q < -g.pb[d] || q >= xs[2+d]+g.pe[d] {
							inPad = false
						}
						off += q * xst[d]
						coff += q * cst[d]
					}
					if in {
						v := xv[base+off]
						switch kind {
						case "max":
							if v > best || bestAt < 0 {
								best, bestAt = v, off
								if colMajor {
									bestAt = coff
								}
							}
						case "avg":
							sum += v
							cnt++
						case "lp":
							sum += math.Pow(math.Abs(v), p)
						}
					} else if inPad && incl {
						cnt++
					}
					nnNext(kidx, k)
				}
				var y float64
				switch kind {
				case "max":
					y = best
					if wantInd {
						ind[nc*osz+o] = int64(base + bestAt)
					}
				case "avg":
					if cnt > 0 {
						y = sum / float64(cnt)
					}
				case "lp":
					y = math.Pow(sum, 1/p)
				}
				res[nc*osz+o] = y
				nnNext(oidx, g.out)
			}
		}
		outShape := append(tensor.Shape{xs[0], xs[1]}, g.out...)
		outs := []*tensor.Tensor{nnOut(x.DType(), outShape, res)}
		if wantInd {
			outs = append(outs, tensor.From(outShape, ind))
		}
		return outs, nil
	}
}

func nnGlobalInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs input X")
	}
	x := ic.In[0]
	if x.Unranked {
		return []graph.Type{x}, nil
	}
	out := nnFilled(len(x.Shape), 1)
	copy(out, x.Shape[:min(2, len(x.Shape))])
	return []graph.Type{graph.TensorType(x.DType, out...)}, nil
}

func nnGlobalKernel(kind string) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, Errorf(n, "needs input X")
		}
		x := in[0]
		if err := nnCheckFloat(n, x, "X"); err != nil {
			return nil, err
		}
		xs := x.Shape()
		if len(xs) < 2 {
			return nil, Errorf(n, "X %v must be [N, C, D...]", xs)
		}
		p := float64(n.Attrs.Int("p", 2))
		NC, sz := xs[0]*xs[1], nnProd(xs[2:])
		xv := x.Float64s()
		res := make([]float64, NC)
		for i := 0; i < NC; i++ {
			vs := xv[i*sz : (i+1)*sz]
			var y float64
			switch kind {
			case "avg":
				for _, v := range vs {
					y += v
				}
				y /= float64(sz)
			case "max":
				y = math.Inf(-1)
				for _, v := range vs {
					y = math.Max(y, v)
				}
			case "lp":
				for _, v := range vs {
					y += math.Pow(math.Abs(v), p)
				}
				y = math.Pow(y, 1/p)
			}
			res[i] = y
		}
		out := nnFilled(len(xs), 1)
		out[0], out[1] = xs[0], xs[1]
		return []*tensor.Tensor{nnOut(x.DType(), out, res)}, nil
	}
}

func nnUnpoolInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs input X")
	}
	x := ic.In[0]
	if x.Unranked {
		return []graph.Type{x}, nil
	}
	out := nnFilled(len(x.Shape), -1)
	copy(out, x.Shape[:min(2, len(x.Shape))])
	return []graph.Type{graph.TensorType(x.DType, out...)}, nil
}

func nnUnpoolKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs X and I")
	}
	x, idx := in[0], in[1]
	xs := x.Shape()
	if len(xs) < 3 || !idx.Shape().Equal(xs) {
		return nil, Errorf(n, "X %v must be [N, C, D...] and I %v the same shape", xs, idx.Shape())
	}
	r := len(xs) - 2
	k := nnInts(n, "kernel_shape", nil)
	s := nnInts(n, "strides", nnFilled(r, 1))
	pads := nnInts(n, "pads", nnFilled(2*r, 0))
	if len(k) != r || len(s) != r || len(pads) != 2*r {
		return nil, Errorf(n, "kernel_shape %v, strides %v, pads %v do not match %d spatial axes", k, s, pads, r)
	}
	out := append(tensor.Shape{}, xs...)
	for d := 0; d < r; d++ {
		out[2+d] = (xs[2+d]-1)*s[d] + k[d] - pads[d] - pads[r+d]
	}
	res := make([]float64, out.Size())
	xv, iv := x.Float64s(), idx.Int64s()
	for i, j := range iv {
		if j < 0 || int(j) >= len(res) {
			return nil, Errorf(n, "index %d out of range for output %v", j, out)
		}
		res[j] = xv[i]
	}
	if len(in) > 2 && in[2] != nil {
		// Indices address the default output shape; an explicit
		// output_shape pads (or crops) that result at the end of each axis.
		os := in[2].Int64s()
		if len(os) != len(xs) {
			return nil, Errorf(n, "output_shape %v must have %d entries", os, len(xs))
		}
		full := make(tensor.Shape, len(os))
		for i, v := range os {
			if v < 0 {
				return nil, Errorf(n, "negative output_shape %v", os)
			}
			full[i] = int(v)
		}
		if !full.Equal(out) {
			big := make([]float64, full.Size())
			fst := full.Strides()
			ix := make([]int, len(out))
			for i := 0; i < len(res) && len(res) > 0; i++ {
				off, ok := 0, true
				for d := range ix {
					if ix[d] >= full[d] {
						ok = false
						break
					}
					off += ix[d] * fst[d]
				}
				if ok {
					big[off] = res[i]
				}
				nnNext(ix, out)
			}
			res, out = big, full
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), out, res)}, nil
}
