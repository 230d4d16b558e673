package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of convolution, pooling, normalization and Dropout.

func init() {
	// Conv: dX and dW by the adjoint helper ops (any rank, strides, pads,
	// dilations, groups, auto_pad); dB sums dY over all but the channel axis.
	RegisterGrad("", "Conv", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, w, g := n.Inputs[0], n.Inputs[1], dy[0]
		dx := make([]string, len(n.Inputs))
		if gNeeds(e, x) {
			dx[0] = e.OpN("kiln", "ConvGradInput", n.Attrs.Clone(), 1, g, w, gShape(e, x))[0]
		}
		if gNeeds(e, w) {
			dx[1] = e.OpN("kiln", "ConvGradWeight", n.Attrs.Clone(), 1, x, g, gShape(e, w))[0]
		}
		if b := n.Input(2); b != "" && gNeeds(e, b) {
			s, err := gradChannelSum(e, n, g)
			if err != nil {
				return nil, err
			}
			dx[2] = s
		}
		return dx, nil
	})
	// ConvTranspose is the adjoint of Conv with the same attributes: dX =
	// Conv(dY, W) and dW = ConvGradWeight(dY, X). Only explicit pads
	// (auto_pad NOTSET or VALID, no output_shape) are supported.
	RegisterGrad("", "ConvTranspose", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		if ap := n.Attrs.String("auto_pad", "NOTSET"); (ap != "NOTSET" && ap != "VALID" && ap != "") || n.Attrs.Has("output_shape") {
			return nil, Unsupported(n, "gradient of ConvTranspose with auto_pad %s or output_shape; give explicit pads", ap)
		}
		x, w, g := n.Inputs[0], n.Inputs[1], dy[0]
		attrs := graph.Attrs{}
		for _, k := range []string{"strides", "dilations", "pads", "group", "kernel_shape", "auto_pad"} {
			if v, ok := n.Attrs[k]; ok {
				attrs[k] = v
			}
		}
		dx := make([]string, len(n.Inputs))
		if gNeeds(e, x) {
			dx[0] = e.Op("Conv", attrs.Clone(), g, w)
		}
		if gNeeds(e, w) {
			dx[1] = e.OpN("kiln", "ConvGradWeight", attrs.Clone(), 1, g, x, gShape(e, w))[0]
		}
		if b := n.Input(2); b != "" && gNeeds(e, b) {
			s, err := gradChannelSum(e, n, g)
			if err != nil {
				return nil, err
			}
			dx[2] = s
		}
		return dx, nil
	})
	RegisterGrad("", "MaxPool", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		if dy[0] == "" {
			return []string{""}, nil
		}
		return []string{e.OpN("kiln", "MaxPoolGrad", n.Attrs.Clone(), 1, n.Inputs[0], dy[0])[0]}, nil
	})
	RegisterGrad("", "AveragePool", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{e.OpN("kiln", "AveragePoolGrad", n.Attrs.Clone(), 1, n.Inputs[0], dy[0])[0]}, nil
	})
	RegisterGrad("", "GlobalAveragePool", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, y := n.Inputs[0], n.Outputs[0]
		cnt := e.Op("CastLike", nil, gDiv(e, e.Op("Size", nil, x), e.Op("Size", nil, y)), x)
		return []string{e.Op("Expand", nil, gDiv(e, dy[0], cnt), gShape(e, x))}, nil
	})
	// GlobalMaxPool: ties share the gradient, as ReduceMax's rule does.
	RegisterGrad("", "GlobalMaxPool", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, y := n.Inputs[0], n.Outputs[0]
		r, err := gNeedRank(e, n, x)
		if err != nil {
			return nil, err
		}
		m := gMask(e, e.Op("Equal", nil, x, y), x)
		cnt := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(1)}, m, gInts(e, gRange(2, r)...))
		return []string{gMul(e, m, gDiv(e, dy[0], cnt))}, nil
	})
	RegisterGrad("", "BatchNormalization", gradBatchNorm)
	RegisterGrad("", "LayerNormalization", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, scale := n.Inputs[0], n.Inputs[1]
		r, err := gNeedRank(e, n, x)
		if err != nil {
			return nil, err
		}
		axis := int(n.Attrs.Int("axis", -1))
		if axis < 0 {
			axis += r
		}
		axes := gInts(e, gRange(axis, r)...)
		xh, inv := gradNormalize(e, x, axes, float64(n.Attrs.Float("epsilon", 1e-5)))
		g := dy[0]
		dx := make([]string, len(n.Inputs))
		dx[0] = gradNormBackward(e, gMul(e, g, scale), xh, inv, axes)
		if gNeeds(e, scale) {
			dx[1] = gSumTo(e, gMul(e, g, xh), scale)
		}
		if b := n.Input(2); b != "" && gNeeds(e, b) {
			dx[2] = gSumTo(e, g, b)
		}
		return dx, nil
	})
	RegisterGrad("", "InstanceNormalization", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, scale := n.Inputs[0], n.Inputs[1]
		r, err := gNeedRank(e, n, x)
		if err != nil {
			return nil, err
		}
		axes := gInts(e, gRange(2, r)...)
		xh, inv := gradNormalize(e, x, axes, float64(n.Attrs.Float("epsilon", 1e-5)))
		g := dy[0]
		cshape := gInts(e, append([]int64{-1}, gOnes(r-2)...)...)
		sb := e.Op("Reshape", nil, scale, cshape)
		other := gInts(e, append([]int64{0}, gRange(2, r)...)...)
		kd0 := graph.Attrs{"keepdims": int64(0)}
		return []string{
			gradNormBackward(e, gMul(e, g, sb), xh, inv, axes),
			e.Op("ReduceSum", kd0, gMul(e, g, xh), other),
			e.Op("ReduceSum", kd0, g, other),
		}[:len(n.Inputs)], nil
	})
	RegisterGrad("", "GroupNormalization", gradGroupNorm)
	// RMSNormalization: with inv = 1/sqrt(mean(x²) + eps) over the axes
	// [axis, rank), ŷ = x·inv and gh = dY·scale, dX = inv·(gh - ŷ·mean(gh·ŷ))
	// (the mean is not subtracted, unlike LayerNormalization); dScale sums
	// dY·ŷ down to scale's shape.
	RegisterGrad("", "RMSNormalization", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		if len(n.Inputs) < 2 {
			return nil, gErr(n, "RMSNormalization needs X and scale")
		}
		x, scale := n.Inputs[0], n.Inputs[1]
		r, err := gNeedRank(e, n, x)
		if err != nil {
			return nil, err
		}
		axis := int(n.Attrs.Int("axis", -1))
		if axis < 0 {
			axis += r
		}
		if axis < 0 || axis >= r {
			return nil, gErr(n, "axis %d out of range for rank %d", n.Attrs.Int("axis", -1), r)
		}
		axes := gInts(e, gRange(axis, r)...)
		kd := graph.Attrs{"keepdims": int64(1)}
		eps := float64(n.Attrs.Float("epsilon", 1e-5))
		ms := e.Op("ReduceMean", kd, gMul(e, x, x), axes)
		inv := e.Op("Reciprocal", nil, e.Op("Sqrt", nil, gAdd(e, ms, gScalar(e, eps, x))))
		yh := gMul(e, x, inv)
		g := dy[0]
		gh := gMul(e, g, scale)
		dx := make([]string, len(n.Inputs))
		m := e.Op("ReduceMean", kd, gMul(e, gh, yh), axes)
		dx[0] = gMul(e, inv, gSub(e, gh, gMul(e, yh, m)))
		if gNeeds(e, scale) {
			dx[1] = gSumTo(e, gMul(e, g, yh), scale)
		}
		return dx, nil
	})
	// LRN: kiln:LRNGrad (each channel's denominator depends on its
	// neighbours, so dX gathers over the mirrored channel window).
	RegisterGrad("", "LRN", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{e.OpN("kiln", "LRNGrad", n.Attrs.Clone(), 1, n.Inputs[0], dy[0])[0]}, nil
	})
	// Dropout: dX = dY·mask/(1-ratio) in training mode, dY otherwise. The
	// mask output must be present (autodiff adds it to Dropout nodes that
	// omit it).
	RegisterGrad("", "Dropout", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		dx := make([]string, len(n.Inputs))
		tm := n.Input(2)
		if tm == "" {
			dx[0] = dy[0]
			return dx, nil
		}
		if c := gConst(e, tm); c != nil && c.Len() == 1 && c.Float64s()[0] == 0 {
			dx[0] = dy[0]
			return dx, nil
		}
		if len(n.Outputs) < 2 || n.Outputs[1] == "" {
			return nil, gErr(n, "Dropout in training mode needs its mask output for the gradient")
		}
		g := dy[0]
		m := gMask(e, n.Outputs[1], g)
		ratio := n.Input(1)
		if ratio == "" {
			ratio = gScalar(e, 0.5, g)
		} else {
			ratio = e.Op("CastLike", nil, ratio, g)
		}
		scale := gDiv(e, gScalar(e, 1, g), gSub(e, gScalar(e, 1, g), ratio))
		dx[0] = gMul(e, gMul(e, g, m), scale)
		return dx, nil
	})
}

