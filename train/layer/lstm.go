package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
)

// LSTM is keras.layers.LSTM (and Keras 2's CuDNNLSTM). Per step, with the
// gates i, f, c, o in that order along the last axis of kernel (in,
// 4·units), recurrent_kernel (units, 4·units) and bias (4·units):
//
//	z = x·kernel + h·recurrent_kernel + bias
//	i = ra(z_i), f = ra(z_f), o = ra(z_o)
//	c' = f⊙c + i⊙a(z_c),  h' = o⊙a(c')
//
// with a = activation (tanh) and ra = recurrent_activation (sigmoid in
// Keras 3 and tf.keras 2, hard_sigmoid in Keras 1 and 2; hard_sigmoid itself
// means different things before and after Keras 3, see Activation). The
// output is h; return_state adds the final h and c. unit_forget_bias only
// initializes the bias.
//
// Keras 1 with consume_less other than "gpu" saves twelve arrays in the
// order W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o; Build
// creates them so and lowering concatenates them in Keras 2's gate order.
// CuDNNLSTM uses tanh and sigmoid and a bias of 8·units (cuDNN's input
// biases, then its recurrent biases), whose halves add up.
//
// Extra inputs after the sequence are the initial h and c. Masks and
// go_backwards follow rnnLoop.
type LSTM struct {
	Base
	RecurrentConfig
	UnitForgetBias bool `json:"unit_forget_bias"`
	// CuDNN marks a CuDNNLSTM.
	CuDNN bool `json:"-"`
	built Shape
}

func init() {
	Register("LSTM", func() Layer { return &LSTM{} })
	Register("CuDNNLSTM", func() Layer { return &LSTM{CuDNN: true} })
}

// DecodeConfig reads Keras 1, 2 and 3 LSTM configs.
func (l *LSTM) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if l.CuDNN {
		if err := json.Unmarshal(raw, l); err != nil {
			return err
		}
		l.Activation, l.RecurrentActivation = Activation{Name: "tanh"}, Activation{Name: "sigmoid"}
		if l.Units <= 0 {
			return fmt.Errorf("units must be positive, got %d", l.Units)
		}
		if l.Stateful {
			return statefulErr()
		}
		return nil
	}
	return l.decode(raw, ctx, l, true)
}

// Build creates the weights and returns the output shapes.
func (l *LSTM) Build(in []Shape) ([]Shape, error) {
	l.rnnDefaults()
	s, err := l.checkInput(l.Class(), in, 3)
	if err != nil {
		return nil, err
	}
	u, f := l.Units, s[2]
	if !l.Built {
		if l.keras1Split() {
			for _, g := range []string{"i", "c", "f", "o"} {
				l.AddWeight("W_"+g, []int{f, u}, true)
				l.AddWeight("U_"+g, []int{u, u}, true)
				l.AddWeight("b_"+g, []int{u}, true)
			}
		} else {
			l.AddWeight("kernel", []int{f, 4 * u}, true)
			l.AddWeight("recurrent_kernel", []int{u, 4 * u}, true)
			if l.CuDNN {
				l.AddWeight("bias", []int{8 * u}, true)
			} else if l.useBias() {
				l.AddWeight("bias", []int{4 * u}, true)
			}
			rnnSetPaths(l.W)
		}
		l.Built, l.built = true, s
	} else if s[2] != l.built[2] {
		return nil, fmt.Errorf("%s %q: built for %d input features, called with %s", l.Class(), l.Name(), l.built[2], in[0])
	}
	return l.outputShapes(s, Shape{u}, 2), nil
}

// lstmParams returns the kernel, recurrent kernel and bias ("" if none) in
// Keras 2's layout.
func (l *LSTM) lstmParams(b *Builder) (k, r, bias string) {
	if l.keras1Split() {
		var ks, rs, bs []string
		for _, g := range []int{0, 2, 1, 3} { // saved i, c, f, o; wanted i, f, c, o
			ks = append(ks, b.Param(l.W[3*g]))
			rs = append(rs, b.Param(l.W[3*g+1]))
			bs = append(bs, b.Param(l.W[3*g+2]))
		}
		return b.Op("Concat", graph.Attrs{"axis": int64(1)}, ks...),
			b.Op("Concat", graph.Attrs{"axis": int64(1)}, rs...),
			b.Op("Concat", graph.Attrs{"axis": int64(0)}, bs...)
	}
	k, r = b.Param(l.W[0]), b.Param(l.W[1])
	if len(l.W) > 2 {
		bias = b.Param(l.W[2])
		if l.CuDNN {
			u := l.Units
			bias = b.Op("Add", nil, rnnRange(b, bias, 0, 0, 4*u), rnnRange(b, bias, 0, 4*u, 8*u))
		}
	}
	return k, r, bias
}

// Lower appends the LSTM to the graph.
func (l *LSTM) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	s, err := l.checkInput(l.Class(), []Shape{in[0].Shape}, 3)
	if err != nil {
		return nil, err
	}
	outShapes := l.outputShapes(s, Shape{l.Units}, 2)
	u := l.Units
	x, init, err := l.rnnPrepare(b, in, [][]int{{u}, {u}})
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", l.Class(), l.Name(), err)
	}
	k, r, bias := l.lstmParams(b)
	loop := &rnnLoop{
		x: rnnProject(b, x, k, bias), mask: rnnMask(in), init: init,
		stateDims: [][]int{{u}, {u}}, outState: 0,
		backwards: l.GoBackwards, zeroOut: l.ZeroOutputForMask, seqOut: l.ReturnSequences,
		step: func(sb *Builder, xt string, st []string) ([]string, error) {
			z := sb.Op("Add", nil, xt, sb.Op("MatMul", nil, st[0], r))
			g := rnnSplit(sb, z, 4, u)
			ra, a := l.RecurrentActivation, l.Activation
			i, err := ra.Lower(sb, g[0])
			if err != nil {
				return nil, err
			}
			f, _ := ra.Lower(sb, g[1])
			cc, err := a.Lower(sb, g[2])
			if err != nil {
				return nil, err
			}
			o, _ := ra.Lower(sb, g[3])
			c := sb.Op("Add", nil, sb.Op("Mul", nil, f, st[1]), sb.Op("Mul", nil, i, cc))
			ac, _ := a.Lower(sb, c)
			h := sb.Op("Mul", nil, o, ac)
			return []string{h, c}, nil
		},
	}
	seq, finals, last, err := loop.run(b)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", l.Class(), l.Name(), err)
	}
	return l.rnnFinish(b, in, outShapes, seq, last, finals), nil
}
