// Package optimizer implements Keras 3's optimizers on float32 weights:
// SGD (momentum, nesterov), Adam (amsgrad), AdamW, RMSprop (centered,
// momentum), Adagrad, Adadelta, Adamax and Nadam, with their defaults,
// gradient clipping (clipnorm, clipvalue, global_clipnorm), decoupled
// weight decay and learning-rate schedules. Update rules follow
// keras/src/optimizers/*.py (Keras 3; tf.keras 2.11+ has the same dense
// maths) in float32, in Keras's operation order.
//
// An optimizer is built once for the list of trainable weights (Build) and
// then applies one update per training step (Apply): clip the gradients,
// apply weight decay (w -= w*weight_decay*lr), run the optimizer's rule for
// every weight, and increment Iterations. The learning rate of a step is
// the schedule's value at Iterations before the increment.
package optimizer

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Slot is one optimizer variable of a weight ("momentum", "velocity", ...).
type Slot struct {
	// Var is the index of the weight in the list given to Build.
	Var   int
	Name  string
	Value *tensor.Tensor
}

// Optimizer updates a list of float32 weights from their gradients.
type Optimizer interface {
	// Name is the Keras class name ("Adam").
	Name() string
	// Build creates the slots for the weights (float32 tensors, updated in
	// place by Apply). Building again discards the old state.
	Build(vars []*tensor.Tensor) error
	// Apply performs one update. grads[i] is the gradient of vars[i]
	// (same shape); a nil gradient leaves the weight and its slots alone.
	Apply(grads []*tensor.Tensor) error
	// Iterations is the number of updates applied.
	Iterations() int64
	// SetIterations restores the step counter (a loaded optimizer state).
	SetIterations(n int64)
	// LearningRate is the rate the next update uses.
	LearningRate() float64
	// SetLearningRate replaces a constant learning rate; it fails when the
	// rate is a schedule (as in Keras).
	SetLearningRate(lr float64) error
	// Slots lists the optimizer variables in Keras 3's optimizer.variables
	// order after iteration and learning_rate.
	Slots() []Slot
	// Options returns the common options.
	Options() *Options
}

// Options are the arguments every Keras optimizer takes. Zero values mean
// "off" (Keras's None).
type Options struct {
	// LearningRate is the constant rate; ignored when Schedule is set.
	LearningRate float64
	// Schedule, when set, gives the rate at each step.
	Schedule Schedule
	// ClipNorm clips each gradient to this L2 norm.
	ClipNorm float64
	// ClipValue clips each gradient element to [-ClipValue, ClipValue].
	ClipValue float64
	// GlobalClipNorm scales all gradients so their joint L2 norm is at most
	// this.
	GlobalClipNorm float64
	// WeightDecay, when non-zero, applies w -= w*WeightDecay*lr before the
	// update (AdamW's default is 0.004).
	WeightDecay float64
}

// rule is an optimizer's per-weight update.
type rule interface {
	name() string
	slotNames() []string
	// slotInit is the initial value of slot k.
	slotInit(k int) float32
	// prepare is called once per step before the updates, with the step
	// number t = iterations + 1.
	prepare(t int64)
	update(w, g []float32, s [][]float32, lr float32, t int64)
}

// opt is the shared machinery.
type opt struct {
	Opts  Options
	r     rule
	vars  []*tensor.Tensor
	slots []Slot
	// byVar[i][k] is slot k of var i.
	byVar [][]*tensor.Tensor
	iters int64
	// groups orders Slots(): each group of slot indices is listed weight
	// by weight, the groups one after the other (RMSprop builds all
	// velocities, then all momentums; Adam's velocity_hats follow its
	// momentums and velocities). nil is one group of all slots.
	groups [][]int
}

func (o *opt) Name() string          { return o.r.name() }
func (o *opt) Iterations() int64     { return o.iters }
func (o *opt) SetIterations(n int64) { o.iters = n }
func (o *opt) Options() *Options     { return &o.Opts }
func (o *opt) Slots() []Slot         { return append([]Slot(nil), o.slots...) }

func (o *opt) LearningRate() float64 {
	if o.Opts.Schedule != nil {
		return o.Opts.Schedule.At(o.iters)
	}
	return o.Opts.LearningRate
}