// gRange returns lo, lo+1, ..., hi-1.
func gRange(lo, hi int) []int64 {
	var v []int64
	for i := lo; i < hi; i++ {
		v = append(v, int64(i))
	}
	return v
}

func gOnes(k int) []int64 {
	v := make([]int64, k)
	for i := range v {
		v[i] = 1
	}
	return v
}

// gradChannelSum sums a [N, C, ...] gradient over all axes but 1.
func gradChannelSum(e GradEmitter, n *graph.Node, g string) (string, error) {
	r, ok := gRank(e, g)
	if !ok {
		if r2, ok2 := gRank(e, n.Inputs[1]); ok2 {
			r, ok = r2, true
		}
	}
	if !ok {
		return "", Unsupported(n, "gradient of the bias needs the static rank of the input")
	}
	return e.Op("ReduceSum", graph.Attrs{"keepdims": int64(0)}, g, gInts(e, append([]int64{0}, gRange(2, r)...)...)), nil
}

// gradNormalize recomputes x̂ = (x - mean)·inv and inv = 1/sqrt(var + eps)
// over the given axes (kept as size-1 axes), with the biased variance.
func gradNormalize(e GradEmitter, x, axes string, eps float64) (xh, inv string) {
	kd := graph.Attrs{"keepdims": int64(1)}
	mean := e.Op("ReduceMean", kd, x, axes)
	d := gSub(e, x, mean)
	v := e.Op("ReduceMean", kd, gMul(e, d, d), axes)
	inv = e.Op("Reciprocal", nil, e.Op("Sqrt", nil, gAdd(e, v, gScalar(e, eps, x))))
	return gMul(e, d, inv), inv
}

