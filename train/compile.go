package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/metric"
	"github.com/kiln-ml/kiln/train/optimizer"
)

// ErrNotCompiled is returned by the training methods of a model that has
// not been compiled.
var ErrNotCompiled = errors.New("train: the model is not compiled; call Compile (or CompileFromConfig) first")

// CompileOptions are Keras's compile arguments beyond the optimizer, the
// loss and the metrics.
type CompileOptions struct {
	// Losses gives one loss per model output (overrides the single loss).
	Losses []loss.Loss
	// LossWeights scales each output's loss in the total (default 1).
	LossWeights []float64
	// WeightedMetrics are metrics that, unlike the plain ones, count each
	// sample with its sample (or class) weight, as Keras's
	// weighted_metrics. A name the plain metrics also use is reported as
	// "weighted_" + name.
	WeightedMetrics []string
}

// trainState is what Compile attaches to a model.
type trainState struct {
	opt         optimizer.Optimizer
	losses      []loss.Loss
	lossWeights []float64
	metricNames []string
	weighted    []string // weighted_metrics
	// metrics[i] are output i's metrics, resolved at the first batch
	// (accuracy depends on the target shapes).
	metrics [][]renamed
	// trainable are the weights the optimizer updates, in Keras's
	// trainable_weights order.
	trainable []*layer.Weight
	// penalties are the regularizers of trainable weights.
	penalties []penalty
	progs     map[string]*program
	built     bool // optimizer built for trainable
	restored  bool // saved optimizer state restored by Compile
	stop      bool
}

type penalty struct {
	w *layer.Weight
	r loss.Regularizer
}

// Compile prepares the model for training with an optimizer, a loss (used
// for every output unless opts.Losses is given) and metric names as Keras
// accepts them ("accuracy", "mae", "precision", "auc", ...). Regularizer
// penalties of trainable weights (from the layers' *_regularizer configs)
// are added to the loss, as Keras 3 does. Compile builds the model and
// records which weights are trainable; call it again after freezing or
// unfreezing layers, as in Keras.
func (m *Model) Compile(opt optimizer.Optimizer, l loss.Loss, metrics []string, opts ...CompileOptions) error {
	if opt == nil {
		return fmt.Errorf("train: Compile: no optimizer")
	}
	if !m.Built {
		if _, err := m.Build(nil); err != nil {
			return err
		}
	}
	var o CompileOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	n := len(m.outputs)
	ts := &trainState{opt: opt, metricNames: append([]string(nil), metrics...), weighted: append([]string(nil), o.WeightedMetrics...), progs: map[string]*program{}}
	switch {
	case len(o.Losses) > 0:
		if len(o.Losses) != n {
			return fmt.Errorf("train: Compile: %d losses for a model with %d outputs", len(o.Losses), n)
		}
		ts.losses = o.Losses
	case l != nil:
		for range n {
			ts.losses = append(ts.losses, l)
		}
	default:
		return fmt.Errorf("train: Compile: no loss")
	}
	ts.lossWeights = make([]float64, n)
	for i := range ts.lossWeights {
		ts.lossWeights[i] = 1
		if i < len(o.LossWeights) {
			ts.lossWeights[i] = o.LossWeights[i]
		}
	}
	for _, name := range append(append([]string(nil), metrics...), o.WeightedMetrics...) {
		if _, err := metric.Get(name, []int{-1, 2}, []int{-1, 2}); err != nil {
			return fmt.Errorf("train: Compile: %w", err)
		}
	}
	ts.trainable = m.TrainableWeights()
	for _, w := range ts.trainable {
		if w.Value == nil || w.Value.DType() != tensor.Float32 {
			return fmt.Errorf("train: Compile: trainable weight %s is not float32; only float32 weights are trained", w.Name)
		}
	}
	regs, err := m.regularizers()
	if err != nil {
		return err
	}
	for _, w := range ts.trainable {
		if r, ok := regs[w]; ok {
			ts.penalties = append(ts.penalties, penalty{w, r})
		}
	}
	if m.training != nil {
		m.training.close()
	}
	m.training = ts
	m.restoreSavedOptimizer()
	return nil
}

// regularizers maps weights to the regularizers their layers declare.
func (m *Model) regularizers() (map[*layer.Weight]loss.Regularizer, error) {
	out := map[*layer.Weight]loss.Regularizer{}
	var walk func(ls []layer.Layer) error
	walk = func(ls []layer.Layer) error {
		for _, l := range ls {
			if sub, ok := l.(*Model); ok {
				if err := walk(sub.layers); err != nil {
					return err
				}
				continue
			}
			regs := layer.BaseOf(l).Regularizers
			if len(regs) == 0 {
				continue
			}
			for _, w := range allWeights(l) {
				raw, ok := regs[layer.RegularizerKey(w.Name)]
				if !ok {
					continue
				}
				r, err := loss.RegularizerFromConfig(raw)
				if err != nil {
					return fmt.Errorf("train: layer %q: %w", l.Name(), err)
				}
				out[w] = r
			}
		}
		return nil
	}
	return out, walk(m.layers)
}

// allWeights lists a layer's weights (wrappers included, as Weights does).
func allWeights(l layer.Layer) []*layer.Weight { return l.Weights() }

// SetRegularizer attaches a regularizer to the weights of a layer named by
// Keras config key ("kernel_regularizer", "bias_regularizer", ...), as the
// layer's config would. Call Compile afterwards.
func SetRegularizer(l layer.Layer, key string, r loss.Regularizer) {
	b := layer.BaseOf(l)
	if b.Regularizers == nil {
		b.Regularizers = map[string]json.RawMessage{}
	}
	b.Regularizers[key] = r.Config()
}

