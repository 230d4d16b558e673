package ops

import (
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// rndNode builds a node of a random op with nIn inputs.
func rndNode(op string, nIn int, attrs graph.Attrs) *graph.Node {
	n := &graph.Node{Name: "rnd_" + strings.ToLower(op), Op: op, Outputs: []string{"y"}, Attrs: attrs}
	for i := range nIn {
		n.Inputs = append(n.Inputs, string(rune('a'+i)))
	}
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	return n
}

// rndRun runs a random op's kernel once and returns its output.
func rndRun(t *testing.T, op string, attrs graph.Attrs, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := Lookup("", op).Kernel(rndNode(op, len(in), attrs), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%s returned %d outputs, want 1", op, len(out))
	}
	return out[0]
}

// rndInfer runs a random op's Infer with the inputs' types (and values,
// as compile-time constants).
func rndInfer(op string, attrs graph.Attrs, in ...*tensor.Tensor) ([]graph.Type, error) {
	ic := &InferContext{Node: rndNode(op, len(in), attrs)}
	for _, x := range in {
		ic.In = append(ic.In, graph.TensorType(x.DType(), x.Shape()...))
		ic.Consts = append(ic.Consts, x)
	}
	return Lookup("", op).Infer(ic)
}

func rndFill(dt tensor.DType, shape tensor.Shape, v float64) *tensor.Tensor {
	vals := make([]float64, shape.Size())
	for i := range vals {
		vals[i] = v
	}
	return tensor.FromFloat64s(dt, shape, vals)
}

// Output shapes and dtypes follow the attributes or the input exactly, at
// run time and in Infer.
func TestRandomShapesAndDTypes(t *testing.T) {
	s234 := []int64{2, 3, 4}
	cases := []struct {
		name  string
		op    string
		attrs graph.Attrs
		in    []*tensor.Tensor
		dt    tensor.DType
		shape tensor.Shape
	}{
		{"uniform default", "RandomUniform", graph.Attrs{"shape": s234}, nil, tensor.Float32, tensor.Shape{2, 3, 4}},
		{"uniform float16", "RandomUniform", graph.Attrs{"shape": s234, "dtype": int64(tensor.Float16)}, nil, tensor.Float16, tensor.Shape{2, 3, 4}},
		{"uniform bfloat16", "RandomUniform", graph.Attrs{"shape": s234, "dtype": int64(tensor.BFloat16)}, nil, tensor.BFloat16, tensor.Shape{2, 3, 4}},
		{"uniform float64", "RandomUniform", graph.Attrs{"shape": s234, "dtype": int64(tensor.Float64)}, nil, tensor.Float64, tensor.Shape{2, 3, 4}},
		{"uniform scalar", "RandomUniform", graph.Attrs{"shape": []int64{}}, nil, tensor.Float32, tensor.Shape{}},
		{"uniform empty", "RandomUniform", graph.Attrs{"shape": []int64{3, 0}}, nil, tensor.Float32, tensor.Shape{3, 0}},
		{"normal default", "RandomNormal", graph.Attrs{"shape": []int64{5}}, nil, tensor.Float32, tensor.Shape{5}},
		{"normal float64", "RandomNormal", graph.Attrs{"shape": []int64{5, 1}, "dtype": int64(tensor.Float64)}, nil, tensor.Float64, tensor.Shape{5, 1}},
		{"normal bfloat16", "RandomNormal", graph.Attrs{"shape": []int64{7}, "dtype": int64(tensor.BFloat16)}, nil, tensor.BFloat16, tensor.Shape{7}},
		{"uniform like input type", "RandomUniformLike", nil, []*tensor.Tensor{rndFill(tensor.Float16, tensor.Shape{3, 2}, 0)}, tensor.Float16, tensor.Shape{3, 2}},
		{"uniform like int input", "RandomUniformLike", graph.Attrs{"dtype": int64(tensor.Float64)}, []*tensor.Tensor{tensor.New(tensor.Int64, 4, 1, 2)}, tensor.Float64, tensor.Shape{4, 1, 2}},
		{"normal like bool input", "RandomNormalLike", graph.Attrs{"dtype": int64(tensor.Float32)}, []*tensor.Tensor{tensor.New(tensor.Bool, 6)}, tensor.Float32, tensor.Shape{6}},
		{"normal like float64", "RandomNormalLike", nil, []*tensor.Tensor{tensor.New(tensor.Float64, 2, 2)}, tensor.Float64, tensor.Shape{2, 2}},
		{"bernoulli input type", "Bernoulli", nil, []*tensor.Tensor{rndFill(tensor.Float64, tensor.Shape{3, 4}, 0.5)}, tensor.Float64, tensor.Shape{3, 4}},
		{"bernoulli bool", "Bernoulli", graph.Attrs{"dtype": int64(tensor.Bool)}, []*tensor.Tensor{rndFill(tensor.Float32, tensor.Shape{5}, 0.5)}, tensor.Bool, tensor.Shape{5}},
		{"bernoulli int32", "Bernoulli", graph.Attrs{"dtype": int64(tensor.Int32)}, []*tensor.Tensor{rndFill(tensor.BFloat16, tensor.Shape{2, 2}, 0.5)}, tensor.Int32, tensor.Shape{2, 2}},
		{"bernoulli uint8", "Bernoulli", graph.Attrs{"dtype": int64(tensor.Uint8)}, []*tensor.Tensor{rndFill(tensor.Float16, tensor.Shape{1}, 0.5)}, tensor.Uint8, tensor.Shape{1}},
		{"multinomial default", "Multinomial", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 3, 5)}, tensor.Int32, tensor.Shape{3, 1}},
		{"multinomial int64", "Multinomial", graph.Attrs{"dtype": int64(tensor.Int64), "sample_size": int64(9)}, []*tensor.Tensor{tensor.New(tensor.Float16, 2, 4)}, tensor.Int64, tensor.Shape{2, 9}},
		{"multinomial no batch", "Multinomial", graph.Attrs{"sample_size": int64(4)}, []*tensor.Tensor{tensor.New(tensor.Float64, 0, 4)}, tensor.Int32, tensor.Shape{0, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := rndRun(t, c.op, c.attrs, c.in...)
			if y.DType() != c.dt || !y.Shape().Equal(c.shape) {
				t.Errorf("output is %v%v, want %v%v", y.DType(), y.Shape(), c.dt, c.shape)
			}
			ts, err := rndInfer(c.op, c.attrs, c.in...)
			if err != nil {
				t.Fatal(err)
			}
			want := graph.TensorType(c.dt, c.shape...)
			if len(ts) != 1 || ts[0].String() != want.String() {
				t.Errorf("Infer gives %v, want %v", ts, want)
			}
		})
	}
}

