package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of the elementwise ops: arithmetic with numpy
// broadcasting (each operand's gradient is summed back to its shape with
// kiln:SumToShape), unary maths and Keras's activations. Notation: x the
// input, y the output, g the incoming gradient dL/dy.

func init() {
	RegisterGrad("", "Identity", gradPass)
	RegisterGrad("", "Add", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b := n.Inputs[0], n.Inputs[1]
		return []string{gSumTo(e, dy[0], a), gSumTo(e, dy[0], b)}, nil
	})
	RegisterGrad("", "Sub", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b := n.Inputs[0], n.Inputs[1]
		return []string{gSumTo(e, dy[0], a), gSumTo(e, gNeg(e, dy[0]), b)}, nil
	})
	RegisterGrad("", "Sum", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		dx := make([]string, len(n.Inputs))
		for i, x := range n.Inputs {
			dx[i] = gSumTo(e, dy[0], x)
		}
		return dx, nil
	})
	RegisterGrad("", "Mul", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b := n.Inputs[0], n.Inputs[1]
		return []string{gSumTo(e, gMul(e, dy[0], b), a), gSumTo(e, gMul(e, dy[0], a), b)}, nil
	})
	// d(a/b) = g/b, -g*a/b^2 = -g*y/b.
	RegisterGrad("", "Div", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		da := gDiv(e, dy[0], b)
		db := gNeg(e, gDiv(e, gMul(e, dy[0], y), b))
		return []string{gSumTo(e, da, a), gSumTo(e, db, b)}, nil
	})
	RegisterGrad("", "Neg", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gNeg(e, dy[0])}, nil
	})
	// d(a^b) = g*b*a^(b-1), g*y*log(a) (the exponent's gradient is only
	// meaningful for a > 0).
	RegisterGrad("", "Pow", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		bm1 := gSub(e, b, gScalar(e, 1, b))
		pa := e.Op("Pow", nil, a, bm1)
		da := gMul(e, dy[0], gMul(e, e.Op("CastLike", nil, b, a), pa))
		db := gMul(e, dy[0], gMul(e, y, e.Op("Log", nil, a)))
		return []string{gSumTo(e, da, a), gSumTo(e, e.Op("CastLike", nil, db, b), b)}, nil
	})
	// sqrt: g/(2y).
	RegisterGrad("", "Sqrt", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		y := n.Outputs[0]
		return []string{gDiv(e, dy[0], gMul(e, y, gScalar(e, 2, y)))}, nil
	})
	RegisterGrad("", "Exp", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gMul(e, dy[0], n.Outputs[0])}, nil
	})
	RegisterGrad("", "Log", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gDiv(e, dy[0], n.Inputs[0])}, nil
	})
	// |x|: g*sign(x) (0 at 0).
	RegisterGrad("", "Abs", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gMul(e, dy[0], e.Op("Sign", nil, n.Inputs[0]))}, nil
	})
	// 1/x: -g*y^2.
	RegisterGrad("", "Reciprocal", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		y := n.Outputs[0]
		return []string{gNeg(e, gMul(e, dy[0], gMul(e, y, y)))}, nil
	})
	// erf: g*2/sqrt(pi)*exp(-x^2).
	RegisterGrad("", "Erf", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		ex := e.Op("Exp", nil, gNeg(e, gMul(e, x, x)))
		return []string{gMul(e, dy[0], gMul(e, ex, gScalar(e, 2/math.Sqrt(math.Pi), x)))}, nil
	})
	RegisterGrad("", "Sin", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gMul(e, dy[0], e.Op("Cos", nil, n.Inputs[0]))}, nil
	})
	RegisterGrad("", "Cos", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gNeg(e, gMul(e, dy[0], e.Op("Sin", nil, n.Inputs[0])))}, nil
	})
	// Cast: the gradient is cast back to the input's type.
	RegisterGrad("", "Cast", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{e.Op("CastLike", nil, dy[0], n.Inputs[0])}, nil
	})
	RegisterGrad("", "CastLike", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{e.Op("CastLike", nil, dy[0], n.Inputs[0]), ""}, nil
	})
	// Where(c, a, b): g where c, and g where not c, each summed to its shape.
	RegisterGrad("", "Where", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		c, a, b := n.Inputs[0], n.Inputs[1], n.Inputs[2]
		z := gScalar(e, 0, dy[0])
		da := e.Op("Where", nil, c, dy[0], z)
		db := e.Op("Where", nil, c, z, dy[0])
		return []string{"", gSumTo(e, da, a), gSumTo(e, db, b)}, nil
	})
	RegisterGrad("", "Max", gradMinMax)
	RegisterGrad("", "Min", gradMinMax)
	// Clip(x, lo, hi): g where lo <= x <= hi; the bounds get the gradient
	// where they are the output.
	RegisterGrad("", "Clip", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		dx := make([]string, len(n.Inputs))
		keep := ""
		and := func(m string) {
			if keep == "" {
				keep = m
			} else {
				keep = e.Op("And", nil, keep, m)
			}
		}
		lo, hi := n.Input(1), n.Input(2)
		if lo != "" {
			and(e.Op("GreaterOrEqual", nil, x, lo))
		}
		if hi != "" {
			and(e.Op("LessOrEqual", nil, x, hi))
		}
		if keep == "" {
			dx[0] = dy[0]
			return dx, nil
		}
		z := gScalar(e, 0, dy[0])
		dx[0] = e.Op("Where", nil, keep, dy[0], z)
		if lo != "" {
			dx[1] = gSumTo(e, e.Op("Where", nil, e.Op("Less", nil, x, lo), dy[0], z), lo)
		}
		if hi != "" {
			below := e.Op("Greater", nil, x, hi)
			if lo != "" {
				below = e.Op("And", nil, below, e.Op("GreaterOrEqual", nil, x, lo))
			}
			dx[2] = gSumTo(e, e.Op("Where", nil, below, dy[0], z), hi)
		}
		return dx, nil
	})
}

// gradPass passes the gradient through unchanged.
func gradPass(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
	return []string{dy[0]}, nil
}

// gradMinMax routes g to the operand that is the output, the first one on
// ties (TensorFlow's maximum gives a tie to the first operand as well).
func gradMinMax(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
	y := n.Outputs[0]
	z := gScalar(e, 0, dy[0])
	dx := make([]string, len(n.Inputs))
	taken := ""
	for i, x := range n.Inputs {
		m := e.Op("Equal", nil, x, y)
		if taken != "" {
			m = e.Op("And", nil, m, e.Op("Not", nil, taken))
		}
		if i < len(n.Inputs)-1 {
			if taken == "" {
				taken = m
			} else {
				taken = e.Op("Or", nil, taken, m)
			}
		}
		dx[i] = gSumTo(e, e.Op("Where", nil, m, dy[0], z), x)
	}
	return dx, nil
}
