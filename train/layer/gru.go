package layer

import (
	"encoding/json"
	"fmt"
)

// GRU is keras.layers.GRU (and Keras 2's CuDNNGRU). The gates z (update), r
// (reset) and h (candidate) lie in that order along the last axis of kernel
// (in, 3·units) and recurrent_kernel (units, 3·units). Per step, with a =
// activation (tanh) and ra = recurrent_activation:
//
//	reset_after=true (tf.keras 2 and Keras 3 default; bias (2, 3·units):
//	row 0 the input bias, row 1 the recurrent bias):
//	  xz, xr, xh = x·kernel + bias[0];  rz, rr, rh = h·recurrent_kernel + bias[1]
//	  z = ra(xz + rz), r = ra(xr + rr), hh = a(xh + r⊙rh)
//	reset_after=false (Keras 1 and 2 default; bias (3·units)):
//	  xz, xr, xh = x·kernel + bias
//	  z = ra(xz + h·Uz), r = ra(xr + h·Ur), hh = a(xh + (r⊙h)·Uh)
//	h' = z⊙h + (1-z)⊙hh
//
// A config without reset_after (Keras before 2.1.5 or so) means false.
// Keras 1 with consume_less other than "gpu" saves nine arrays W_z, U_z,
// b_z, W_r, U_r, b_r, W_h, U_h, b_h. CuDNNGRU is reset_after=true with tanh
// and sigmoid and its bias (6·units) holds the input then the recurrent
// biases, the same numbers as bias (2, 3·units).
type GRU struct {
	Base
	RecurrentConfig
	ResetAfter bool `json:"reset_after"`
	// CuDNN marks a CuDNNGRU.
	CuDNN bool `json:"-"`
	built Shape
}

func init() {
	Register("GRU", func() Layer { return &GRU{} })
	Register("CuDNNGRU", func() Layer { return &GRU{CuDNN: true} })
}

// DecodeConfig reads Keras 1, 2 and 3 GRU configs.
func (l *GRU) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if l.CuDNN {
		if err := json.Unmarshal(raw, l); err != nil {
			return err
		}
		l.Activation, l.RecurrentActivation = Activation{Name: "tanh"}, Activation{Name: "sigmoid"}
		l.ResetAfter = true
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
func (l *GRU) Build(in []Shape) ([]Shape, error) {
	l.rnnDefaults()
	s, err := l.checkInput(l.Class(), in, 3)
	if err != nil {
		return nil, err
	}
	u, f := l.Units, s[2]
	if !l.Built {
		switch {
		case l.keras1Split():
			for _, g := range []string{"z", "r", "h"} {
				l.AddWeight("W_"+g, []int{f, u}, true)
				l.AddWeight("U_"+g, []int{u, u}, true)
				l.AddWeight("b_"+g, []int{u}, true)
			}
		default:
			l.AddWeight("kernel", []int{f, 3 * u}, true)
			l.AddWeight("recurrent_kernel", []int{u, 3 * u}, true)
			switch {
			case l.CuDNN:
				l.AddWeight("bias", []int{6 * u}, true)
			case !l.useBias():
			case l.ResetAfter:
				l.AddWeight("bias", []int{2, 3 * u}, true)
			default:
				l.AddWeight("bias", []int{3 * u}, true)
			}
			rnnSetPaths(l.W)
		}
		l.Built, l.built = true, s
	} else if s[2] != l.built[2] {
		return nil, fmt.Errorf("%s %q: built for %d input features, called with %s", l.Class(), l.Name(), l.built[2], in[0])
	}
	return l.outputShapes(s, Shape{u}, 1), nil
}

// gruParams returns the kernel, recurrent kernel, input bias and recurrent
// bias ("" when absent) in Keras 2's layout.
func (l *GRU) gruParams(b *Builder) (k, r, ib, rb string) {
	u := l.Units
	if l.keras1Split() {
		cat := func(axis int64, off int) string {
			var xs []string
			for g := range 3 {
				xs = append(xs, b.Param(l.W[3*g+off]))
			}
			return b.Op("Concat", map[string]any{"axis": axis}, xs...)
		}
		return cat(1, 0), cat(1, 1), cat(0, 2), ""
	}
	k, r = b.Param(l.W[0]), b.Param(l.W[1])
	if len(l.W) > 2 {
		bias := b.Param(l.W[2])
		switch {
		case l.CuDNN:
			ib, rb = rnnRange(b, bias, 0, 0, 3*u), rnnRange(b, bias, 0, 3*u, 6*u)
		case l.ResetAfter:
			ib, rb = rnnRow(b, bias, 0), rnnRow(b, bias, 1)
		default:
			ib = bias
		}
	}
	return k, r, ib, rb
}

// Lower appends the GRU to the graph.
func (l *GRU) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	s, err := l.checkInput(l.Class(), []Shape{in[0].Shape}, 3)
	if err != nil {
		return nil, err
	}
	u := l.Units
	outShapes := l.outputShapes(s, Shape{u}, 1)
	x, init, err := l.rnnPrepare(b, in, [][]int{{u}})
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", l.Class(), l.Name(), err)
	}
	k, r, ib, rb := l.gruParams(b)
	resetAfter := l.ResetAfter || l.CuDNN
	var rzr, rh string
	if !resetAfter {
		rzr, rh = rnnRange(b, r, 1, 0, 2*u), rnnRange(b, r, 1, 2*u, 3*u)
	}
	ra, a := l.RecurrentActivation, l.Activation
	loop := &rnnLoop{
		x: rnnProject(b, x, k, ib), mask: rnnMask(in), init: init,
		stateDims: [][]int{{u}}, outState: 0,
		backwards: l.GoBackwards, zeroOut: l.ZeroOutputForMask, seqOut: l.ReturnSequences,
		step: func(sb *Builder, xt string, st []string) ([]string, error) {
			h := st[0]
			xg := rnnSplit(sb, xt, 3, u)
			var z, rg, hh string
			var err error
			if resetAfter {
				inner := sb.Op("MatMul", nil, h, r)
				if rb != "" {
					inner = sb.Op("Add", nil, inner, rb)
				}
				ig := rnnSplit(sb, inner, 3, u)
				if z, err = ra.Lower(sb, sb.Op("Add", nil, xg[0], ig[0])); err != nil {
					return nil, err
				}
				rg, _ = ra.Lower(sb, sb.Op("Add", nil, xg[1], ig[1]))
				if hh, err = a.Lower(sb, sb.Op("Add", nil, xg[2], sb.Op("Mul", nil, rg, ig[2]))); err != nil {
					return nil, err
				}
			} else {
				ig := rnnSplit(sb, sb.Op("MatMul", nil, h, rzr), 2, u)
				if z, err = ra.Lower(sb, sb.Op("Add", nil, xg[0], ig[0])); err != nil {
					return nil, err
				}
				rg, _ = ra.Lower(sb, sb.Op("Add", nil, xg[1], ig[1]))
				rec := sb.Op("MatMul", nil, sb.Op("Mul", nil, rg, h), rh)
				if hh, err = a.Lower(sb, sb.Op("Add", nil, xg[2], rec)); err != nil {
					return nil, err
				}
			}
			one := sb.Scalar(1)
			hn := sb.Op("Add", nil, sb.Op("Mul", nil, z, h), sb.Op("Mul", nil, sb.Op("Sub", nil, one, z), hh))
			return []string{hn}, nil
		},
	}
	seq, finals, last, err := loop.run(b)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", l.Class(), l.Name(), err)
	}
	return l.rnnFinish(b, in, outShapes, seq, last, finals), nil
}
