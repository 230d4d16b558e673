// Package verify checks that two graphs compute the same function: it feeds
// both the same seeded random inputs of their declared shapes and reports
// the largest absolute difference per output. kconv uses it after a
// conversion; tests use it to hold exported models against their source.
package verify

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// Options choose the random inputs.
type Options struct {
	Seed uint64
	// Batch is the size of an unknown leading dimension (default 2); Dim
	// the size of other unknown dimensions (default 1).
	Batch, Dim int
	// IntHigh bounds random integer inputs to [0, IntHigh) (default 2), so
	// that index inputs (an Embedding's token ids) stay in range.
	IntHigh int64
}

func (o Options) withDefaults() Options {
	if o.Batch <= 0 {
		o.Batch = 2
	}
	if o.Dim <= 0 {
		o.Dim = 1
	}
	if o.IntHigh <= 0 {
		o.IntHigh = 2
	}
	return o
}

// Shape is the concrete shape used for an input's declared type: unknown
// leading dimensions get Batch, other unknown ones Dim.
func Shape(t graph.Type, o Options) (tensor.Shape, error) {
	o = o.withDefaults()
	if t.Kind != graph.KindTensor || t.Unranked {
		return nil, fmt.Errorf("verify: input of type %s: only ranked tensors get random values", t)
	}
	s := make(tensor.Shape, len(t.Shape))
	for i, d := range t.Shape {
		switch {
		case d >= 0:
			s[i] = d
		case i == 0:
			s[i] = o.Batch
		default:
			s[i] = o.Dim
		}
	}
	return s, nil
}

// RandomInputs makes one tensor per graph input: floats uniform in
// [-1, 1), integers uniform in [0, IntHigh), bools fair coins.
func RandomInputs(g *graph.Graph, o Options) (map[string]*tensor.Tensor, error) {
	o = o.withDefaults()
	r := rand.New(rand.NewPCG(o.Seed, 0x6b696c6e))
	out := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		sh, err := Shape(v.Type, o)
		if err != nil {
			return nil, fmt.Errorf("verify: input %q: %w", v.Name, err)
		}
		n := sh.Size()
		dt := v.Type.DType
		switch {
		case dt.IsFloat():
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = r.Float64()*2 - 1
			}
			out[v.Name] = tensor.FromFloat64s(dt, sh, vals)
		case dt.IsInt():
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = float64(r.Int64N(o.IntHigh))
			}
			out[v.Name] = tensor.FromFloat64s(dt, sh, vals)
		case dt == tensor.Bool:
			b := make([]bool, n)
			for i := range b {
				b[i] = r.IntN(2) == 1
			}
			out[v.Name] = tensor.From(sh, b)
		default:
			return nil, fmt.Errorf("verify: input %q: no random values for element type %s", v.Name, dt)
		}
	}
	return out, nil
}

// Diff is the comparison of one output.
type Diff struct {
	Name   string
	Shape  tensor.Shape
	MaxAbs float64 // NaN where one side is NaN and the other is not
}

// Run compiles g and runs it on inputs, returning outputs in g's order.
func Run(g *graph.Graph, inputs map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	p, err := runtime.Compile(g)
	if err != nil {
		return nil, err
	}
	res, err := p.RunContext(context.Background(), inputs)
	if err != nil {
		return nil, err
	}
	outs := make([]*tensor.Tensor, len(g.Outputs))
	for i, v := range g.Outputs {
		outs[i] = res[v.Name]
	}
	return outs, nil
}

// Compare runs a and b on the same random inputs (made from a's declared
// inputs and bound to b's inputs by position) and reports, per output
// position, the max absolute difference.
func Compare(a, b *graph.Graph, o Options) ([]Diff, error) {
	if len(a.Inputs) != len(b.Inputs) || len(a.Outputs) != len(b.Outputs) {
		return nil, fmt.Errorf("verify: the models differ in signature: %d inputs and %d outputs vs %d and %d", len(a.Inputs), len(a.Outputs), len(b.Inputs), len(b.Outputs))
	}
	in, err := RandomInputs(a, o)
	if err != nil {
		return nil, err
	}
	inB := map[string]*tensor.Tensor{}
	for i, v := range b.Inputs {
		inB[v.Name] = in[a.Inputs[i].Name]
	}
	ra, err := Run(a, in)
	if err != nil {
		return nil, fmt.Errorf("verify: running the source model: %w", err)
	}
	rb, err := Run(b, inB)
	if err != nil {
		return nil, fmt.Errorf("verify: running the converted model: %w", err)
	}
	diffs := make([]Diff, len(ra))
	for i := range ra {
		d, err := MaxAbsDiff(ra[i], rb[i])
		if err != nil {
			return nil, fmt.Errorf("verify: output %q: %w", a.Outputs[i].Name, err)
		}
		diffs[i] = Diff{Name: a.Outputs[i].Name, Shape: ra[i].Shape(), MaxAbs: d}
	}
	return diffs, nil
}

// MaxAbsDiff is max |a - b| over the elements; shapes must match. Equal
// infinities and NaN against NaN count as 0; NaN against a number as NaN.
func MaxAbsDiff(a, b *tensor.Tensor) (float64, error) {
	if a == nil || b == nil {
		return 0, fmt.Errorf("missing output")
	}
	if !a.Shape().Equal(b.Shape()) {
		return 0, fmt.Errorf("shape %v vs %v", a.Shape(), b.Shape())
	}
	if a.DType() == tensor.String || b.DType() == tensor.String {
		as, bs := a.Strings(), b.Strings()
		for i := range as {
			if as[i] != bs[i] {
				return math.Inf(1), nil
			}
		}
		return 0, nil
	}
	av, bv := a.Float64s(), b.Float64s()
	m := 0.0
	for i := range av {
		x, y := av[i], bv[i]
		switch {
		case math.IsNaN(x) && math.IsNaN(y), x == y:
			continue
		case math.IsNaN(x) || math.IsNaN(y):
			return math.NaN(), nil
		}
		if d := math.Abs(x - y); d > m {
			m = d
		}
	}
	return m, nil
}
