package ops

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// The random-number ops of ONNX's generator family. Every op reads the
// optional float attribute seed: when it is set (and not NaN) each run of
// the node starts a new generator from it, so the node gives the same
// values on every run; without it each run draws from a freshly seeded
// generator. ONNX says these ops "may not produce the same values in
// different implementations (even if a seed is specified)"; kiln's values
// come from math/rand/v2's PCG and match no other runtime's.

// RandomUniform returns a tensor of attribute shape (ints, required; an
// empty list gives a scalar) whose elements are independent draws from the
// uniform distribution on [low, high) (attributes, default 0 and 1), of
// attribute dtype (default float32; float16, bfloat16, float32 or float64).
// Each value is drawn in float64, low + (high-low)*u with u uniform on
// [0, 1), and rounded to dtype; a draw that rounds up to high is drawn
// again, so every output is below high (after 64 such draws, which needs an
// interval narrower than dtype's spacing, the output is low rounded to
// dtype). Errors: a missing or negative shape, another dtype, low > high or
// a bound that is not finite. ONNX RandomUniform-1 and -22 (22 added
// bfloat16).
var RandomUniform = &Def{Name: "RandomUniform", Infer: rndInferShaped, Kernel: rndUniformKernel}

// RandomNormal returns a tensor of attribute shape (ints, required; an empty
// list gives a scalar) whose elements are independent draws from the normal
// distribution with attributes mean (default 0) and scale, its standard
// deviation (default 1): mean + scale*z with z standard normal, computed in
// float64 and rounded to attribute dtype (default float32; float16,
// bfloat16, float32 or float64). Errors: a missing or negative shape,
// another dtype, a negative scale, or a mean or scale that is not finite.
// ONNX RandomNormal-1 and -22 (22 added bfloat16).
var RandomNormal = &Def{Name: "RandomNormal", Infer: rndInferShaped, Kernel: rndNormalKernel}

// RandomUniformLike is RandomUniform with the output shape taken from its
// one input (of any type; only its shape is read) and dtype defaulting to
// the input's type, which must then be a float type. ONNX
// RandomUniformLike-1 and -22.
var RandomUniformLike = &Def{Name: "RandomUniformLike", Infer: rndInferLike, Kernel: rndUniformKernel}

// RandomNormalLike is RandomNormal with the output shape taken from its one
// input (of any type; only its shape is read) and dtype defaulting to the
// input's type, which must then be a float type. ONNX RandomNormalLike-1
// and -22.
var RandomNormalLike = &Def{Name: "RandomNormalLike", Infer: rndInferLike, Kernel: rndNormalKernel}

// Bernoulli draws, for each element p of its float input (float16,
// bfloat16, float32 or float64), 1 with probability p and 0 with
// probability 1-p: output = u < p with u uniform on [0, 1), so p = 0 always
// gives 0 and p = 1 always gives 1. The output has the input's shape and
// attribute dtype (default the input's type; any float, integer or bool
// type). Errors: a probability outside [0, 1] or NaN (at compile time when
// the input is a constant), a non-float input, an unsupported dtype. ONNX
// Bernoulli-15 and -22 (22 added bfloat16), following the operator's
// summary and ONNX's reference implementation (NumPy's binomial(1, p)).
// ONNX's function body for the op, Cast(Greater(RandomUniformLike(p), p)),
// gives 1 where u > p, that is with probability 1-p; kiln does not use
// it, and a model holding that body (the *_expanded backend tests) runs it
// as written.
var Bernoulli = &Def{Name: "Bernoulli", Infer: rndInferBernoulli, Kernel: rndBernoulliKernel}

// Multinomial draws attribute sample_size (default 1, at least 1)
// independent class indices per row of its input, a [batch, class] float
// tensor of unnormalised log-probabilities: class i of row b is drawn with
// probability softmax(input[b])[i] = exp(x_i - max x) / sum_j exp(x_j - max
// x). The output is [batch, sample_size] of attribute dtype (int32, the
// default, or int64). A logit of -Inf gives its class probability 0.
// Errors: an input that is not 2-D or not float, no classes, a logit that
// is NaN or +Inf, a row whose logits are all -Inf, sample_size < 1, another
// dtype. ONNX Multinomial-7 and -22 (22 added bfloat16 inputs).
var Multinomial = &Def{Name: "Multinomial", Infer: rndInferMultinomial, Kernel: rndMultinomialKernel}

func init() {
	Register(RandomUniform)
	Register(RandomNormal)
	Register(RandomUniformLike)
	Register(RandomNormalLike)
	Register(Bernoulli)
	Register(Multinomial)
}

// rndStream is the PCG stream constant of seeded generators; it keeps
// kiln's seeded sequences apart from those of other PCG users seeded
// with the same number.
const rndStream = 0x72616e646f6d