// rndMoments returns the mean and the (population) standard deviation.
func rndMoments(vals []float64) (mean, std float64) {
	for _, v := range vals {
		mean += v
	}
	mean /= float64(len(vals))
	for _, v := range vals {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(vals)))
}

// RandomUniform's draws lie in [low, high) with the uniform distribution's
// mean (low+high)/2 and variance (high-low)^2/12. With n = 100000 draws on
// [-2, 3) the sample mean has standard deviation sqrt(25/12/n) = 0.0046 and
// the sample variance sqrt((625/80 - 625/144)/n) = 0.0059; the tolerances
// are about 6 of those.
func TestRandomUniformStatistics(t *testing.T) {
	const n = 100000
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16} {
		for _, op := range []string{"RandomUniform", "RandomUniformLike"} {
			attrs := graph.Attrs{"low": float32(-2), "high": float32(3), "dtype": int64(dt)}
			var in []*tensor.Tensor
			if op == "RandomUniform" {
				attrs["shape"] = []int64{n}
			} else {
				in = []*tensor.Tensor{tensor.New(tensor.Int32, n)}
			}
			vals := rndRun(t, op, attrs, in...).Float64s()
			for i, v := range vals {
				if v < -2 || v >= 3 {
					t.Fatalf("%s %v: element %d is %g, outside [-2, 3)", op, dt, i, v)
				}
			}
			mean, std := rndMoments(vals)
			// bfloat16 rounds to 8 significant bits: a spacing of 1/64 near
			// 3 adds at most (1/64)^2/12 to the variance, well inside.
			if math.Abs(mean-0.5) > 0.03 || math.Abs(std*std-25.0/12) > 0.04 {
				t.Errorf("%s %v: mean %.4f variance %.4f, want 0.5 and %.4f", op, dt, mean, std*std, 25.0/12)
			}
		}
	}
}

