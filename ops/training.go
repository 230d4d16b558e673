package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// miOptimizerDef builds an ai.onnx.preview.training optimizer op. Its
// inputs are R (learning rate scalar), T (int64 step count scalar) and
// groups tensors per optimized tensor X: groups[0] of X, then of G, then of
// the state tensors. step updates one element given R, T and the element's
// values (x, g, states...), returning the new x and states in place.
func miOptimizerDef(name string, groups int, step func(n *graph.Node, r float64, t int64, v []float64)) *Def {
	return &Def{
		Name:   name,
		Domain: "ai.onnx.preview.training",
		Infer: func(ic *InferContext) ([]graph.Type, error) {
			if len(ic.In) < 2 || (len(ic.In)-2)%groups != 0 {
				return nil, ic.Errorf("needs R, T and %d tensors per optimized input", groups)
			}
			k := (len(ic.In) - 2) / groups
			var out []graph.Type
			for g := range groups {
				if g == 1 {
					continue // gradients are not outputs
				}
				out = append(out, ic.In[2+g*k:2+(g+1)*k]...)
			}
			return out, nil
		},
		Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) < 2 || (len(in)-2)%groups != 0 || in[0] == nil || in[1] == nil {
				return nil, Errorf(n, "needs R, T and %d tensors per optimized input", groups)
			}
			if in[0].Len() != 1 || !in[0].DType().IsFloat() || in[1].Len() != 1 || !in[1].DType().IsInt() {
				return nil, Errorf(n, "R must be a float scalar and T an integer scalar")
			}
			r, t := in[0].At(0), in[1].Int64s()[0]
			k := (len(in) - 2) / groups
			outs := make([][]*tensor.Tensor, groups)
			for j := range k {
				x := in[2+j]
				vals := make([][]float64, groups)
				for g := range groups {
					tg := in[2+g*k+j]
					if tg == nil || !tg.DType().IsFloat() || !tg.Shape().Equal(x.Shape()) {
						return nil, Errorf(n, "input %d must be a float tensor of shape %v", 2+g*k+j, x.Shape())
					}
					vals[g] = tg.Float64s()
				}
				v := make([]float64, groups)
				for e := range vals[0] {
					for g := range groups {
						v[g] = vals[g][e]
					}
					step(n, r, t, v)
					for g := range groups {
						vals[g][e] = v[g]
					}
				}
				for g := range groups {
					if g != 1 {
						outs[g] = append(outs[g], tensor.FromFloat64s(x.DType(), x.Shape(), vals[g]))
					}
				}
			}
			var out []*tensor.Tensor
			for g := range groups {
				out = append(out, outs[g]...)
			}
			return out, nil
		},
	}
}

// Adagrad is one step of Adagrad (ONNX ai.onnx.preview.training
// Adagrad-1). Inputs R, T, X..., G..., H...; outputs X_new..., H_new...:
//
//	r = R / (1 + T*decay_factor); g = norm_coefficient*X + G
//	H_new = H + g*g; X_new = X - r*g/(sqrt(H_new) + epsilon)
//
// Attributes decay_factor (0), epsilon (1e-6), norm_coefficient (0).
var Adagrad = miOptimizerDef("Adagrad", 3, func(n *graph.Node, r float64, t int64, v []float64) {
	decay := float64(n.Attrs.Float("decay_factor", 0))
	eps := float64(n.Attrs.Float("epsilon", 1e-6))
	norm := float64(n.Attrs.Float("norm_coefficient", 0))
	rr := r / (1 + float64(t)*decay)
	g := norm*v[0] + v[1]
	v[2] += g * g
	v[0] -= rr * g / (math.Sqrt(v[2]) + eps)
})

// Momentum is one step of SGD with momentum (ONNX
// ai.onnx.preview.training Momentum-1). Inputs R, T, X..., G..., V...;
// outputs X_new..., V_new...:
//
//	g = norm_coefficient*X + G; b = beta if T > 0 else 1
//	V_new = alpha*V + b*g
//	X_new = X - R*V_new                ("standard")
//	X_new = X - R*(g + alpha*V_new)    ("nesterov")
var Momentum = miOptimizerDef("Momentum", 3, func(n *graph.Node, r float64, t int64, v []float64) {
	alpha := float64(n.Attrs.Float("alpha", 0))
	beta := float64(n.Attrs.Float("beta", 0))
	norm := float64(n.Attrs.Float("norm_coefficient", 0))
	if t <= 0 {
		beta = 1
	}
	g := norm*v[0] + v[1]
	v[2] = alpha*v[2] + beta*g
	if n.Attrs.String("mode", "standard") == "nesterov" {
		v[0] -= r * (g + alpha*v[2])
	} else {
		v[0] -= r * v[2]
	}
})

// Adam is one step of Adam (ONNX ai.onnx.preview.training Adam-1). Inputs
// R, T, X..., G..., V..., H...; outputs X_new..., V_new..., H_new...:
//
//	g = norm_coefficient*X + G
//	V_new = alpha*V + (1-alpha)*g; H_new = beta*H + (1-beta)*g*g
//	R' = R*sqrt(1-beta^T)/(1-alpha^T) if T > 0 else R
//	X_new = (1-norm_coefficient_post) * (X - R'*V_new/(sqrt(H_new)+epsilon))
//
// Attributes alpha (0.9), beta (0.999), epsilon (1e-6), norm_coefficient
// (0), norm_coefficient_post (0).
var Adam = miOptimizerDef("Adam", 4, func(n *graph.Node, r float64, t int64, v []float64) {
	alpha := float64(n.Attrs.Float("alpha", 0.9))
	beta := float64(n.Attrs.Float("beta", 0.999))
	eps := float64(n.Attrs.Float("epsilon", 1e-6))
	norm := float64(n.Attrs.Float("norm_coefficient", 0))
	post := float64(n.Attrs.Float("norm_coefficient_post", 0))
	g := norm*v[0] + v[1]
	v[2] = alpha*v[2] + (1-alpha)*g
	v[3] = beta*v[3] + (1-beta)*g*g
	ra := r
	if t > 0 {
		ra = r * math.Sqrt(1-math.Pow(beta, float64(t))) / (1 - math.Pow(alpha, float64(t)))
	}
	v[0] = (1 - post) * (v[0] - ra*v[2]/(math.Sqrt(v[3])+eps))
})

func init() {
	Register(Adagrad)
	Register(Momentum)
	Register(Adam)
}