// rndSeed reads attribute seed (a float in ONNX; an int is accepted). ok is
// false when it is absent or NaN, which ONNX's reference implementation
// also treats as "no seed".
func rndSeed(n *graph.Node) (seed uint64, ok bool, err error) {
	var f float64
	switch v := n.Attrs["seed"].(type) {
	case nil:
		return 0, false, nil
	case float32:
		f = float64(v)
	case float64:
		f = v
	case int64:
		f = float64(v)
	case int:
		f = float64(v)
	default:
		return 0, false, Errorf(n, "attribute seed is a %T, want a float", v)
	}
	if math.IsNaN(f) {
		return 0, false, nil
	}
	if f == 0 {
		f = 0 // -0 and +0 are the same seed
	}
	return math.Float64bits(f), true, nil
}

// rndSource returns the node's generator for one run: seeded from
// attribute seed when set, else from the global source.
func rndSource(n *graph.Node) (*rand.Rand, error) {
	seed, ok, err := rndSeed(n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), nil
	}
	return rand.New(rand.NewPCG(seed, rndStream)), nil
}

// rndIsFloat reports whether dt is one of the float types the generators
// produce.
func rndIsFloat(dt tensor.DType) bool {
	return dt == tensor.Float16 || dt == tensor.BFloat16 || dt == tensor.Float32 || dt == tensor.Float64
}

// rndFloatDType returns the output dtype of a generator: attribute dtype,
// else def (Undefined when unknown at compile time, which is accepted).
func rndFloatDType(n *graph.Node, def tensor.DType) (tensor.DType, error) {
	dt := def
	if n.Attrs.Has("dtype") {
		dt = tensor.DType(n.Attrs.Int("dtype", -1))
	} else if dt == tensor.Undefined {
		return dt, nil
	}
	if !rndIsFloat(dt) {
		if n.Attrs.Has("dtype") {
			return 0, Errorf(n, "attribute dtype is %d (%v); want float16 (10), bfloat16 (16), float32 (1) or float64 (11)", n.Attrs.Int("dtype", -1), dt)
		}
		return 0, Errorf(n, "input type %v is not a float type; set attribute dtype to float16, bfloat16, float32 or float64", dt)
	}
	return dt, nil
}

// rndShapeAttr reads attribute shape.
func rndShapeAttr(n *graph.Node) (tensor.Shape, error) {
	v, ok := n.Attrs["shape"]
	if !ok {
		return nil, Errorf(n, "needs attribute shape (the output shape)")
	}
	dims, ok := v.([]int64)
	if !ok {
		return nil, Errorf(n, "attribute shape is a %T, want a list of ints", v)
	}
	s := make(tensor.Shape, len(dims))
	size := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, Errorf(n, "attribute shape %v has a negative dimension", dims)
		}
		if d != 0 && size > tensor.MaxElements/d {
			return nil, Errorf(n, "attribute shape %v has more than %d elements", dims, int64(tensor.MaxElements))
		}
		size *= d
		s[i] = int(d)
	}
	return s, nil
}

// rndParams reads and checks the distribution's attributes: low and high
// for the uniform ops, mean and scale for the normal ones.
func rndParams(n *graph.Node) (a, b float64, err error) {
	uniform := n.Op == "RandomUniform" || n.Op == "RandomUniformLike"
	if uniform {
		a, b = float64(n.Attrs.Float("low", 0)), float64(n.Attrs.Float("high", 1))
	} else {
		a, b = float64(n.Attrs.Float("mean", 0)), float64(n.Attrs.Float("scale", 1))
	}
	if math.IsNaN(a) || math.IsInf(a, 0) || math.IsNaN(b) || math.IsInf(b, 0) {
		if uniform {
			return 0, 0, Errorf(n, "low %g and high %g must be finite", a, b)
		}
		return 0, 0, Errorf(n, "mean %g and scale %g must be finite", a, b)
	}
	if uniform && a > b {
		return 0, 0, Errorf(n, "low %g is above high %g", a, b)
	}
	if !uniform && b < 0 {
		return 0, 0, Errorf(n, "scale (the standard deviation) is %g, want >= 0", b)
	}
	return a, b, nil
}

// rndOutput returns the shape and dtype of a generator's output for one
// run: from attribute shape, or from the input for the *Like ops.
func rndOutput(n *graph.Node, in []*tensor.Tensor) (tensor.Shape, tensor.DType, error) {
	if n.Op == "RandomUniformLike" || n.Op == "RandomNormalLike" {
		if len(in) != 1 || in[0] == nil {
			return nil, 0, Errorf(n, "has %d inputs, want 1", len(in))
		}
		dt, err := rndFloatDType(n, in[0].DType())
		return in[0].Shape().Clone(), dt, err
	}
	if len(in) != 0 {
		return nil, 0, Errorf(n, "has %d inputs, want none", len(in))
	}
	s, err := rndShapeAttr(n)
	if err != nil {
		return nil, 0, err
	}
	dt, err := rndFloatDType(n, tensor.Float32)
	return s, dt, err
}