// Rounding to a narrow type must not produce high: in float16 one draw in
// 4096 of [0, 1) lies within half a spacing of 1 and would round to it.
func TestRandomUniformBelowHigh(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16, tensor.Float32} {
		vals := rndRun(t, "RandomUniform", graph.Attrs{"shape": []int64{200000}, "dtype": int64(dt), "seed": float32(1)}).Float64s()
		for i, v := range vals {
			if v < 0 || v >= 1 {
				t.Fatalf("%v: element %d is %g, outside [0, 1)", dt, i, v)
			}
		}
	}
	// low == high is a point mass.
	for _, v := range rndRun(t, "RandomUniform", graph.Attrs{"shape": []int64{10}, "low": float32(2), "high": float32(2)}).Float64s() {
		if v != 2 {
			t.Fatalf("low = high = 2 gave %g", v)
		}
	}
}

// RandomNormal's draws have mean `mean` and standard deviation `scale`.
// With n = 100000 draws of N(1.5, 2^2) the sample mean has standard
// deviation 2/sqrt(n) = 0.0063 and the sample standard deviation about
// 2/sqrt(2n) = 0.0045; the tolerances are about 6 of those. The shape is
// checked too: the fraction of draws within one standard deviation of the
// mean is erf(1/sqrt 2) = 0.6827 (standard deviation of the fraction
// 0.0015).
func TestRandomNormalStatistics(t *testing.T) {
	const n = 100000
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16} {
		for _, op := range []string{"RandomNormal", "RandomNormalLike"} {
			attrs := graph.Attrs{"mean": float32(1.5), "scale": float32(2), "dtype": int64(dt)}
			var in []*tensor.Tensor
			if op == "RandomNormal" {
				attrs["shape"] = []int64{n}
			} else {
				in = []*tensor.Tensor{tensor.New(tensor.Float32, n)}
			}
			vals := rndRun(t, op, attrs, in...).Float64s()
			mean, std := rndMoments(vals)
			if math.Abs(mean-1.5) > 0.04 || math.Abs(std-2) > 0.03 {
				t.Errorf("%s %v: mean %.4f std %.4f, want 1.5 and 2", op, dt, mean, std)
			}
			within := 0
			for _, v := range vals {
				if math.Abs(v-1.5) < 2 {
					within++
				}
			}
			// bfloat16's spacing near 3.5 (1/64) moves a few values across
			// the boundary; 0.01 covers that and 6 standard deviations.
			if f := float64(within) / n; math.Abs(f-0.6827) > 0.01 {
				t.Errorf("%s %v: %.4f of the draws within one standard deviation, want 0.6827", op, dt, f)
			}
		}
	}
	// scale 0 gives the mean exactly.
	for _, v := range rndRun(t, "RandomNormal", graph.Attrs{"shape": []int64{10}, "mean": float32(-3), "scale": float32(0)}).Float64s() {
		if v != -3 {
			t.Fatalf("scale 0 gave %g, want the mean -3", v)
		}
	}
}

// Bernoulli gives only 0 and 1, 1 with frequency p: exactly never for
// p = 0 and always for p = 1; for other p within 6 standard deviations
// sqrt(p(1-p)/n) over n = 40000 draws (at most 0.015).
func TestBernoulliFrequencies(t *testing.T) {
	const n = 40000
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16} {
		for _, p := range []float64{0, 0.1, 0.5, 0.75, 1} {
			for _, out := range []tensor.DType{dt, tensor.Bool, tensor.Int64, tensor.Uint8} {
				y := rndRun(t, "Bernoulli", graph.Attrs{"dtype": int64(out)}, rndFill(dt, tensor.Shape{n}, p))
				if y.DType() != out {
					t.Fatalf("output %v, want %v", y.DType(), out)
				}
				var ones float64
				for i := range y.Len() {
					switch v := y.At(i); v {
					case 0:
					case 1:
						ones++
					default:
						t.Fatalf("p=%g %v->%v: element %d is %g", p, dt, out, i, v)
					}
				}
				// p as stored in dt (0.1 is not exact in float16).
				pq := rndFill(dt, tensor.Shape{1}, p).At(0)
				f := ones / n
				if tol := 6 * math.Sqrt(pq*(1-pq)/n); math.Abs(f-pq) > tol {
					t.Errorf("p=%g %v->%v: frequency of 1 is %.4f, want %.4f ± %.4f", p, dt, out, f, pq, tol)
				}
			}
		}
	}
	// Mixed probabilities, element by element.
	p := []float32{0, 1, 0.5, 1, 0}
	for range 20 {
		y := rndRun(t, "Bernoulli", nil, tensor.From(tensor.Shape{5}, p)).F32()
		if y[0] != 0 || y[1] != 1 || y[3] != 1 || y[4] != 0 {
			t.Fatalf("p %v gave %v", p, y)
		}
	}
}

