package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// BatchNormalization normalizes X [N, C, D...] per channel (ONNX
// BatchNormalization-15):
//
//	Y = (X - mean) / sqrt(var + epsilon) * scale + B
//
// In inference mode (training_mode=0, the default) mean and var are the
// inputs input_mean and input_var. With training_mode=1 they are the batch
// statistics over all axes but 1 (population variance) and the optional
// outputs running_mean and running_var are
// input_mean*momentum + batch_mean*(1-momentum) (and likewise for var).
var BatchNormalization = &Def{Name: "BatchNormalization", Infer: nnBNInfer, Kernel: nnBNKernel}

// InstanceNormalization normalizes each (n, c) slice of X over its spatial
// axes, then applies per-channel scale and B (ONNX InstanceNormalization-22).
var InstanceNormalization = &Def{Name: "InstanceNormalization", Infer: InferSame(0), Kernel: nnInstNormKernel}

// LayerNormalization normalizes X over the axes [axis, rank) (ONNX
// LayerNormalization-17): Y = (X - mean) * InvStdDev * Scale + B with
// InvStdDev = 1/sqrt(var + epsilon); Scale and B broadcast to X's trailing
// shape. Optional outputs Mean and InvStdDev have X's shape with the
// normalized axes set to 1 and the stash_type element type (float32 when 1).
var LayerNormalization = &Def{Name: "LayerNormalization", Infer: nnLNInfer, Kernel: nnLNKernel}

// GroupNormalization splits the C channels of X [N, C, D...] into
// num_groups groups, normalizes each (n, group) over its channels and
// spatial positions, then applies scale and bias per channel (ONNX
// GroupNormalization-21). Opset 18 gave scale and bias per group; the
// importer marks such nodes with the private attribute kiln_per_group=1,
// which this kernel honours.
var GroupNormalization = &Def{Name: "GroupNormalization", Infer: InferSame(0), Kernel: nnGNKernel}

// RMSNormalization computes Y = X / sqrt(mean(X^2) + epsilon) * scale over
// the axes [axis, rank) (ONNX RMSNormalization-23).
var RMSNormalization = &Def{Name: "RMSNormalization", Infer: InferSame(0), Kernel: nnRMSKernel}

// LpNormalization divides X by its Lp norm (p = 1 or 2) along axis (ONNX
// LpNormalization-22). A zero norm leaves zeros.
var LpNormalization = &Def{Name: "LpNormalization", Infer: InferSame(0), Kernel: nnLpNormKernel}

// LRN is local response normalization across channels (ONNX LRN-13):
// Y = X / (bias + alpha/size * sum_{c' in window} X[c']^2)^beta, the window
// spanning channels c - floor((size-1)/2) .. c + ceil((size-1)/2).
var LRN = &Def{Name: "LRN", Infer: InferSame(0), Kernel: nnLRNKernel}

// MeanVarianceNormalization computes (X - mean) / (sqrt(var) + 1e-9) with
// mean and (population) variance over axes (default [0, 2, 3]) (ONNX
// MeanVarianceNormalization-13).
var MeanVarianceNormalization = &Def{Name: "MeanVarianceNormalization", Infer: InferSame(0), Kernel: nnMVNKernel}

func init() {
	for _, d := range []*Def{BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, RMSNormalization, LpNormalization, LRN, MeanVarianceNormalization} {
		Register(d)
	}
}

func nnBNInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 5 {
		return nil, ic.Errorf("needs inputs X, scale, B, input_mean, input_var")
	}
	ts := []graph.Type{ic.In[0]}
	for i := 1; i < len(ic.Node.Outputs) && i < 3; i++ {
		ts = append(ts, ic.In[2+i])
	}
	return ts, nil
}

func nnChan(n *graph.Node, t *tensor.Tensor, C int, what string) ([]float64, error) {
	if t == nil {
		return nil, Errorf(n, "missing input %s", what)
	}
	if t.Len() != C {
		return nil, Errorf(n, "%s has shape %v, want %d elements (one per channel)", what, t.Shape(), C)
	}
	return t.Float64s(), nil
}

func nnBNKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 5 {
		return nil, Errorf(n, "needs inputs X, scale, B, input_mean, input_var")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) < 1 {
		return nil, Errorf(n, "X must have rank >= 1")
	}
	C := 1
	if len(xs) > 1 {
		C = xs[1]
	}
	sz := nnProd(xs[2:])
	N := xs[0]
	var vals [4][]float64
	for i, w := range []string{"scale", "B", "input_mean", "input_var"} {
		v, err := nnChan(n, in[1+i], C, w)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	scale, bias, mean, vr := vals[0], vals[1], vals[2], vals[3]
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	mom := float64(n.Attrs.Float("momentum", 0.9))
	train := n.Attrs.Int("training_mode", 0) != 0
	xv := x.Float64s()
	var rm, rv []float64
	if train {
		bm, bv := make([]float64, C), make([]float64, C)
		cnt := float64(N * sz)
		for nb := 0; nb < N; nb++ {
			for c := 0; c < C; c++ {
				for _, v := range xv[(nb*C+c)*sz : (nb*C+c+1)*sz] {
					bm[c] += v
				}
			}
		}
		for c := range bm {
			bm[c] /= cnt
		}
		for nb := 0; nb < N; nb++ {
			for c := 0; c < C; c++ {
				for _, v := range xv[(nb*C+c)*sz : (nb*C+c+1)*sz] {
					bv[c] += (v - bm[c]) * (v - bm[c])
				}
			}
		}
		rm, rv = make([]float64, C), make([]float64, C)
		for c := range bv {
			bv[c] /= cnt
			rm[c] = mean[c]*mom + bm[c]*(1-mom)
			rv[c] = vr[c]*mom + bv[c]*(1-mom)
		}
		mean, vr = bm, bv
	}
	res := make([]float64, len(xv))
	for nb := 0; nb < N; nb++ {
		for c := 0; c < C; c++ {
			a := scale[c] / math.Sqrt(vr[c]+eps)
			for i := (nb*C + c) * sz; i < (nb*C+c+1)*sz; i++ {
				res[i] = (xv[i]-mean[c])*a + bias[c]
			}
		}
	}
	outs := []*tensor.Tensor{nnOut(x.DType(), xs, res)}
	if train {
		outs = append(outs, nnOut(in[3].DType(), in[3].Shape(), rm), nnOut(in[4].DType(), in[4].Shape(), rv))
	}
	return outs, nil
}

// nnNormalize normalizes groups of sz consecutive values: out = (v-mean)*inv.
// It returns per-group mean and inverse standard deviation.
func nnNormalize(xv, res []float64, sz int, eps float64) (means, invs []float64) {
	if sz == 0 {
		return nil, nil
	}
	ng := len(xv) / sz
	means, invs = make([]float64, ng), make([]float64, ng)
	for g := 0; g < ng; g++ {
		vs := xv[g*sz : (g+1)*sz]
		m := 0.0
		for _, v := range vs {
			m += v
		}
		m /= float64(sz)
		vr := 0.0
		for _, v := range vs {
			vr += (v - m) * (v - m)
		}
		vr /= float64(sz)
		inv := 1 / math.Sqrt(vr+eps)
		for i, v := range vs {
			res[g*sz+i] = (v - m) * inv
		}
		means[g], invs[g] = m, inv
	}
	return means, invs
}

func nnInstNormKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 {
		return nil, Errorf(n, "needs inputs input, scale, B")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "input"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) < 2 {
		return nil, Errorf(n, "input %v must be [N, C, D...]", xs)
	}
	C := xs[1]
	scale, err := nnChan(n, in[1], C, "scale")
	if err != nil {
		return nil, err
	}
	bias, err := nnChan(n, in[2], C, "B")
	if err != nil {
		return nil, err
	}
	sz := nnProd(xs[2:])
	xv := x.Float64s()
	res := make([]float64, len(xv))
	nnNormalize(xv, res, sz, float64(n.Attrs.Float("epsilon", 1e-5)))
	for i := range res {
		c := (i / max(sz, 1)) % C
		res[i] = res[i]*scale[c] + bias[c]
	}
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}

func nnLNInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs input X")
	}
	x := ic.In[0]
	ts := []graph.Type{x}
	st := tensor.DType(ic.Node.Attrs.Int("stash_type", 1))
	for i := 1; i < len(ic.Node.Outputs) && i < 3; i++ {
		if x.Unranked {
			ts = append(ts, graph.UnrankedType(st))
			continue
		}
		ax, err := tensor.NormAxis(int(ic.Node.Attrs.Int("axis", -1)), len(x.Shape))
		if err != nil {
			return nil, ic.Errorf("%v", err)
		}
		s := append([]int{}, x.Shape...)
		for j := ax; j < len(s); j++ {
			s[j] = 1
		}
		ts = append(ts, graph.TensorType(st, s...))
	}
	return ts, nil
}