// gradNormBackward returns dx from gh = dL/dx̂ for x̂ normalized over axes
// with batch statistics: inv·(gh - mean(gh) - x̂·mean(gh·x̂)).
func gradNormBackward(e GradEmitter, gh, xh, inv, axes string) string {
	kd := graph.Attrs{"keepdims": int64(1)}
	m1 := e.Op("ReduceMean", kd, gh, axes)
	m2 := e.Op("ReduceMean", kd, gMul(e, gh, xh), axes)
	return gMul(e, inv, gSub(e, gSub(e, gh, m1), gMul(e, xh, m2)))
}

// gradBatchNorm differentiates BatchNormalization. In training mode
// (batch statistics, biased variance) x's gradient includes the paths
// through the batch mean and variance; the running-statistics outputs get
// no gradient. In inference mode the op is affine in x, and input_mean and
// input_var get their gradients too.
func gradBatchNorm(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
	x, scale, mean, vr := n.Inputs[0], n.Inputs[1], n.Inputs[3], n.Inputs[4]
	r, err := gNeedRank(e, n, x)
	if err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	cshape := gInts(e, append([]int64{-1}, gOnes(r-2)...)...)
	bc := func(v string) string { return e.Op("Reshape", nil, v, cshape) }
	other := append([]int64{0}, gRange(2, r)...)
	kd0 := graph.Attrs{"keepdims": int64(0)}
	sum := func(v string) string { return e.Op("ReduceSum", kd0, v, gInts(e, other...)) }
	g := dy[0]
	dx := make([]string, len(n.Inputs))
	if n.Attrs.Int("training_mode", 0) != 0 {
		axes := gInts(e, other...)
		xh, inv := gradNormalize(e, x, axes, eps)
		dx[0] = gradNormBackward(e, gMul(e, g, bc(scale)), xh, inv, axes)
		dx[1] = sum(gMul(e, g, xh))
		dx[2] = sum(g)
		return dx, nil
	}
	inv := e.Op("Reciprocal", nil, e.Op("Sqrt", nil, gAdd(e, vr, gScalar(e, eps, vr))))
	si := gMul(e, scale, inv)
	d := gSub(e, x, bc(mean))
	dx[0] = gMul(e, g, bc(si))
	dx[1] = sum(gMul(e, g, gMul(e, d, bc(inv))))
	dx[2] = sum(g)
	dx[3] = gNeg(e, gMul(e, sum(g), si))
	// d/dvar of scale·(x-mean)·(var+eps)^-1/2 = -1/2·scale·(x-mean)·inv³.
	inv3 := gMul(e, inv, gMul(e, inv, inv))
	dx[4] = gMul(e, sum(gMul(e, g, d)), gMul(e, gMul(e, scale, inv3), gScalar(e, -0.5, vr)))
	return dx, nil
}