// rndRound rounds v to the precision of float type dt.
func rndRound(dt tensor.DType, v float64) float64 {
	switch dt {
	case tensor.Float32:
		return float64(float32(v))
	case tensor.Float16:
		return float64(tensor.ToHalf(float32(v)).Float32())
	case tensor.BFloat16:
		return float64(tensor.ToBHalf(float32(v)).Float32())
	}
	return v
}

// rndDraws gathers what RandomUniform(Like) and RandomNormal(Like) need:
// the output shape and type, their two parameters (low and high, or mean
// and scale) and the generator.
func rndDraws(n *graph.Node, in []*tensor.Tensor) (tensor.Shape, tensor.DType, float64, float64, *rand.Rand, error) {
	shape, dt, err := rndOutput(n, in)
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	a, b, err := rndParams(n)
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	r, err := rndSource(n)
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	return shape, dt, a, b, r, nil
}

func rndUniformKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	shape, dt, low, high, r, err := rndDraws(n, in)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, shape.Size())
	for i := range vals {
		v := rndRound(dt, low+(high-low)*r.Float64())
		for try := 0; v >= high && high > low; try++ {
			if try == 64 {
				v = rndRound(dt, low)
				break
			}
			v = rndRound(dt, low+(high-low)*r.Float64())
		}
		vals[i] = v
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, shape, vals)}, nil
}

func rndNormalKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	shape, dt, mean, scale, r, err := rndDraws(n, in)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, shape.Size())
	for i := range vals {
		vals[i] = mean + scale*r.NormFloat64()
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, shape, vals)}, nil
}

// rndCheckAttrs validates a generator's attributes at compile time.
func rndCheckAttrs(n *graph.Node) error {
	if _, _, err := rndParams(n); err != nil {
		return err
	}
	_, _, err := rndSeed(n)
	return err
}

func rndInferShaped(ic *InferContext) ([]graph.Type, error) {
	if len(ic.Node.Inputs) != 0 {
		return nil, ic.Errorf("has %d inputs, want none", len(ic.Node.Inputs))
	}
	s, err := rndShapeAttr(ic.Node)
	if err != nil {
		return nil, err
	}
	dt, err := rndFloatDType(ic.Node, tensor.Float32)
	if err != nil {
		return nil, err
	}
	if err := rndCheckAttrs(ic.Node); err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(dt, s...)}, nil
}

func rndInferLike(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 1 || !ic.Has(0) {
		return nil, ic.Errorf("has %d inputs, want 1", len(ic.In))
	}
	dt, err := rndFloatDType(ic.Node, ic.In[0].DType)
	if err != nil {
		return nil, err
	}
	if err := rndCheckAttrs(ic.Node); err != nil {
		return nil, err
	}
	t := ic.In[0].Clone()
	t.DType = dt
	return []graph.Type{t}, nil
}

// rndBernoulliDType returns Bernoulli's output dtype: attribute dtype, else
// the input's.
func rndBernoulliDType(n *graph.Node, def tensor.DType) (tensor.DType, error) {
	dt := def
	if n.Attrs.Has("dtype") {
		dt = tensor.DType(n.Attrs.Int("dtype", -1))
	}
	if dt == tensor.Undefined && !n.Attrs.Has("dtype") {
		return dt, nil
	}
	if !rndIsFloat(dt) && !dt.IsInt() && dt != tensor.Bool {
		return 0, Errorf(n, "output dtype %d (%v) is not a float, integer or bool type", int(dt), dt)
	}
	return dt, nil
}

// rndCheckProbs checks that every element of p is a probability.
func rndCheckProbs(n *graph.Node, p *tensor.Tensor) ([]float64, error) {
	if !rndIsFloat(p.DType()) {
		return nil, Errorf(n, "input is %v, want float16, bfloat16, float32 or float64 probabilities", p.DType())
	}
	vals := p.Float64s()
	for i, v := range vals {
		if !(v >= 0 && v <= 1) {
			return nil, Errorf(n, "input element %d is %g, not a probability in [0, 1]", i, v)
		}
	}
	return vals, nil
}

func rndBernoulliKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, Errorf(n, "has %d inputs, want 1", len(in))
	}
	p, err := rndCheckProbs(n, in[0])
	if err != nil {
		return nil, err
	}
	dt, err := rndBernoulliDType(n, in[0].DType())
	if err != nil {
		return nil, err
	}
	r, err := rndSource(n)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, len(p))
	for i, pi := range p {
		if r.Float64() < pi {
			vals[i] = 1
		}
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, in[0].Shape().Clone(), vals)}, nil
}