// Multinomial draws class i with probability softmax(logits)[i]. Over
// 60000 draws per row each frequency is within 6 standard deviations
// sqrt(q(1-q)/n) of q (at most 0.0123); a class with logit -Inf is never
// drawn.
func TestMultinomialFrequencies(t *testing.T) {
	const k = 60000
	inf := math.Inf(-1)
	logits := []float64{
		0, math.Log(2), math.Log(3), inf, // 1/6, 2/6, 3/6, 0
		10, 10, 10, 10, // uniform; large logits must not overflow
		-1, 1, 0.5, -800, // softmax; the last is exp(-801)/.. = 0 in float64
		inf, inf, -5, inf, // one possible class
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16} {
		x := tensor.FromFloat64s(dt, tensor.Shape{4, 4}, logits)
		for _, out := range []tensor.DType{tensor.Int32, tensor.Int64} {
			y := rndRun(t, "Multinomial", graph.Attrs{"sample_size": int64(k), "dtype": int64(out)}, x)
			if y.DType() != out || !y.Shape().Equal(tensor.Shape{4, k}) {
				t.Fatalf("output %v%v, want %v[4 %d]", y.DType(), y.Shape(), out, k)
			}
			idx := y.Int64s()
			xs := x.Float64s()
			for b := range 4 {
				row := xs[b*4 : b*4+4]
				m := math.Inf(-1)
				for _, v := range row {
					m = max(m, v)
				}
				var sum float64
				q := make([]float64, 4)
				for c, v := range row {
					q[c] = math.Exp(v - m)
					sum += q[c]
				}
				counts := make([]float64, 4)
				for _, c := range idx[b*k : (b+1)*k] {
					if c < 0 || c > 3 {
						t.Fatalf("row %d: class %d out of range", b, c)
					}
					counts[c]++
				}
				for c := range q {
					q[c] /= sum
					f := counts[c] / k
					if q[c] == 0 && counts[c] != 0 {
						t.Errorf("%v row %d: class %d has probability 0 but was drawn %g times", dt, b, c, counts[c])
					}
					if tol := 6 * math.Sqrt(q[c]*(1-q[c])/k); math.Abs(f-q[c]) > tol {
						t.Errorf("%v row %d class %d: frequency %.4f, want %.4f ± %.4f", dt, b, c, f, q[c], tol)
					}
				}
			}
		}
	}
}

// With a seed every run of a node gives the same values, and different
// seeds give different values; without one, runs differ.
func TestRandomSeedDeterminism(t *testing.T) {
	cases := []struct {
		op    string
		attrs graph.Attrs
		in    []*tensor.Tensor
	}{
		{"RandomUniform", graph.Attrs{"shape": []int64{1000}}, nil},
		{"RandomNormal", graph.Attrs{"shape": []int64{1000}, "dtype": int64(tensor.Float64)}, nil},
		{"RandomUniformLike", nil, []*tensor.Tensor{tensor.New(tensor.Float16, 1000)}},
		{"RandomNormalLike", nil, []*tensor.Tensor{tensor.New(tensor.BFloat16, 1000)}},
		{"Bernoulli", nil, []*tensor.Tensor{rndFill(tensor.Float32, tensor.Shape{1000}, 0.5)}},
		{"Multinomial", graph.Attrs{"sample_size": int64(500)}, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 10)}},
	}
	equal := func(a, b *tensor.Tensor) bool {
		for i := range a.Len() {
			if a.At(i) != b.At(i) {
				return false
			}
		}
		return true
	}
	withSeed := func(a graph.Attrs, seed any) graph.Attrs {
		c := graph.Attrs{}
		for k, v := range a {
			c[k] = v
		}
		if seed != nil {
			c["seed"] = seed
		}
		return c
	}
	for _, c := range cases {
		a := rndRun(t, c.op, withSeed(c.attrs, float32(3.5)), c.in...)
		b := rndRun(t, c.op, withSeed(c.attrs, float32(3.5)), c.in...)
		if !equal(a, b) {
			t.Errorf("%s: two runs with seed 3.5 differ", c.op)
		}
		if d := rndRun(t, c.op, withSeed(c.attrs, float32(4)), c.in...); equal(a, d) {
			t.Errorf("%s: seeds 3.5 and 4 give the same values", c.op)
		}
		if u, v := rndRun(t, c.op, c.attrs, c.in...), rndRun(t, c.op, c.attrs, c.in...); equal(u, v) {
			t.Errorf("%s: two runs without a seed give the same values", c.op)
		}
		// One node run twice: the generator restarts from the seed.
		n := rndNode(c.op, len(c.in), withSeed(c.attrs, float32(-1)))
		k := Lookup("", c.op).Kernel
		o1, err1 := k(n, c.in)
		o2, err2 := k(n, c.in)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !equal(o1[0], o2[0]) {
			t.Errorf("%s: one seeded node gave different values on its second run", c.op)
		}
	}
}

