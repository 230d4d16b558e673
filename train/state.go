package train

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

// savedOptimizer is optimizer state read from a file, restored by the
// next Compile when it fits the compiled optimizer.
type savedOptimizer struct {
	vals   []*tensor.Tensor
	keras2 bool
}

// CompileConfig returns the compile settings of a compiled model as Keras
// saves them, for h5.SaveOptions.TrainingConfig: with Keras3 the
// compile_config of a .keras config.json ({"optimizer": {"module",
// "class_name", "config", "registered_name"}, "loss", "loss_weights",
// "metrics", "weighted_metrics", "run_eagerly", "steps_per_execution",
// "jit_compile"}); with Keras2 the training_config attribute of a legacy
// .h5 file ({"loss", "metrics", "weighted_metrics", "loss_weights",
// "optimizer_config": {"class_name": "Custom>Adam", "config"}}).
// CompileFromConfig reads either back. It fails on an uncompiled model.
func (m *Model) CompileConfig(d Dialect) ([]byte, error) {
	ts := m.training
	if ts == nil {
		return nil, ErrNotCompiled
	}
	k3 := d != Keras2
	opt, err := optimizer.Serialize(ts.opt, k3)
	if err != nil {
		return nil, fmt.Errorf("train: compile config: %w", err)
	}
	var l any
	same := true
	for _, x := range ts.losses[1:] {
		same = same && x == ts.losses[0]
	}
	if same {
		l = loss.Config(ts.losses[0], k3)
	} else {
		ls := make([]any, len(ts.losses))
		for i, x := range ts.losses {
			ls[i] = loss.Config(x, k3)
		}
		l = ls
	}
	var lw any
	for _, w := range ts.lossWeights {
		if w != 1 {
			lw = ts.lossWeights
		}
	}
	metrics := any(nil)
	if len(ts.metricNames) > 0 {
		metrics = ts.metricNames
	}
	weighted := any(nil)
	if len(ts.weighted) > 0 {
		weighted = ts.weighted
	}
	c := map[string]any{"loss": l, "loss_weights": lw, "metrics": metrics, "weighted_metrics": weighted}
	if k3 {
		c["optimizer"] = opt
		c["run_eagerly"] = false
		c["steps_per_execution"] = 1
		c["jit_compile"] = false
	} else {
		c["optimizer_config"] = opt
	}
	return json.Marshal(c)
}

// buildOptimizer creates the optimizer's slots for the trainable weights
// once, keeping its iteration count.
func (m *Model) buildOptimizer() error {
	ts := m.training
	if ts.built {
		return nil
	}
	vars := make([]*tensor.Tensor, len(ts.trainable))
	for i, w := range ts.trainable {
		vars[i] = w.Value
	}
	iters := ts.opt.Iterations()
	if err := ts.opt.Build(vars); err != nil {
		return err
	}
	ts.opt.SetIterations(iters)
	ts.built = true
	return nil
}

// OptimizerVariables returns the state of the compiled model's optimizer
// in Keras 3's optimizer.variables order (iteration, learning_rate, then
// the slots of the trainable weights; see optimizer.Variables), building
// the optimizer first if no step has run, as Keras saving does. Slot names
// are made unique Keras 3 style: "<layer>_<weight>_<slot>".
func (m *Model) OptimizerVariables() ([]optimizer.Variable, error) {
	if m.training == nil {
		return nil, ErrNotCompiled
	}
	if err := m.buildOptimizer(); err != nil {
		return nil, err
	}
	vs := optimizer.Variables(m.training.opt)
	for i := range vs {
		if v := vs[i].Var; v >= 0 && v < len(m.training.trainable) {
			w := m.training.trainable[v]
			vs[i].Name = keras3VarName(w.Name) + "_" + vs[i].Name
			if o := m.weightOwner(w); o != "" {
				vs[i].Name = o + "_" + vs[i].Name
			}
		}
	}
	return vs, nil
}

func keras3VarName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' || c == ':' {
			b[i] = '_'
		}
	}
	return string(b)
}

// weightOwner names the top-level layer holding w.
func (m *Model) weightOwner(w *layer.Weight) string {
	for _, l := range m.Layers() {
		for _, x := range l.Weights() {
			if x == w {
				return l.Name()
			}
		}
	}
	return ""
}

// SetOptimizerVariables restores the compiled model's optimizer state from
// values in OptimizerVariables order (keras2: without learning_rate, as
// tf.keras 2.11+ lists its optimizer variables), building the optimizer
// first. Nothing changes when the count or a shape does not fit.
func (m *Model) SetOptimizerVariables(vals []*tensor.Tensor, keras2 bool) error {
	if m.training == nil {
		return ErrNotCompiled
	}
	if err := m.buildOptimizer(); err != nil {
		return err
	}
	return optimizer.SetVariables(m.training.opt, vals, keras2)
}

// SetSavedOptimizerState records optimizer state read from a model file
// (formats/h5 calls it). The next Compile or CompileFromConfig restores it
// when it fits the optimizer compiled, as Keras's load_model does; when it
// does not (another optimizer, other trainable weights, or a file saved
// before the first step, which holds only the iteration count), the
// optimizer starts fresh, as Keras does after its warning.
func (m *Model) SetSavedOptimizerState(vals []*tensor.Tensor, keras2 bool) {
	if len(vals) == 0 {
		m.savedOpt = nil
		return
	}
	m.savedOpt = &savedOptimizer{vals: vals, keras2: keras2}
}

// OptimizerRestored reports whether the last Compile restored the saved
// optimizer state (SetSavedOptimizerState).
func (m *Model) OptimizerRestored() bool { return m.training != nil && m.training.restored }

func (m *Model) restoreSavedOptimizer() {
	s := m.savedOpt
	if s == nil || m.training == nil {
		return
	}
	// Keras 2 lists no learning_rate; Keras 3 does. Try the layout the
	// file's dialect stands for.
	m.savedOpt = nil
	if err := m.SetOptimizerVariables(s.vals, s.keras2); err != nil {
		// A fresh optimizer: rebuild so no partial state survives.
		m.training.built = false
		m.training.opt.SetIterations(0)
		return
	}
	m.training.restored = true
	m.savedOpt = nil
}