func rndInferBernoulli(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 1 || !ic.Has(0) {
		return nil, ic.Errorf("has %d inputs, want 1", len(ic.In))
	}
	in := ic.In[0]
	if in.DType != tensor.Undefined && !rndIsFloat(in.DType) {
		return nil, ic.Errorf("input is %v, want float16, bfloat16, float32 or float64 probabilities", in.DType)
	}
	if c := ic.Const(0); c != nil {
		if _, err := rndCheckProbs(ic.Node, c); err != nil {
			return nil, err
		}
	}
	dt, err := rndBernoulliDType(ic.Node, in.DType)
	if err != nil {
		return nil, err
	}
	if _, _, err := rndSeed(ic.Node); err != nil {
		return nil, err
	}
	t := in.Clone()
	t.DType = dt
	return []graph.Type{t}, nil
}

// rndMultinomialAttrs reads Multinomial's dtype and sample_size.
func rndMultinomialAttrs(n *graph.Node) (tensor.DType, int, error) {
	dt := tensor.DType(n.Attrs.Int("dtype", int64(tensor.Int32)))
	if dt != tensor.Int32 && dt != tensor.Int64 {
		return 0, 0, Errorf(n, "attribute dtype is %d (%v); want int32 (6) or int64 (7)", n.Attrs.Int("dtype", 0), dt)
	}
	k := n.Attrs.Int("sample_size", 1)
	if k < 1 || k > tensor.MaxElements {
		return 0, 0, Errorf(n, "attribute sample_size is %d, want at least 1", k)
	}
	if _, _, err := rndSeed(n); err != nil {
		return 0, 0, err
	}
	return dt, int(k), nil
}

func rndMultinomialKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, Errorf(n, "has %d inputs, want 1", len(in))
	}
	x := in[0]
	if x.Rank() != 2 {
		return nil, Errorf(n, "input has shape %v, want [batch, class]", x.Shape())
	}
	if !rndIsFloat(x.DType()) {
		return nil, Errorf(n, "input is %v, want float16, bfloat16, float32 or float64 logits", x.DType())
	}
	dt, k, err := rndMultinomialAttrs(n)
	if err != nil {
		return nil, err
	}
	batch, classes := x.Shape()[0], x.Shape()[1]
	if batch > 0 && classes == 0 {
		return nil, Errorf(n, "input has shape %v: no classes to draw from", x.Shape())
	}
	if batch > 0 && k > tensor.MaxElements/batch {
		return nil, Errorf(n, "output [%d, %d] has more than %d elements", batch, k, int64(tensor.MaxElements))
	}
	r, err := rndSource(n)
	if err != nil {
		return nil, err
	}
	logits := x.Float64s()
	cdf := make([]float64, classes)
	out := make([]float64, batch*k)
	for b := range batch {
		row := logits[b*classes : (b+1)*classes]
		m := math.Inf(-1)
		for c, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 1) {
				return nil, Errorf(n, "logit [%d, %d] is %g; want a finite value or -Inf", b, c, v)
			}
			m = max(m, v)
		}
		if math.IsInf(m, -1) {
			return nil, Errorf(n, "row %d: every logit is -Inf, no class can be drawn", b)
		}
		total, last := 0.0, 0
		for c, v := range row {
			w := math.Exp(v - m)
			total += w
			cdf[c] = total
			if w > 0 {
				last = c
			}
		}
		for s := range k {
			u := r.Float64() * total
			c := sort.Search(classes, func(i int) bool { return cdf[i] > u })
			out[b*k+s] = float64(min(c, last))
		}
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, tensor.Shape{batch, k}, out)}, nil
}

func rndInferMultinomial(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 1 || !ic.Has(0) {
		return nil, ic.Errorf("has %d inputs, want 1", len(ic.In))
	}
	in := ic.In[0]
	if in.DType != tensor.Undefined && !rndIsFloat(in.DType) {
		return nil, ic.Errorf("input is %v, want float16, bfloat16, float32 or float64 logits", in.DType)
	}
	dt, k, err := rndMultinomialAttrs(ic.Node)
	if err != nil {
		return nil, err
	}
	batch := -1
	if !in.Unranked {
		if len(in.Shape) != 2 {
			return nil, ic.Errorf("input is %v, want a 2-D [batch, class] tensor", in)
		}
		batch = in.Shape[0]
	}
	t := graph.TensorType(dt, batch, k)
	if !in.Unranked && len(in.DimNames) > 0 && in.DimNames[0] != "" {
		t.DimNames = []string{in.DimNames[0], ""}
	}
	return []graph.Type{t}, nil
}