// Bad attributes and inputs give errors naming the node, from the kernel
// and, where the problem is visible before running, from Infer.
func TestRandomErrors(t *testing.T) {
	f32 := func(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
	nan := float32(math.NaN())
	cases := []struct {
		name    string
		op      string
		attrs   graph.Attrs
		in      []*tensor.Tensor
		infer   bool // Infer must fail too
		contain string
	}{
		{"uniform int dtype", "RandomUniform", graph.Attrs{"shape": []int64{2}, "dtype": int64(tensor.Int32)}, nil, true, "dtype"},
		{"uniform unknown dtype", "RandomUniform", graph.Attrs{"shape": []int64{2}, "dtype": int64(99)}, nil, true, "dtype"},
		{"uniform float8 dtype", "RandomUniform", graph.Attrs{"shape": []int64{2}, "dtype": int64(tensor.Float8E4M3FN)}, nil, true, "dtype"},
		{"uniform no shape", "RandomUniform", nil, nil, true, "shape"},
		{"uniform negative shape", "RandomUniform", graph.Attrs{"shape": []int64{2, -1}}, nil, true, "negative"},
		{"uniform huge shape", "RandomUniform", graph.Attrs{"shape": []int64{1 << 40, 1 << 40}}, nil, true, "elements"},
		{"uniform float shape", "RandomUniform", graph.Attrs{"shape": []float32{2}}, nil, true, "shape"},
		{"uniform low above high", "RandomUniform", graph.Attrs{"shape": []int64{2}, "low": float32(2), "high": float32(1)}, nil, true, "above"},
		{"uniform infinite high", "RandomUniform", graph.Attrs{"shape": []int64{2}, "high": float32(math.Inf(1))}, nil, true, "finite"},
		{"uniform string seed", "RandomUniform", graph.Attrs{"shape": []int64{2}, "seed": "x"}, nil, true, "seed"},
		{"uniform with input", "RandomUniform", graph.Attrs{"shape": []int64{2}}, []*tensor.Tensor{f32(tensor.Shape{1}, 0)}, true, "inputs"},
		{"normal negative scale", "RandomNormal", graph.Attrs{"shape": []int64{2}, "scale": float32(-1)}, nil, true, "scale"},
		{"normal nan mean", "RandomNormal", graph.Attrs{"shape": []int64{2}, "mean": nan}, nil, true, "finite"},
		{"normal bool dtype", "RandomNormal", graph.Attrs{"shape": []int64{2}, "dtype": int64(tensor.Bool)}, nil, true, "dtype"},
		{"uniform like int input", "RandomUniformLike", nil, []*tensor.Tensor{tensor.New(tensor.Int64, 2)}, true, "dtype"},
		{"normal like int dtype", "RandomNormalLike", graph.Attrs{"dtype": int64(tensor.Int8)}, []*tensor.Tensor{tensor.New(tensor.Float32, 2)}, true, "dtype"},
		{"normal like no input", "RandomNormalLike", nil, nil, true, "inputs"},
		{"bernoulli p above 1", "Bernoulli", nil, []*tensor.Tensor{f32(tensor.Shape{3}, 0.2, 1.5, 0)}, true, "element 1 is 1.5"},
		{"bernoulli p below 0", "Bernoulli", nil, []*tensor.Tensor{f32(tensor.Shape{2}, -0.1, 0)}, true, "[0, 1]"},
		{"bernoulli p nan", "Bernoulli", nil, []*tensor.Tensor{f32(tensor.Shape{1}, nan)}, true, "[0, 1]"},
		{"bernoulli int input", "Bernoulli", nil, []*tensor.Tensor{tensor.New(tensor.Int32, 2)}, true, "float"},
		{"bernoulli string dtype", "Bernoulli", graph.Attrs{"dtype": int64(tensor.String)}, []*tensor.Tensor{f32(tensor.Shape{1}, 0.5)}, true, "dtype"},
		{"bernoulli int4 dtype", "Bernoulli", graph.Attrs{"dtype": int64(tensor.Int4)}, []*tensor.Tensor{f32(tensor.Shape{1}, 0.5)}, true, "dtype"},
		{"bernoulli no input", "Bernoulli", nil, nil, true, "inputs"},
		{"multinomial 1-D", "Multinomial", nil, []*tensor.Tensor{f32(tensor.Shape{3}, 0, 0, 0)}, true, "[batch, class]"},
		{"multinomial 3-D", "Multinomial", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 1, 2, 3)}, true, "[batch, class]"},
		{"multinomial sample_size 0", "Multinomial", graph.Attrs{"sample_size": int64(0)}, []*tensor.Tensor{tensor.New(tensor.Float32, 1, 2)}, true, "sample_size"},
		{"multinomial sample_size -3", "Multinomial", graph.Attrs{"sample_size": int64(-3)}, []*tensor.Tensor{tensor.New(tensor.Float32, 1, 2)}, true, "sample_size"},
		{"multinomial float dtype", "Multinomial", graph.Attrs{"dtype": int64(tensor.Float32)}, []*tensor.Tensor{tensor.New(tensor.Float32, 1, 2)}, true, "dtype"},
		{"multinomial int input", "Multinomial", nil, []*tensor.Tensor{tensor.New(tensor.Int64, 1, 2)}, true, "float"},
		{"multinomial no classes", "Multinomial", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 0)}, false, "no classes"},
		{"multinomial all -inf", "Multinomial", nil, []*tensor.Tensor{f32(tensor.Shape{2, 2}, 0, 1, float32(math.Inf(-1)), float32(math.Inf(-1)))}, false, "row 1"},
		{"multinomial nan logit", "Multinomial", nil, []*tensor.Tensor{f32(tensor.Shape{1, 2}, nan, 1)}, false, "NaN"},
		{"multinomial +inf logit", "Multinomial", nil, []*tensor.Tensor{f32(tensor.Shape{1, 2}, 0, float32(math.Inf(1)))}, false, "+Inf"},
		{"multinomial huge output", "Multinomial", graph.Attrs{"sample_size": int64(1 << 30)}, []*tensor.Tensor{tensor.New(tensor.Float32, 8, 2)}, false, "elements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := rndNode(c.op, len(c.in), c.attrs)
			_, err := Lookup("", c.op).Kernel(n, c.in)
			if err == nil {
				t.Fatal("the kernel accepted it")
			}
			if !strings.Contains(err.Error(), `"`+n.Name+`"`) || !strings.Contains(err.Error(), c.contain) {
				t.Errorf("error %q should name the node and say %q", err, c.contain)
			}
			_, ierr := rndInfer(c.op, c.attrs, c.in...)
			if c.infer && ierr == nil {
				t.Error("Infer accepted it")
			}
			if !c.infer && ierr != nil {
				t.Errorf("Infer rejected what only running can tell: %v", ierr)
			}
		})
	}
}

