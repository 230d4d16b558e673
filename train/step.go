package train

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/metric"
)

// Logs maps "loss" and metric names (with "val_" for validation) to
// values, as Keras's logs dictionaries do.
type Logs map[string]float64

// ensureMetrics creates the metrics once the target shapes are known.
func (m *Model) ensureMetrics(y []*tensor.Tensor) error {
	ts := m.training
	if ts.metrics != nil {
		return nil
	}
	names := m.MetricsNames()[1:]
	k := 0
	ts.metrics = make([][]renamed, len(m.outputs))
	for i := range m.outputs {
		for j, mn := range append(append([]string(nil), ts.metricNames...), ts.weighted...) {
			mt, err := metric.Get(mn, []int(y[i].Shape()), m.outShapes[i])
			if err != nil {
				return fmt.Errorf("train: %w", err)
			}
			ts.metrics[i] = append(ts.metrics[i], renamed{mt, names[k], j >= len(ts.metricNames)})
			k++
		}
	}
	return nil
}

// renamed gives a metric the key it has in the logs.
type renamed struct {
	metric.Metric
	key string
	// weighted metrics count samples by their weights; the others, as in
	// Keras, do not.
	weighted bool
}

func (r renamed) Name() string { return r.key }

// update adds a batch to every metric.
func (ts *trainState) updateMetrics(y []*tensor.Tensor, preds func(i int) *tensor.Tensor, sw []float32) error {
	for i, ms := range ts.metrics {
		for _, mt := range ms {
			w := sw
			if !mt.weighted {
				w = nil
			}
			if err := mt.Update(y[i], preds(i), w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Model) resetMetrics() {
	for _, ms := range m.training.metrics {
		for _, mt := range ms {
			mt.Reset()
		}
	}
}

func (m *Model) metricLogs(logs Logs) {
	for _, ms := range m.training.metrics {
		for _, mt := range ms {
			logs[mt.Name()] = mt.Result()
		}
	}
}

// sampleWeights returns the per-sample weights tensor (ones when nil).
func sampleWeights(n int, sw []float32) (*tensor.Tensor, error) {
	if sw == nil {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return tensor.From(tensor.Shape{n}, v), nil
	}
	if len(sw) != n {
		return nil, fmt.Errorf("train: %d sample weights for %d samples", len(sw), n)
	}
	return tensor.From(tensor.Shape{n}, append([]float32(nil), sw...)), nil
}

func batchSize(x []*tensor.Tensor) (int, error) {
	if len(x) == 0 || x[0].Rank() == 0 {
		return 0, fmt.Errorf("train: inputs need a batch dimension")
	}
	return x[0].Shape()[0], nil
}

// trainStep runs one training step: forward pass in training mode, loss,
// gradients, the optimizer update and the state updates; the metrics
// accumulate the step's predictions (made before the update). It returns
// the step's total loss.
func (m *Model) trainStep(x, y []*tensor.Tensor, sw []float32) (float64, error) {
	ts := m.training
	if ts == nil || ts.opt == nil {
		return 0, ErrNotCompiled
	}
	n, err := batchSize(x)
	if err != nil {
		return 0, err
	}
	swt, err := sampleWeights(n, sw)
	if err != nil {
		return 0, err
	}
	if err := m.ensureMetrics(y); err != nil {
		return 0, err
	}
	p, err := m.programFor(modeTrain, y)
	if err != nil {
		return 0, err
	}
	if err := m.buildOptimizer(); err != nil {
		return 0, err
	}
	res, err := p.run(x, y, swt)
	if err != nil {
		return 0, fmt.Errorf("train: training step: %w", err)
	}
	loss := float64(res[p.loss].F32()[0])
	if err := ts.updateMetrics(y, func(i int) *tensor.Tensor { return res[p.preds[i]] }, sw); err != nil {
		return 0, err
	}
	grads := make([]*tensor.Tensor, len(p.grads))
	for i, gn := range p.grads {
		if gn != "" {
			grads[i] = res[gn]
		}
	}
	if err := ts.opt.Apply(grads); err != nil {
		return 0, err
	}
	for _, u := range p.updates {
		u.Weight.Value.CopyFrom(res[u.Value])
	}
	return loss, nil
}

// TrainOnBatch runs one training step on a batch and returns the loss and
// metrics of that batch alone (tf.keras 2 and Keras >= 3.15 semantics:
// metrics are reset first). x holds one tensor per model input, y one per
// output; sampleWeight may be nil.
func (m *Model) TrainOnBatch(x, y []*tensor.Tensor, sampleWeight []float32) (Logs, error) {
	return m.onBatch(m.trainStep, x, y, sampleWeight)
}

// onBatch runs one step on a batch with the metrics reset first and
// returns its loss and metrics.
func (m *Model) onBatch(step func(x, y []*tensor.Tensor, sw []float32) (float64, error), x, y []*tensor.Tensor, sw []float32) (Logs, error) {
	if m.training == nil || m.training.opt == nil {
		return nil, ErrNotCompiled
	}
	if err := m.ensureMetrics(y); err != nil {
		return nil, err
	}
	m.resetMetrics()
	loss, err := step(x, y, sw)
	if err != nil {
		return nil, err
	}
	logs := Logs{"loss": loss}
	m.metricLogs(logs)
	return logs, nil
}

// testStep evaluates one batch in inference mode, accumulating metrics.
func (m *Model) testStep(x, y []*tensor.Tensor, sw []float32) (float64, error) {
	n, err := batchSize(x)
	if err != nil {
		return 0, err
	}
	swt, err := sampleWeights(n, sw)
	if err != nil {
		return 0, err
	}
	if err := m.ensureMetrics(y); err != nil {
		return 0, err
	}
	p, err := m.programFor(modeEval, y)
	if err != nil {
		return 0, err
	}
	res, err := p.run(x, y, swt)
	if err != nil {
		return 0, fmt.Errorf("train: evaluation: %w", err)
	}
	if err := m.training.updateMetrics(y, func(i int) *tensor.Tensor { return res[p.preds[i]] }, sw); err != nil {
		return 0, err
	}
	return float64(res[p.loss].F32()[0]), nil
}

// TestOnBatch returns the loss (regularizer penalties included) and the
// metrics of one batch in inference mode.
func (m *Model) TestOnBatch(x, y []*tensor.Tensor, sampleWeight []float32) (Logs, error) {
	return m.onBatch(m.testStep, x, y, sampleWeight)
}

// PredictOnBatch returns the model outputs for one batch in inference
// mode, with the current weights. It works on uncompiled models too.
func (m *Model) PredictOnBatch(x []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if m.training == nil {
		if !m.Built {
			if _, err := m.Build(nil); err != nil {
				return nil, err
			}
		}
		m.training = &trainState{progs: map[string]*program{}}
	}
	p, err := m.programFor(modePredict, nil)
	if err != nil {
		return nil, err
	}
	res, err := p.run(x, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("train: predict: %w", err)
	}
	out := make([]*tensor.Tensor, len(p.preds))
	for i, n := range p.preds {
		out[i] = res[n]
	}
	return out, nil
}

func isNaN(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