func (o *opt) SetLearningRate(lr float64) error {
	if o.Opts.Schedule != nil {
		return fmt.Errorf("optimizer: %s: the learning rate is a schedule (%s) and cannot be set", o.Name(), o.Opts.Schedule.Name())
	}
	o.Opts.LearningRate = lr
	return nil
}

func (o *opt) Build(vars []*tensor.Tensor) error {
	names := o.r.slotNames()
	o.vars = vars
	o.byVar = make([][]*tensor.Tensor, len(vars))
	for i, v := range vars {
		if v.DType() != tensor.Float32 {
			return fmt.Errorf("optimizer: %s: weight %d is %s; only float32 weights are trained", o.Name(), i, v.DType())
		}
		o.byVar[i] = make([]*tensor.Tensor, len(names))
		for k := range names {
			t := tensor.New(tensor.Float32, v.Shape()...)
			if init := o.r.slotInit(k); init != 0 {
				d := t.F32()
				for j := range d {
					d[j] = init
				}
			}
			o.byVar[i][k] = t
		}
	}
	o.slots = nil
	groups := o.groups
	if groups == nil {
		all := make([]int, len(names))
		for k := range all {
			all[k] = k
		}
		groups = [][]int{all}
	}
	for _, grp := range groups {
		for i := range vars {
			for _, k := range grp {
				o.slots = append(o.slots, Slot{Var: i, Name: names[k], Value: o.byVar[i][k]})
			}
		}
	}
	return nil
}

func (o *opt) Apply(grads []*tensor.Tensor) error {
	if len(grads) != len(o.vars) {
		return fmt.Errorf("optimizer: %s: %d gradients for %d weights (call Build first)", o.Name(), len(grads), len(o.vars))
	}
	gs := make([][]float32, len(grads))
	for i, g := range grads {
		if g == nil {
			continue
		}
		if g.DType() != tensor.Float32 || g.Len() != o.vars[i].Len() {
			return fmt.Errorf("optimizer: %s: gradient %d is %s%v, weight is %s%v", o.Name(), i, g.DType(), g.Shape(), o.vars[i].DType(), o.vars[i].Shape())
		}
		gs[i] = append([]float32(nil), g.F32()...)
	}
	clip(gs, o.Opts)
	lr := float32(o.LearningRate())
	if wd := float32(o.Opts.WeightDecay); wd != 0 {
		for i, v := range o.vars {
			if gs[i] == nil {
				continue
			}
			w := v.F32()
			for j := range w {
				w[j] -= w[j] * wd * lr
			}
		}
	}
	t := o.iters + 1
	o.r.prepare(t)
	s := make([][]float32, len(o.r.slotNames()))
	for i, v := range o.vars {
		if gs[i] == nil {
			continue
		}
		for k, st := range o.byVar[i] {
			s[k] = st.F32()
		}
		o.r.update(v.F32(), gs[i], s, lr, t)
	}
	o.iters++
	return nil
}

// clip applies Keras's gradient clipping: clipnorm per gradient, else
// global_clipnorm over all, else clipvalue.
func clip(gs [][]float32, o Options) {
	switch {
	case o.ClipNorm > 0:
		c := float32(o.ClipNorm)
		for _, g := range gs {
			n := l2(g)
			if n <= 0 {
				continue
			}
			den := max(n, c)
			for j := range g {
				g[j] = g[j] * c / den
			}
		}
	case o.GlobalClipNorm > 0:
		var ss float64
		for _, g := range gs {
			for _, v := range g {
				ss += float64(v) * float64(v)
			}
		}
		n := float32(math.Sqrt(ss))
		c := float32(o.GlobalClipNorm)
		scale := c * min(1/n, 1/c)
		for _, g := range gs {
			for j := range g {
				g[j] *= scale
			}
		}
	case o.ClipValue > 0:
		c := float32(o.ClipValue)
		for _, g := range gs {
			for j := range g {
				g[j] = min(max(g[j], -c), c)
			}
		}
	}
}

func l2(g []float32) float32 {
	var s float64
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	return float32(math.Sqrt(s))
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

func pow32(b float32, t int64) float32 { return float32(math.Pow(float64(b), float64(t))) }

func newOpt(r rule, o Options) *opt {
	return &opt{Opts: o, r: r}
}
