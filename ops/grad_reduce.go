package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of the Reduce* ops. The output gradient g (and, where the
// rule needs it, the output y) is first brought to keepdims form (Unsqueeze
// at the reduced axes; the axes input may be negative, and Unsqueeze counts
// negative axes against the input's rank exactly as the reduction does),
// then broadcast against x:
//
//	ReduceSum        g                     ReduceMean   g / (|x| / |y|)
//	ReduceSumSquare  2 x g                 ReduceL1     sign(x) g
//	ReduceL2         x g / y               ReduceLogSumExp  g exp(x - y)
//	ReduceLogSum     g / exp(y)            ReduceProd   g y / x (x != 0)
//	ReduceMax/Min    g m / count(m), m = (x == y): ties share the gradient
//	                 equally, as TensorFlow's reduce_max gradient does.

func init() {
	for _, op := range []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceLogSum", "ReduceProd"} {
		op := op
		RegisterGrad("", op, func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
			return gradReduce(e, n, op, dy)
		})
	}
}

func gradReduce(e GradEmitter, n *graph.Node, op string, dy []string) ([]string, error) {
	x, y := n.Inputs[0], n.Outputs[0]
	axes := n.Input(1)
	if c := gConst(e, axes); c != nil && c.Len() == 0 {
		axes = ""
	}
	dx := make([]string, len(n.Inputs))
	if axes == "" && n.Attrs.Int("noop_with_empty_axes", 0) != 0 {
		dx[0] = dy[0]
		return dx, nil
	}
	keep := func(v string) string {
		if n.Attrs.Int("keepdims", 1) != 0 || axes == "" {
			return v
		}
		return e.Op("Unsqueeze", nil, v, axes)
	}
	g := keep(dy[0])
	shape := gShape(e, x)
	var r string
	switch op {
	case "ReduceSum":
		r = e.Op("Expand", nil, g, shape)
	case "ReduceMean":
		cnt := e.Op("CastLike", nil, gDiv(e, e.Op("Size", nil, x), e.Op("Size", nil, y)), x)
		r = e.Op("Expand", nil, gDiv(e, g, cnt), shape)
	case "ReduceSumSquare":
		r = gMul(e, gMul(e, x, gScalar(e, 2, x)), g)
	case "ReduceL1":
		r = gMul(e, e.Op("Sign", nil, x), g)
	case "ReduceL2":
		r = gMul(e, x, gDiv(e, g, keep(y)))
	case "ReduceLogSumExp":
		r = gMul(e, g, e.Op("Exp", nil, gSub(e, x, keep(y))))
	case "ReduceLogSum":
		r = e.Op("Expand", nil, gDiv(e, g, e.Op("Exp", nil, keep(y))), shape)
	case "ReduceProd":
		r = gDiv(e, gMul(e, g, keep(y)), x)
	case "ReduceMax", "ReduceMin":
		m := gMask(e, e.Op("Equal", nil, x, keep(y)), x)
		kd := graph.Attrs{"keepdims": int64(1)}
		var cnt string
		if axes == "" {
			cnt = e.Op("ReduceSum", kd, m)
		} else {
			cnt = e.Op("ReduceSum", kd, m, axes)
		}
		r = gMul(e, m, gDiv(e, g, cnt))
	}
	dx[0] = r
	return dx, nil
}