// Optimizer returns the compiled optimizer, or nil.
func (m *Model) Optimizer() optimizer.Optimizer {
	if m.training == nil {
		return nil
	}
	return m.training.opt
}

// MetricsNames returns the keys of the logs TrainOnBatch and Evaluate
// report: "loss", then each metric (prefixed with the output name when the
// model has several outputs).
func (m *Model) MetricsNames() []string {
	if m.training == nil {
		return nil
	}
	out := []string{"loss"}
	names := m.OutputNames()
	for i := range m.outputs {
		prefix := ""
		if len(m.outputs) > 1 {
			prefix = names[i] + "_"
		}
		plain := map[string]bool{}
		for _, mn := range m.training.metricNames {
			out = append(out, prefix+mn)
			plain[mn] = true
		}
		for _, mn := range m.training.weighted {
			if plain[mn] {
				mn = "weighted_" + mn
			}
			out = append(out, prefix+mn)
		}
	}
	return out
}

// StopTraining asks a running Fit to stop after the current epoch (what
// Keras callbacks do with model.stop_training = True).
func (m *Model) StopTraining() {
	if m.training != nil {
		m.training.stop = true
	}
}

func (ts *trainState) close() {
	for _, p := range ts.progs {
		p.prog.Close()
	}
	ts.progs = map[string]*program{}
}

// CompileFromConfig compiles the model as a saved Keras model records it:
// a tf.keras 2 training_config ({"loss", "metrics", "loss_weights",
// "optimizer_config"}) or a Keras 3 compile_config ({"optimizer", "loss",
// "metrics", "loss_weights"}); formats/h5 returns either in
// Info.CompileConfig. Losses given per output (a list or an object keyed
// by output name) and weighted_metrics are honoured.
func (m *Model) CompileFromConfig(raw []byte) error {
	var c struct {
		Loss            json.RawMessage `json:"loss"`
		Metrics         json.RawMessage `json:"metrics"`
		WeightedMetrics json.RawMessage `json:"weighted_metrics"`
		LossWeights     json.RawMessage `json:"loss_weights"`
		OptimizerConfig json.RawMessage `json:"optimizer_config"`
		Optimizer       json.RawMessage `json:"optimizer"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("train: compile config: %w", err)
	}
	optRaw := c.OptimizerConfig
	if len(optRaw) == 0 || string(optRaw) == "null" {
		optRaw = c.Optimizer
	}
	if len(optRaw) == 0 || string(optRaw) == "null" {
		return fmt.Errorf("train: compile config has no optimizer")
	}
	opt, err := optimizer.FromConfig(optRaw)
	if err != nil {
		return fmt.Errorf("train: compile config: %w", err)
	}
	var o CompileOptions
	var single loss.Loss
	names := m.OutputNames()
	switch {
	case len(c.Loss) > 0 && c.Loss[0] == '[':
		var ls []json.RawMessage
		if err := json.Unmarshal(c.Loss, &ls); err != nil {
			return fmt.Errorf("train: compile config loss: %w", err)
		}
		if len(ls) == 1 && len(names) != 1 {
			if single, err = loss.FromConfig(ls[0]); err != nil {
				return fmt.Errorf("train: compile config: %w", err)
			}
			break
		}
		for _, r := range ls {
			l, err := loss.FromConfig(r)
			if err != nil {
				return fmt.Errorf("train: compile config: %w", err)
			}
			o.Losses = append(o.Losses, l)
		}
		if len(o.Losses) == 1 {
			single, o.Losses = o.Losses[0], nil
		}
	case len(c.Loss) > 0 && c.Loss[0] == '{' && !strings.Contains(string(c.Loss), `"class_name"`):
		var ls map[string]json.RawMessage
		if err := json.Unmarshal(c.Loss, &ls); err != nil {
			return fmt.Errorf("train: compile config loss: %w", err)
		}
		for _, n := range names {
			r, ok := ls[n]
			if !ok {
				return fmt.Errorf("train: compile config: no loss for output %q", n)
			}
			l, err := loss.FromConfig(r)
			if err != nil {
				return fmt.Errorf("train: compile config: %w", err)
			}
			o.Losses = append(o.Losses, l)
		}
	default:
		if single, err = loss.FromConfig(c.Loss); err != nil {
			return fmt.Errorf("train: compile config: %w", err)
		}
	}
	metrics, err := metricNames(c.Metrics)
	if err != nil {
		return err
	}
	if o.WeightedMetrics, err = metricNames(c.WeightedMetrics); err != nil {
		return err
	}
	if len(c.LossWeights) > 0 && string(c.LossWeights) != "null" {
		if err := json.Unmarshal(c.LossWeights, &o.LossWeights); err != nil {
			return fmt.Errorf("train: compile config loss_weights %s: a list of numbers is supported", c.LossWeights)
		}
	}
	return m.Compile(opt, single, metrics, o)
}

// metricNames flattens a serialised metrics list (strings, nested lists,
// or metric objects, whose config name is used).
func metricNames(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, r := range list {
			n, err := metricNames(r)
			if err != nil {
				return nil, err
			}
			out = append(out, n...)
		}
		return out, nil
	}
	var obj struct {
		ClassName string `json:"class_name"`
		Config    struct {
			Name string `json:"name"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.ClassName == "" {
		return nil, fmt.Errorf("train: compile config: metrics %s: expected names or metric objects", raw)
	}
	if obj.Config.Name != "" {
		return []string{obj.Config.Name}, nil
	}
	return []string{snake(obj.ClassName)}, nil
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
