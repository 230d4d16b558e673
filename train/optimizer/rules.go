package optimizer

import "math"

// def returns v, or d when v is zero (Keras's default for that argument).
func def(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// SGD configures keras.optimizers.SGD (learning_rate 0.01, momentum 0,
// nesterov false): w -= lr*g; with momentum m = momentum*m - lr*g and
// w += m (nesterov: w += momentum*m - lr*g). Slot: "momentum" when
// momentum is non-zero.
type SGD struct {
	Options
	Momentum float64
	Nesterov bool
}

// NewSGD returns the optimizer; a zero LearningRate means Keras's 0.01.
func NewSGD(c SGD) Optimizer {
	c.LearningRate = def(c.LearningRate, 0.01)
	return newOpt(&sgd{c}, c.Options)
}

type sgd struct{ c SGD }

func (r *sgd) name() string { return "SGD" }
func (r *sgd) slotNames() []string {
	if r.c.Momentum != 0 {
		return []string{"momentum"}
	}
	return nil
}
func (r *sgd) slotInit(int) float32 { return 0 }
func (r *sgd) prepare(int64)        {}
func (r *sgd) update(w, g []float32, s [][]float32, lr float32, t int64) {
	if r.c.Momentum == 0 {
		for j := range w {
			w[j] -= g[j] * lr
		}
		return
	}
	mom := float32(r.c.Momentum)
	m := s[0]
	for j := range w {
		m[j] = -g[j]*lr + m[j]*mom
		if r.c.Nesterov {
			w[j] += -g[j]*lr + m[j]*mom
		} else {
			w[j] += m[j]
		}
	}
}

// Adam configures keras.optimizers.Adam (learning_rate 0.001, beta_1 0.9,
// beta_2 0.999, epsilon 1e-7, amsgrad false):
// m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
// alpha = lr sqrt(1 - beta_2^t)/(1 - beta_1^t); w -= m alpha/(sqrt(v) + eps)
// (amsgrad: v_hat = max(v_hat, v) replaces v). Slots "momentum",
// "velocity" per weight, then "velocity_hat" per weight with amsgrad.
type Adam struct {
	Options
	Beta1, Beta2, Epsilon float64
	AMSGrad               bool
}

// NewAdam returns the optimizer; zero fields take Keras's defaults.
func NewAdam(c Adam) Optimizer {
	c.defaults()
	o := newOpt(&adam{c: c, cls: "Adam"}, c.Options)
	if c.AMSGrad {
		o.groups = [][]int{{0, 1}, {2}}
	}
	return o
}

// NewAdamW returns keras.optimizers.AdamW: Adam with decoupled weight
// decay (default weight_decay 0.004).
func NewAdamW(c Adam) Optimizer {
	c.defaults()
	c.WeightDecay = def(c.WeightDecay, 0.004)
	o := newOpt(&adam{c: c, cls: "AdamW"}, c.Options)
	if c.AMSGrad {
		o.groups = [][]int{{0, 1}, {2}}
	}
	return o
}

func (c *Adam) defaults() {
	c.LearningRate = def(c.LearningRate, 0.001)
	c.Beta1 = def(c.Beta1, 0.9)
	c.Beta2 = def(c.Beta2, 0.999)
	c.Epsilon = def(c.Epsilon, 1e-7)
}

type adam struct {
	c   Adam
	cls string
}

func (r *adam) name() string { return r.cls }
func (r *adam) slotNames() []string {
	if r.c.AMSGrad {
		return []string{"momentum", "velocity", "velocity_hat"}
	}
	return []string{"momentum", "velocity"}
}
func (r *adam) slotInit(int) float32 { return 0 }
func (r *adam) prepare(int64)        {}
func (r *adam) update(w, g []float32, s [][]float32, lr float32, t int64) {
	b1, b2, eps := float32(r.c.Beta1), float32(r.c.Beta2), float32(r.c.Epsilon)
	// Keras computes 1 - beta_1 in Python (float64) and casts the result.
	omb1, omb2 := float32(1-r.c.Beta1), float32(1-r.c.Beta2)
	alpha := lr * sqrt32(1-pow32(b2, t)) / (1 - pow32(b1, t))
	m, v := s[0], s[1]
	for j := range w {
		m[j] += (g[j] - m[j]) * omb1
		v[j] += (g[j]*g[j] - v[j]) * omb2
		vv := v[j]
		if r.c.AMSGrad {
			s[2][j] = max(s[2][j], v[j])
			vv = s[2][j]
		}
		w[j] -= (m[j] * alpha) / (sqrt32(vv) + eps)
	}
}

// RMSprop configures keras.optimizers.RMSprop (learning_rate 0.001, rho
// 0.9, momentum 0, epsilon 1e-7, centered false):
// v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps) (centered:
// a = rho a + (1 - rho) g and v - a^2 + eps); w -= inc, or with momentum
// m = momentum m + inc, w -= m. Slots: every "velocity", then every
// "momentum" (momentum > 0), then every "average_gradient" (centered).
type RMSprop struct {
	Options
	Rho, Momentum, Epsilon float64
	Centered               bool
	// ZeroRho makes Rho 0 mean 0 rather than Keras's default 0.9.
	ZeroRho bool
}

// NewRMSprop returns the optimizer; zero fields take Keras's defaults.
func NewRMSprop(c RMSprop) Optimizer {
	c.LearningRate = def(c.LearningRate, 0.001)
	if !c.ZeroRho {
		c.Rho = def(c.Rho, 0.9)
	}
	c.Epsilon = def(c.Epsilon, 1e-7)
	r := &rmsprop{c: c}
	o := newOpt(r, c.Options)
	for k := range r.slotNames() {
		o.groups = append(o.groups, []int{k})
	}
	return o
}

type rmsprop struct{ c RMSprop }

func (r *rmsprop) name() string { return "RMSprop" }
func (r *rmsprop) slotNames() []string {
	n := []string{"velocity"}
	if r.c.Momentum > 0 {
		n = append(n, "momentum")
	}
	if r.c.Centered {
		n = append(n, "average_gradient")
	}
	return n
}
func (r *rmsprop) slotInit(int) float32 { return 0 }
func (r *rmsprop) prepare(int64)        {}
func (r *rmsprop) update(w, g []float32, s [][]float32, lr float32, t int64) {
	rho, eps, mom := float32(r.c.Rho), float32(r.c.Epsilon), float32(r.c.Momentum)
	omr := float32(1 - r.c.Rho)
	v := s[0]
	var m, a []float32
	k := 1
	if r.c.Momentum > 0 {
		m = s[k]
		k++
	}
	if r.c.Centered {
		a = s[k]
	}
	for j := range w {
		v[j] = rho*v[j] + omr*(g[j]*g[j])
		var den float32
		if a != nil {
			a[j] = rho*a[j] + omr*g[j]
			den = v[j] - a[j]*a[j] + eps
		} else {
			den = v[j] + eps
		}
		inc := lr * g[j] / sqrt32(den)
		if m != nil {
			m[j] = mom*m[j] + inc
			w[j] -= m[j]
		} else {
			w[j] -= inc
		}
	}
}

// Adagrad configures keras.optimizers.Adagrad (learning_rate 0.001,
// initial_accumulator_value 0.1, epsilon 1e-7): acc += g^2;
// w -= lr g / sqrt(acc + eps). Slot "accumulator".
type Adagrad struct {
	Options
	InitialAccumulatorValue, Epsilon float64
}

// NewAdagrad returns the optimizer; zero fields take Keras's defaults.
func NewAdagrad(c Adagrad) Optimizer {
	c.LearningRate = def(c.LearningRate, 0.001)
	c.InitialAccumulatorValue = def(c.InitialAccumulatorValue, 0.1)
	c.Epsilon = def(c.Epsilon, 1e-7)
	return newOpt(&adagrad{c}, c.Options)
}

type adagrad struct{ c Adagrad }

func (r *adagrad) name() string         { return "Adagrad" }
func (r *adagrad) slotNames() []string  { return []string{"accumulator"} }
func (r *adagrad) slotInit(int) float32 { return float32(r.c.InitialAccumulatorValue) }
func (r *adagrad) prepare(int64)        {}
func (r *adagrad) update(w, g []float32, s [][]float32, lr float32, t int64) {
	eps := float32(r.c.Epsilon)
	acc := s[0]
	for j := range w {
		acc[j] += g[j] * g[j]
		w[j] -= lr * g[j] / sqrt32(acc[j]+eps)
	}
}

// Adadelta configures keras.optimizers.Adadelta (learning_rate 0.001, rho
// 0.95, epsilon 1e-7): ag = rho ag + (1 - rho) g^2;
// d = -sqrt(adv + eps) g / sqrt(ag + eps); adv = rho adv + (1 - rho) d^2;
// w += lr d. Slots "accumulated_grad", "accumulated_delta_var".
type Adadelta struct {
	Options
	Rho, Epsilon float64
}

// NewAdadelta returns the optimizer; zero fields take Keras's defaults.
func NewAdadelta(c Adadelta) Optimizer {
	c.LearningRate = def(c.LearningRate, 0.001)
	c.Rho = def(c.Rho, 0.95)
	c.Epsilon = def(c.Epsilon, 1e-7)
	return newOpt(&adadelta{c}, c.Options)
}

type adadelta struct{ c Adadelta }

func (r *adadelta) name() string { return "Adadelta" }
func (r *adadelta) slotNames() []string {
	return []string{"accumulated_grad", "accumulated_delta_var"}
}
func (r *adadelta) slotInit(int) float32 { return 0 }
func (r *adadelta) prepare(int64)        {}
func (r *adadelta) update(w, g []float32, s [][]float32, lr float32, t int64) {
	rho, eps := float32(r.c.Rho), float32(r.c.Epsilon)
	omr := float32(1 - r.c.Rho)
	ag, adv := s[0], s[1]
	for j := range w {
		ag[j] = rho*ag[j] + omr*(g[j]*g[j])
		d := -sqrt32(adv[j]+eps) * g[j] / sqrt32(ag[j]+eps)
		adv[j] = rho*adv[j] + omr*(d*d)
		w[j] += lr * d
	}
}

// Adamax configures keras.optimizers.Adamax (learning_rate 0.001, beta_1
// 0.9, beta_2 0.999, epsilon 1e-7): m += (g - m)(1 - beta_1);
// u = max(beta_2 u, |g|); w -= lr m / ((1 - beta_1^t)(u + eps)).
// Slots "momentum", "norm".
type Adamax struct {
	Options
	Beta1, Beta2, Epsilon float64
}

// NewAdamax returns the optimizer; zero fields take Keras's defaults.
func NewAdamax(c Adamax) Optimizer {
	c.LearningRate = def(c.LearningRate, 0.001)
	c.Beta1 = def(c.Beta1, 0.9)
	c.Beta2 = def(c.Beta2, 0.999)
	c.Epsilon = def(c.Epsilon, 1e-7)
	return newOpt(&adamax{c}, c.Options)
}

type adamax struct{ c Adamax }

func (r *adamax) name() string         { return "Adamax" }
func (r *adamax) slotNames() []string  { return []string{"momentum", "norm"} }
func (r *adamax) slotInit(int) float32 { return 0 }
func (r *adamax) prepare(int64)        {}
func (r *adamax) update(w, g []float32, s [][]float32, lr float32, t int64) {
	b1, b2, eps := float32(r.c.Beta1), float32(r.c.Beta2), float32(r.c.Epsilon)
	bp := pow32(b1, t)
	omb1 := float32(1 - r.c.Beta1)
	m, u := s[0], s[1]
	for j := range w {
		m[j] += (g[j] - m[j]) * omb1
		u[j] = max(b2*u[j], float32(math.Abs(float64(g[j]))))
		w[j] -= (lr * m[j]) / ((1 - bp) * (u[j] + eps))
	}
}

// Nadam configures keras.optimizers.Nadam (learning_rate 0.001, beta_1
// 0.9, beta_2 0.999, epsilon 1e-7), Keras 3's rule with the momentum
// schedule u_t = beta_1 (1 - 0.5*0.96^t) and its running product (an
// optimizer variable Slots does not list). Slots "momentum", "velocity".
type Nadam struct {
	Options
	Beta1, Beta2, Epsilon float64
}

// NewNadam returns the optimizer; zero fields take Keras's defaults.
func NewNadam(c Nadam) Optimizer {
	c.LearningRate = def(c.LearningRate, 0.001)
	c.Beta1 = def(c.Beta1, 0.9)
	c.Beta2 = def(c.Beta2, 0.999)
	c.Epsilon = def(c.Epsilon, 1e-7)
	return newOpt(&nadam{c: c, uProduct: 1}, c.Options)
}

type nadam struct {
	c                Nadam
	uProduct         float32
	ut, ut1, up, up1 float32
	b2p              float32
}

func (r *nadam) name() string         { return "Nadam" }
func (r *nadam) slotNames() []string  { return []string{"momentum", "velocity"} }
func (r *nadam) slotInit(int) float32 { return 0 }
func (r *nadam) prepare(t int64) {
	b1 := float32(r.c.Beta1)
	r.ut = b1 * (1 - 0.5*pow32(0.96, t))
	r.ut1 = b1 * (1 - 0.5*pow32(0.96, t+1))
	r.uProduct *= r.ut
	r.up = r.uProduct
	r.up1 = r.up * r.ut1
	r.b2p = pow32(float32(r.c.Beta2), t)
}
func (r *nadam) update(w, g []float32, s [][]float32, lr float32, t int64) {
	b1, b2, eps := float32(r.c.Beta1), float32(r.c.Beta2), float32(r.c.Epsilon)
	omb1, omb2 := float32(1-r.c.Beta1), float32(1-r.c.Beta2)
	_, _ = b1, b2
	m, v := s[0], s[1]
	for j := range w {
		m[j] += (g[j] - m[j]) * omb1
		v[j] += (g[j]*g[j] - v[j]) * omb2
		mh := r.ut1*m[j]/(1-r.up1) + (1-r.ut)*g[j]/(1-r.up)
		vh := v[j] / (1 - r.b2p)
		w[j] -= (mh * lr) / (sqrt32(vh) + eps)
	}
}
