package autodiff

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// Gradient checks compare Grad's analytic gradients with central finite
// differences of the loss L = Σ out·R for a fixed random R. They run in
// float64 (every reference kernel computes in float64, and layer graphs are
// promoted to float64 by promote64), with step h = 1e-6: the truncation
// error h²·f”' and the rounding error ε·|L|/h (ε = 2.2e-16) are both
// below 1e-9 for the O(1) values used, so a tolerance of 1e-6 absolute plus
// 1e-5 relative leaves a wide margin while catching any wrong rule (a wrong
// rule is off by O(1)).
const (
	fdStep = 1e-6
	fdAtol = 1e-6
	fdRtol = 1e-5
	// fdMaxElems caps the perturbed elements per input (a random sample).
	fdMaxElems = 60
)

// checkGrad checks d(Σ out·R)/d(w) for every w in wrt. g must read its
// inputs from feeds; it is modified.
func checkGrad(t *testing.T, g *graph.Graph, out string, feeds map[string]*tensor.Tensor, wrt []string) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	// Run once to learn out's shape and dtype.
	g.Outputs = []*graph.Value{{Name: out}}
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatalf("compile forward: %v", err)
	}
	res, err := p.Run(feeds)
	p.Close()
	if err != nil {
		t.Fatalf("run forward: %v", err)
	}
	y := res[out]
	rv := make([]float64, y.Len())
	for i := range rv {
		rv[i] = rng.Float64()*2 - 1
	}
	r := tensor.FromFloat64s(y.DType(), y.Shape(), rv)
	g.Inputs = append(g.Inputs, &graph.Value{Name: "check/r", Type: graph.TensorType(y.DType(), y.Shape()...)})
	feeds["check/r"] = r
	prod := "check/prod"
	loss := "check/loss"
	g.Nodes = append(g.Nodes,
		&graph.Node{Name: "check/mul", Op: "Mul", Inputs: []string{out, "check/r"}, Outputs: []string{prod}},
		&graph.Node{Name: "check/sum", Op: "ReduceSum", Inputs: []string{prod}, Outputs: []string{loss}, Attrs: graph.Attrs{"keepdims": int64(0)}},
	)
	grads, err := Grad(g, loss, wrt)
	if err != nil {
		t.Fatalf("Grad: %v", err)
	}
	g.Outputs = []*graph.Value{{Name: loss}}
	for _, gn := range grads {
		g.Outputs = append(g.Outputs, &graph.Value{Name: gn})
	}
	if err := g.Validate(nil); err != nil {
		t.Fatalf("gradient graph: %v", err)
	}
	p, err = runtime.Compile(g)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	defer p.Close()
	run := func() map[string]*tensor.Tensor {
		res, err := p.Run(feeds)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return res
	}
	base := run()
	for wi, w := range wrt {
		an := base[grads[wi]]
		x := feeds[w]
		if x == nil {
			t.Fatalf("%s is not fed", w)
		}
		if !an.Shape().Equal(x.Shape()) {
			t.Errorf("d/d%s: gradient shape %v, want %v", w, an.Shape(), x.Shape())
			continue
		}
		av := an.Float64s()
		xv := x.Float64s()
		idx := rng.Perm(len(xv))
		if len(idx) > fdMaxElems {
			idx = idx[:fdMaxElems]
		}
		bad := 0
		for _, i := range idx {
			orig := xv[i]
			set := func(v float64) float64 {
				xv[i] = v
				feeds[w] = tensor.FromFloat64s(x.DType(), x.Shape(), xv)
				return run()[loss].Float64s()[0]
			}
			lp := set(orig + fdStep)
			lm := set(orig - fdStep)
			set(orig)
			num := (lp - lm) / (2 * fdStep)
			if d := math.Abs(num - av[i]); d > fdAtol+fdRtol*math.Abs(num) || math.IsNaN(av[i]) {
				if bad < 5 {
					t.Errorf("d/d%s[%d]: analytic %.9g, numeric %.9g", w, i, av[i], num)
				}
				bad++
			}
		}
		feeds[w] = x
		if bad > 0 {
			t.Errorf("d/d%s: %d of %d checked elements differ", w, bad, len(idx))
		}
	}
}

// in describes one input of an op case.
type in struct {
	shape []int
	// ints makes an int64 constant input (axes, indices, shapes).
	ints []int64
	// vals fixes float values; otherwise uniform in [lo, hi) (default
	// [-1, 1)), avoiding |x - a| < away for each a in kinks.
	vals   []float64
	lo, hi float64
	kinks  []float64
	away   float64
	// konst makes a float input a constant (not differentiated).
	konst bool
	// bool makes a bool constant from vals (nonzero = true).
	bool bool
	// none marks an omitted optional input.
	none bool
}

type opCase struct {
	name   string
	op     string
	domain string
	attrs  graph.Attrs
	ins    []in
	nOut   int
	out    int // which output to check
	dt     tensor.DType
}

func (c *opCase) run(t *testing.T) {
	rng := rand.New(rand.NewSource(int64(len(c.name)) * 31))
	dt := c.dt
	if dt == tensor.Undefined {
		dt = tensor.Float64
	}
	g := &graph.Graph{Name: c.name}
	feeds := map[string]*tensor.Tensor{}
	var names, wrt []string
	for i, s := range c.ins {
		name := fmt.Sprintf("x%d", i)
		switch {
		case s.none:
			name = ""
		case s.ints != nil:
			shape := s.shape
			if shape == nil {
				shape = []int{len(s.ints)}
			}
			g.Params = append(g.Params, &graph.Param{Name: name, Tensor: tensor.FromInt64s(shape, s.ints)})
		case s.bool:
			b := make([]bool, len(s.vals))
			for j, v := range s.vals {
				b[j] = v != 0
			}
			g.Params = append(g.Params, &graph.Param{Name: name, Tensor: tensor.Must(tensor.Shape(s.shape), b)})
		default:
			v := s.vals
			if v == nil {
				v = randVals(rng, tensor.Shape(s.shape).Size(), s)
			}
			x := tensor.FromFloat64s(dt, s.shape, v)
			if s.konst {
				g.Params = append(g.Params, &graph.Param{Name: name, Tensor: x})
			} else {
				g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(dt, s.shape...)})
				feeds[name] = x
				wrt = append(wrt, name)
			}
		}
		names = append(names, name)
	}
	nOut := c.nOut
	if nOut == 0 {
		nOut = 1
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = fmt.Sprintf("y%d", i)
	}
	g.Nodes = append(g.Nodes, &graph.Node{Name: "op", Op: c.op, Domain: c.domain, Attrs: c.attrs, Inputs: names, Outputs: outs})
	checkGrad(t, g, outs[c.out], feeds, wrt)
}

func randVals(rng *rand.Rand, n int, s in) []float64 {
	lo, hi := s.lo, s.hi
	if lo == 0 && hi == 0 {
		lo, hi = -1, 1
	}
	away := s.away
	if away == 0 {
		away = 0.05
	}
	v := make([]float64, n)
	for i := range v {
	again:
		x := lo + rng.Float64()*(hi-lo)
		for _, k := range s.kinks {
			if math.Abs(x-k) < away {
				goto again
			}
		}
		v[i] = x
	}
	return v
}

func runCases(t *testing.T, cases []opCase) {
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// f is a float input of the given shape; k a kinked one.
func f(shape ...int) in { return in{shape: shape} }
func k(kinks []float64, shape ...int) in {
	return in{shape: shape, kinks: kinks}
}
func pos(shape ...int) in { return in{shape: shape, lo: 0.5, hi: 2} }
func ints(v ...int64) in  { return in{ints: v} }