// Infer keeps unknown and named dimensions of the input.
func TestRandomInferDynamic(t *testing.T) {
	in := graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: []int{-1, 10}, DimNames: []string{"batch", ""}}
	for _, c := range []struct {
		op    string
		attrs graph.Attrs
		want  string
	}{
		{"RandomUniformLike", nil, "float32[batch,10]"},
		{"RandomNormalLike", graph.Attrs{"dtype": int64(tensor.Float16)}, "float16[batch,10]"},
		{"Bernoulli", graph.Attrs{"dtype": int64(tensor.Bool)}, "bool[batch,10]"},
		{"Multinomial", graph.Attrs{"sample_size": int64(3)}, "int32[batch,3]"},
	} {
		ic := &InferContext{Node: rndNode(c.op, 1, c.attrs), In: []graph.Type{in}}
		ts, err := Lookup("", c.op).Infer(ic)
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		if ts[0].String() != c.want {
			t.Errorf("%s: Infer gives %v, want %s", c.op, ts[0], c.want)
		}
	}
	ic := &InferContext{Node: rndNode("Multinomial", 1, nil), In: []graph.Type{graph.UnrankedType(tensor.Float32)}}
	if ts, err := Multinomial.Infer(ic); err != nil || ts[0].String() != "int32[?,1]" {
		t.Errorf("Multinomial of an unranked input: %v, %v", ts, err)
	}
}