// gradGroupNorm differentiates GroupNormalization: X [N, C, D...] viewed as
// [N, G, C/G·D] is normalized over its last axis, exactly LayerNorm's
// backward pass (gradNormBackward) on that view, with gh = dY·scale taken
// per channel (opset 21) or per group (kiln_per_group, opset 18's form).
// dScale and dBias sum dY·x̂ and dY over all but the channel (or group).
func gradGroupNorm(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
	if len(n.Inputs) < 3 {
		return nil, gErr(n, "GroupNormalization needs X, scale and bias")
	}
	x, scale, bias := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	r, err := gNeedRank(e, n, x)
	if err != nil {
		return nil, err
	}
	if r < 2 {
		return nil, gErr(n, "X must be [N, C, D...], got rank %d", r)
	}
	G := n.Attrs.Int("num_groups", 0)
	if G < 1 {
		return nil, gErr(n, "num_groups must be positive, got %d", G)
	}
	perGroup := n.Attrs.Int("kiln_per_group", 0) != 0
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	g := dy[0]
	xs := gShape(e, x)
	view := gInts(e, 0, G, -1)
	axes := gInts(e, 2)
	xh, inv := gradNormalize(e, e.Op("Reshape", nil, x, view), axes, eps)
	kd0 := graph.Attrs{"keepdims": int64(0)}
	var gh string
	if perGroup {
		gh = gMul(e, e.Op("Reshape", nil, g, view), e.Op("Reshape", nil, scale, gInts(e, -1, 1)))
	} else {
		gh = e.Op("Reshape", nil, gMul(e, g, e.Op("Reshape", nil, scale, gInts(e, append([]int64{-1}, gOnes(r-2)...)...))), view)
	}
	dx := make([]string, len(n.Inputs))
	dx[0] = e.Op("Reshape", nil, gradNormBackward(e, gh, xh, inv, axes), xs)
	if perGroup {
		both := gInts(e, 0, 2)
		if gNeeds(e, scale) {
			dx[1] = e.Op("ReduceSum", kd0, gMul(e, e.Op("Reshape", nil, g, view), xh), both)
		}
		if gNeeds(e, bias) {
			dx[2] = e.Op("ReduceSum", kd0, e.Op("Reshape", nil, g, view), both)
		}
		return dx, nil
	}
	other := gInts(e, append([]int64{0}, gRange(2, r)...)...)
	if gNeeds(e, scale) {
		dx[1] = e.Op("ReduceSum", kd0, gMul(e, g, e.Op("Reshape", nil, xh, xs)), other)
	}
	if gNeeds(e, bias) {
		dx[2] = e.Op("ReduceSum", kd0, g, other)
	}
	return dx, nil
}
