package h5

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/optimizer"
	"gonum.org/v1/hdf5"
)

// compiledState is what a compiled model adds to a saved file: its compile
// settings and its optimizer's variables.
type compiledState struct {
	training []byte
	vars     []optimizer.Variable
	optName  string
}

// compiled gathers the compile settings and optimizer state to save:
// opts.TrainingConfig when given, else the model's own compile settings
// when it is compiled; the optimizer variables unless opts.ExcludeOptimizer.
func (opts SaveOptions) compiled(m *train.Model, d train.Dialect, legacy bool) (*compiledState, error) {
	cs := &compiledState{training: opts.TrainingConfig}
	if m.Optimizer() == nil {
		return cs, nil
	}
	if cs.training == nil {
		b, err := m.CompileConfig(d)
		if err != nil {
			return nil, err
		}
		if legacy && d == train.Keras3 {
			if b, err = legacyTrainingConfig(b); err != nil {
				return nil, err
			}
		}
		cs.training = b
	}
	if opts.ExcludeOptimizer {
		return cs, nil
	}
	vs, err := m.OptimizerVariables()
	if err != nil {
		return nil, fmt.Errorf("optimizer state: %w", err)
	}
	cs.vars = vs
	cs.optName = strings.ToLower(m.Optimizer().Name())
	return cs, nil
}

func writeTensor(g *wgroup, name string, t *tensor.Tensor) error {
	switch t.DType() {
	case tensor.Float32:
		return g.float32s(name, t.Shape(), t.F32())
	case tensor.Float64:
		return g.float64s(name, t.Shape(), t.F64())
	default:
		return g.int64s(name, t.Shape(), t.Int64s())
	}
}

// writeLegacyOptimizer writes the optimizer_weights group of a legacy .h5
// file as Keras's legacy saving does: attribute weight_names and one
// dataset per optimizer variable at that name. tf.keras 2.11+ names them
// "iteration:0", "m/dense/kernel:0", ... and lists no learning rate; Keras
// 3 names them by variable path ("adam/iteration", "adam/learning_rate",
// "adam/dense_kernel_momentum", ...). Keras restores them by position.
func writeLegacyOptimizer(root *wgroup, cs *compiledState, d train.Dialect, list strLayout) error {
	if cs == nil || len(cs.vars) == 0 {
		return nil
	}
	g, err := root.group("optimizer_weights")
	if err != nil {
		return err
	}
	defer g.close()
	var names []string
	var vals []*tensor.Tensor
	for _, v := range cs.vars {
		name := cs.optName + "/" + v.Name
		if d == train.Keras2 {
			if v.Name == "learning_rate" {
				continue
			}
			name = v.Name + ":0"
			if v.Var >= 0 {
				name = keras2SlotName(v.Name)
			}
		}
		names = append(names, name)
		vals = append(vals, v.Value)
	}
	if err := writeNameList(g, "weight_names", names, list); err != nil {
		return err
	}
	for i, n := range names {
		if err := writeTensor(g, n, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// keras2SlotName turns "<layer>_<weight>_<slot>" into the
// "<slot>/<layer>_<weight>:0" form of tf.keras 2 slot variables.
func keras2SlotName(s string) string {
	for _, slot := range []string{"velocity_hat", "accumulated_grad", "accumulated_delta_var", "average_gradient", "momentum", "velocity", "accumulator", "norm"} {
		if strings.HasSuffix(s, "_"+slot) {
			return slot + "/" + strings.TrimSuffix(s, "_"+slot) + ":0"
		}
	}
	return s + ":0"
}

// writeKeras3Optimizer writes optimizer/vars/<i> of a .keras
// model.weights.h5 (the vars group named after the optimizer, as Keras 3
// writes it).
func writeKeras3Optimizer(root *wgroup, cs *compiledState) error {
	if cs == nil || len(cs.vars) == 0 {
		return nil
	}
	g, err := root.group("optimizer")
	if err != nil {
		return err
	}
	defer g.close()
	v, err := g.group("vars")
	if err != nil {
		return err
	}
	defer v.close()
	if err := v.strAttr("name", []string{cs.optName}, strLayout{utf8: true, scalar: true}); err != nil {
		return err
	}
	for i, x := range cs.vars {
		if err := writeTensor(v, fmt.Sprint(i), x.Value); err != nil {
			return err
		}
	}
	return nil
}

// stateSetter is implemented by models that take a stored optimizer
// state (train.Model).
type stateSetter interface {
	SetSavedOptimizerState(vals []*tensor.Tensor, keras2 bool)
}

func toTensor(a *array) *tensor.Tensor {
	return tensor.From(tensor.Shape(a.Shape), a.Data)
}

// loadLegacyOptimizer reads the optimizer_weights group of a legacy .h5
// file, in weight_names order, into the model's saved optimizer state.
func loadLegacyOptimizer(f *hdf5.File, m kerasModel, keras2 bool) error {
	s, ok := m.(stateSetter)
	if !ok || !f.LinkExists("optimizer_weights") {
		return nil
	}
	g, err := f.OpenGroup("optimizer_weights")
	if err != nil {
		return nil
	}
	defer g.Close()
	names, err := readChunked(g, "weight_names")
	if err != nil {
		return nil
	}
	vals := make([]*tensor.Tensor, len(names))
	for i, n := range names {
		a, err := readArray(&g.CommonFG, n)
		if err != nil {
			return fmt.Errorf("optimizer_weights: %w", err)
		}
		vals[i] = toTensor(a)
	}
	s.SetSavedOptimizerState(vals, keras2)
	return nil
}

// loadKeras3OptimizerState reads optimizer/vars/0, 1, ... of a .keras
// model.weights.h5 into the model's saved optimizer state.
func loadKeras3OptimizerState(f *hdf5.File, m kerasModel) error {
	s, ok := m.(stateSetter)
	if !ok || !f.LinkExists("optimizer") {
		return nil
	}
	g, err := f.OpenGroup("optimizer")
	if err != nil {
		return nil
	}
	defer g.Close()
	if !g.LinkExists("vars") {
		return nil
	}
	v, err := g.OpenGroup("vars")
	if err != nil {
		return nil
	}
	defer v.Close()
	var vals []*tensor.Tensor
	for i := 0; v.LinkExists(fmt.Sprint(i)); i++ {
		a, err := readArray(&v.CommonFG, fmt.Sprint(i))
		if err != nil {
			return fmt.Errorf("optimizer/vars: %w", err)
		}
		vals = append(vals, toTensor(a))
	}
	s.SetSavedOptimizerState(vals, false)
	return nil
}

// legacyTrainingConfig turns a Keras 3 compile_config into the
// training_config Keras 3 writes in a legacy .h5 file: the compile
// settings with the optimizer as "optimizer_config": {"class_name",
// "config"}.
func legacyTrainingConfig(b []byte) ([]byte, error) {
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if o, ok := c["optimizer"].(map[string]any); ok {
		c["optimizer_config"] = map[string]any{"class_name": o["class_name"], "config": o["config"]}
		delete(c, "optimizer")
	}
	return json.Marshal(c)
}
