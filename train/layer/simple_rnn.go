package layer

import (
	"encoding/json"
	"fmt"
)

// SimpleRNN is keras.layers.SimpleRNN: per step
//
//	h' = a(x·kernel + bias + h·recurrent_kernel)
//
// with kernel (in, units), recurrent_kernel (units, units), bias (units) and
// a = activation (tanh). Keras 1 names the same arrays W, U and b. The output
// is h; return_state adds the final h.
type SimpleRNN struct {
	Base
	RecurrentConfig
	built Shape
}

func init() {
	Register("SimpleRNN", func() Layer { return &SimpleRNN{} })
}

// DecodeConfig reads Keras 1, 2 and 3 SimpleRNN configs.
func (l *SimpleRNN) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	return l.decode(raw, ctx, l, false)
}

// Build creates the weights and returns the output shapes.
func (l *SimpleRNN) Build(in []Shape) ([]Shape, error) {
	l.rnnDefaults()
	s, err := l.checkInput(l.Class(), in, 3)
	if err != nil {
		return nil, err
	}
	u, f := l.Units, s[2]
	if !l.Built {
		l.AddWeight("kernel", []int{f, u}, true)
		l.AddWeight("recurrent_kernel", []int{u, u}, true)
		if l.useBias() {
			l.AddWeight("bias", []int{u}, true)
		}
		rnnSetPaths(l.W)
		l.Built, l.built = true, s
	} else if s[2] != l.built[2] {
		return nil, fmt.Errorf("%s %q: built for %d input features, called with %s", l.Class(), l.Name(), l.built[2], in[0])
	}
	return l.outputShapes(s, Shape{u}, 1), nil
}

// Lower appends the SimpleRNN to the graph.
func (l *SimpleRNN) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
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
	bias := ""
	if len(l.W) > 2 {
		bias = b.Param(l.W[2])
	}
	r := b.Param(l.W[1])
	loop := &rnnLoop{
		x: rnnProject(b, x, b.Param(l.W[0]), bias), mask: rnnMask(in), init: init,
		stateDims: [][]int{{u}}, outState: 0,
		backwards: l.GoBackwards, zeroOut: l.ZeroOutputForMask, seqOut: l.ReturnSequences,
		step: func(sb *Builder, xt string, st []string) ([]string, error) {
			h, err := l.Activation.Lower(sb, sb.Op("Add", nil, xt, sb.Op("MatMul", nil, st[0], r)))
			return []string{h}, err
		},
	}
	seq, finals, last, err := loop.run(b)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", l.Class(), l.Name(), err)
	}
	return l.rnnFinish(b, in, outShapes, seq, last, finals), nil
}
