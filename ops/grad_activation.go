package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of the activation ops (x input, y output, g = dL/dy).
// At kinks (relu's 0, clip bounds) the derivative of the right side is not
// taken: the rules use the left-closed conventions of TensorFlow (relu'(0)
// = 0, leaky_relu'(0) = alpha).

func init() {
	// relu: g*(x > 0).
	// relu: g where y > 0 (from the output, see ReluGrad).
	RegisterGrad("", "Relu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return e.OpN("kiln", "ReluGrad", nil, 1, dy[0], n.Outputs[0]), nil
	})
	// leaky_relu: g*(x > 0 ? 1 : alpha).
	RegisterGrad("", "LeakyRelu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		alpha := float64(n.Attrs.Float("alpha", 0.01))
		return []string{e.Op("Where", nil, e.Op("Greater", nil, x, gScalar(e, 0, x)), dy[0], gMul(e, dy[0], gScalar(e, alpha, dy[0])))}, nil
	})
	// PRelu(x, slope): g*(x > 0 ? 1 : slope); slope gets g*x where x <= 0,
	// summed to its shape.
	RegisterGrad("", "PRelu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, s := n.Inputs[0], n.Inputs[1]
		pos := e.Op("Greater", nil, x, gScalar(e, 0, x))
		z := gScalar(e, 0, dy[0])
		dx := e.Op("Where", nil, pos, dy[0], gMul(e, dy[0], s))
		ds := e.Op("Where", nil, pos, z, gMul(e, dy[0], x))
		return []string{gSumTo(e, dx, x), gSumTo(e, ds, s)}, nil
	})
	// thresholded_relu: g*(x > alpha).
	RegisterGrad("", "ThresholdedRelu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		alpha := float64(n.Attrs.Float("alpha", 1))
		return []string{e.Op("Where", nil, e.Op("Greater", nil, x, gScalar(e, alpha, x)), dy[0], gScalar(e, 0, dy[0]))}, nil
	})
	// elu: g for x > 0, else g*(y + alpha).
	RegisterGrad("", "Elu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, y := n.Inputs[0], n.Outputs[0]
		alpha := float64(n.Attrs.Float("alpha", 1))
		neg := gMul(e, dy[0], gAdd(e, y, gScalar(e, alpha, y)))
		return []string{e.Op("Where", nil, e.Op("Greater", nil, x, gScalar(e, 0, x)), dy[0], neg)}, nil
	})
	// celu: g for x > 0, else g*exp(x/alpha).
	RegisterGrad("", "Celu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		alpha := float64(n.Attrs.Float("alpha", 1))
		neg := gMul(e, dy[0], e.Op("Exp", nil, gDiv(e, x, gScalar(e, alpha, x))))
		return []string{e.Op("Where", nil, e.Op("Greater", nil, x, gScalar(e, 0, x)), dy[0], neg)}, nil
	})
	// selu: g*gamma for x > 0, else g*(y + gamma*alpha).
	RegisterGrad("", "Selu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x, y := n.Inputs[0], n.Outputs[0]
		alpha := float64(n.Attrs.Float("alpha", 1.67326319217681884765625))
		gamma := float64(n.Attrs.Float("gamma", 1.05070102214813232421875))
		pos := gMul(e, dy[0], gScalar(e, gamma, dy[0]))
		neg := gMul(e, dy[0], gAdd(e, y, gScalar(e, gamma*alpha, y)))
		return []string{e.Op("Where", nil, e.Op("Greater", nil, x, gScalar(e, 0, x)), pos, neg)}, nil
	})
	// sigmoid: g*y*(1-y).
	RegisterGrad("", "Sigmoid", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		y := n.Outputs[0]
		return []string{gMul(e, dy[0], gMul(e, y, gSub(e, gScalar(e, 1, y), y)))}, nil
	})
	// tanh: g*(1-y^2).
	RegisterGrad("", "Tanh", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		y := n.Outputs[0]
		return []string{gMul(e, dy[0], gSub(e, gScalar(e, 1, y), gMul(e, y, y)))}, nil
	})
	// softplus: g*sigmoid(x).
	RegisterGrad("", "Softplus", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		return []string{gMul(e, dy[0], e.Op("Sigmoid", nil, n.Inputs[0]))}, nil
	})
	// softsign: g/(1+|x|)^2.
	RegisterGrad("", "Softsign", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		d := gAdd(e, gScalar(e, 1, x), e.Op("Abs", nil, x))
		return []string{gDiv(e, dy[0], gMul(e, d, d))}, nil
	})
	// hard_sigmoid: g*alpha where 0 < alpha*x + beta < 1.
	RegisterGrad("", "HardSigmoid", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		alpha := float64(n.Attrs.Float("alpha", 0.2))
		beta := float64(n.Attrs.Float("beta", 0.5))
		return []string{gradBand(e, x, dy[0], -beta/alpha, (1-beta)/alpha, alpha)}, nil
	})
	// hard_swish: x*hs(x) with hs = max(0, min(1, x/6 + 1/2)):
	// g*(hs(x) + x/6 where -3 < x < 3).
	RegisterGrad("", "HardSwish", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		hs := e.Op("HardSigmoid", graph.Attrs{"alpha": float32(1.0 / 6), "beta": float32(0.5)}, x)
		inner := gradBand(e, x, gMul(e, dy[0], x), -3, 3, 1.0/6)
		return []string{gAdd(e, gMul(e, dy[0], hs), inner)}, nil
	})
	// mish: x*tanh(softplus(x)): g*(t + x*sigmoid(x)*(1-t^2)), t = tanh(softplus(x)).
	RegisterGrad("", "Mish", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		t := e.Op("Tanh", nil, e.Op("Softplus", nil, x))
		d := gAdd(e, t, gMul(e, gMul(e, x, e.Op("Sigmoid", nil, x)), gSub(e, gScalar(e, 1, t), gMul(e, t, t))))
		return []string{gMul(e, dy[0], d)}, nil
	})
	// gelu (exact): g*(Phi(x) + x*phi(x)); tanh approximation: the
	// derivative of 0.5x(1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715x^3).
	RegisterGrad("", "Gelu", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		c := func(v float64) string { return gScalar(e, v, x) }
		switch n.Attrs.String("approximate", "none") {
		case "tanh":
			k := math.Sqrt(2 / math.Pi)
			x2 := gMul(e, x, x)
			u := gMul(e, c(k), gAdd(e, x, gMul(e, c(0.044715), gMul(e, x2, x))))
			t := e.Op("Tanh", nil, u)
			du := gMul(e, c(k), gAdd(e, c(1), gMul(e, c(3*0.044715), x2)))
			d := gAdd(e, gMul(e, c(0.5), gAdd(e, c(1), t)),
				gMul(e, gMul(e, c(0.5), x), gMul(e, gSub(e, c(1), gMul(e, t, t)), du)))
			return []string{gMul(e, dy[0], d)}, nil
		default:
			cdf := gMul(e, c(0.5), gAdd(e, c(1), e.Op("Erf", nil, gMul(e, x, c(1/math.Sqrt2)))))
			pdf := gMul(e, c(1/math.Sqrt(2*math.Pi)), e.Op("Exp", nil, gMul(e, c(-0.5), gMul(e, x, x))))
			return []string{gMul(e, dy[0], gAdd(e, cdf, gMul(e, x, pdf)))}, nil
		}
	})
}

// gradBand returns g*scale where lo < x < hi, else 0.
func gradBand(e GradEmitter, x, g string, lo, hi, scale float64) string {
	in := e.Op("And", nil, e.Op("Greater", nil, x, gScalar(e, lo, x)), e.Op("Less", nil, x, gScalar(e, hi, x)))
	return e.Op("Where", nil, in, gMul(e, g, gScalar(e, scale, g)), gScalar(e, 0, g))
}