// nnTrailing broadcasts t to the trailing shape sh and returns its values.
func nnTrailing(n *graph.Node, t *tensor.Tensor, sh tensor.Shape, what string) ([]float64, error) {
	if t == nil {
		return nil, nil
	}
	b, err := tensor.Broadcast(t.Shape(), sh)
	if err != nil || !b.Equal(sh) {
		return nil, Errorf(n, "%s %v does not broadcast to the normalized shape %v", what, t.Shape(), sh)
	}
	v := t.Float64s()
	idx := tensor.BroadcastIndex(t.Shape(), sh)
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = v[j]
	}
	return out, nil
}

// nnStash rounds v to the stash element type (float32 for stash_type 1).
func nnStash(v float64, st tensor.DType) float64 {
	if st == tensor.Float32 {
		return float64(float32(v))
	}
	return v
}

func nnLNKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil {
		return nil, Errorf(n, "needs inputs X and Scale")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	ax, err := tensor.NormAxis(int(n.Attrs.Int("axis", -1)), len(xs))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	st := tensor.DType(n.Attrs.Int("stash_type", 1))
	tail := xs[ax:]
	sz := nnProd(tail)
	scale, err := nnTrailing(n, in[1], tail, "Scale")
	if err != nil {
		return nil, err
	}
	var bias []float64
	if len(in) > 2 {
		if bias, err = nnTrailing(n, in[2], tail, "B"); err != nil {
			return nil, err
		}
	}
	xv := x.Float64s()
	res := make([]float64, len(xv))
	means, invs := nnNormalize(xv, res, sz, float64(n.Attrs.Float("epsilon", 1e-5)))
	for i := range res {
		j := i % max(sz, 1)
		res[i] *= scale[j]
		if bias != nil {
			res[i] += bias[j]
		}
	}
	outs := []*tensor.Tensor{nnOut(x.DType(), xs, res)}
	if len(n.Outputs) > 1 {
		ms := append(tensor.Shape{}, xs...)
		for j := ax; j < len(ms); j++ {
			ms[j] = 1
		}
		for i := range means {
			means[i], invs[i] = nnStash(means[i], st), nnStash(invs[i], st)
		}
		if st != tensor.Float32 && st != tensor.Float64 && st != tensor.Float16 && st != tensor.BFloat16 {
			st = tensor.Float32
		}
		if means == nil {
			means, invs = []float64{}, []float64{}
		}
		outs = append(outs, nnOut(st, ms, means), nnOut(st, ms, invs))
	}
	return outs, nil
}

func nnGNKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 3 {
		return nil, Errorf(n, "needs inputs X, scale, bias")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) < 2 {
		return nil, Errorf(n, "X %v must be [N, C, D...]", xs)
	}
	C := xs[1]
	G := int(n.Attrs.Int("num_groups", 0))
	if G < 1 || C%G != 0 {
		return nil, Errorf(n, "num_groups %d must divide the %d channels", G, C)
	}
	perGroup := n.Attrs.Int("kiln_per_group", 0) != 0
	nsc := C
	if perGroup {
		nsc = G
	}
	scale, err := nnChan(n, in[1], nsc, "scale")
	if err != nil {
		return nil, err
	}
	bias, err := nnChan(n, in[2], nsc, "bias")
	if err != nil {
		return nil, err
	}
	sz := nnProd(xs[2:])
	xv := x.Float64s()
	res := make([]float64, len(xv))
	nnNormalize(xv, res, C/G*sz, float64(n.Attrs.Float("epsilon", 1e-5)))
	for i := range res {
		c := (i / max(sz, 1)) % C
		if perGroup {
			c /= C / G
		}
		res[i] = res[i]*scale[c] + bias[c]
	}
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}

func nnRMSKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil {
		return nil, Errorf(n, "needs inputs X and scale")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	ax, err := tensor.NormAxis(int(n.Attrs.Int("axis", -1)), len(xs))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	tail := xs[ax:]
	sz := nnProd(tail)
	scale, err := nnTrailing(n, in[1], tail, "scale")
	if err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	xv := x.Float64s()
	res := make([]float64, len(xv))
	for g := 0; g*sz < len(xv) && sz > 0; g++ {
		ms := 0.0
		for _, v := range xv[g*sz : (g+1)*sz] {
			ms += v * v
		}
		inv := 1 / math.Sqrt(ms/float64(sz)+eps)
		for i := 0; i < sz; i++ {
			res[g*sz+i] = xv[g*sz+i] * inv * scale[i]
		}
	}
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}

// nnAxisIter calls f for each 1-D lane of shape along axis, with the flat
// offset of its first element and the stride between elements.
func nnAxisIter(shape tensor.Shape, axis int, f func(base, stride, n int)) {
	outer := nnProd(shape[:axis])
	inner := nnProd(shape[axis+1:])
	d := shape[axis]
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			f(o*d*inner+i, inner, d)
		}
	}
}

func nnLpNormKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs input")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "input"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	ax, err := tensor.NormAxis(int(n.Attrs.Int("axis", -1)), len(xs))
	if err != nil || len(xs) == 0 {
		return nil, Errorf(n, "axis %d out of range for rank %d", n.Attrs.Int("axis", -1), len(xs))
	}
	p := n.Attrs.Int("p", 2)
	if p != 1 && p != 2 {
		return nil, Errorf(n, "p must be 1 or 2, got %d", p)
	}
	xv := x.Float64s()
	res := make([]float64, len(xv))
	nnAxisIter(xs, ax, func(base, st, d int) {
		s := 0.0
		for j := 0; j < d; j++ {
			v := xv[base+j*st]
			if p == 1 {
				s += math.Abs(v)
			} else {
				s += v * v
			}
		}
		if p == 2 {
			s = math.Sqrt(s)
		}
		for j := 0; j < d; j++ {
			if s != 0 {
				res[base+j*st] = xv[base+j*st] / s
			}
		}
	})
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}

func nnLRNKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
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
	size := int(n.Attrs.Int("size", 0))
	if size < 1 {
		return nil, Errorf(n, "size must be positive, got %d", size)
	}
	alpha := float64(n.Attrs.Float("alpha", 1e-4))
	beta := float64(n.Attrs.Float("beta", 0.75))
	bias := float64(n.Attrs.Float("bias", 1))
	lo, hi := (size-1)/2, (size-1)-(size-1)/2
	xv := x.Float64s()
	res := make([]float64, len(xv))
	nnAxisIter(xs, 1, func(base, st, C int) {
		for c := 0; c < C; c++ {
			s := 0.0
			for j := max(0, c-lo); j <= min(C-1, c+hi); j++ {
				v := xv[base+j*st]
				s += v * v
			}
			res[base+c*st] = xv[base+c*st] / math.Pow(bias+alpha/float64(size)*s, beta)
		}
	})
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}

// nnReduceGroups returns, for each element of shape, the index of its group
// when the given axes are reduced, and the number of groups.
func nnReduceGroups(shape tensor.Shape, axes []int) ([]int, int) {
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[a] = true
	}
	ks := tensor.Shape{}
	for i, d := range shape {
		if !red[i] {
			ks = append(ks, d)
		} else {
			ks = append(ks, 1)
		}
	}
	return tensor.BroadcastIndex(ks, shape), ks.Size()
}

func nnMVNKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs input X")
	}
	x := in[0]
	if err := nnCheckFloat(n, x, "X"); err != nil {
		return nil, err
	}
	xs := x.Shape()
	axes := nnInts(n, "axes", []int{0, 2, 3})
	for i, a := range axes {
		na, err := tensor.NormAxis(a, len(xs))
		if err != nil {
			return nil, Errorf(n, "axes %v out of range for rank %d", axes, len(xs))
		}
		axes[i] = na
	}
	grp, ng := nnReduceGroups(xs, axes)
	xv := x.Float64s()
	sum, sq, cnt := make([]float64, ng), make([]float64, ng), make([]float64, ng)
	for i, v := range xv {
		sum[grp[i]] += v
		sq[grp[i]] += v * v
		cnt[grp[i]]++
	}
	res := make([]float64, len(xv))
	for i, v := range xv {
		g := grp[i]
		m := sum[g] / cnt[g]
		vr := sq[g]/cnt[g] - m*m
		if vr < 0 {
			vr = 0
		}
		res[i] = (v - m) / (math.Sqrt(vr) + 1e-9)
	}
	return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
}
