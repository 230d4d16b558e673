// Package metric implements Keras's training metrics as stateful
// accumulators over batches: the accuracy family (resolved from the shapes
// as Keras does), precision, recall, AUC, and the regression errors.
// A metric's Result is its value over every batch since Reset, weighted by
// the sample weights, as Keras's metric objects report it.
package metric

import (
	"errors"
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// ErrUnknown marks a metric name Keras does not define (or kiln lacks).
var ErrUnknown = errors.New("unknown metric")

// Metric accumulates a value over batches.
type Metric interface {
	// Name is the key the metric has in logs and History ("accuracy").
	Name() string
	Reset()
	// Update adds a batch: targets, predictions (float32, batch first) and
	// optional per-sample weights (nil means 1).
	Update(yTrue, yPred *tensor.Tensor, sampleWeight []float32) error
	Result() float64
}

// floats reads a numeric tensor as float64.
func floats(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.At(i)
	}
	return out
}

// perSample is a metric that averages one value per sample (Keras's
// MeanMetricWrapper).
type perSample struct {
	name         string
	f            func(yt, yp []float64, tShape, pShape tensor.Shape) ([]float64, error)
	total, count float64
}

func (m *perSample) Name() string { return m.name }
func (m *perSample) Reset()       { m.total, m.count = 0, 0 }
func (m *perSample) Result() float64 {
	if m.count == 0 {
		return 0
	}
	return m.total / m.count
}
func (m *perSample) Update(yt, yp *tensor.Tensor, sw []float32) error {
	v, err := m.f(floats(yt), floats(yp), yt.Shape(), yp.Shape())
	if err != nil {
		return fmt.Errorf("metric %s: %w", m.name, err)
	}
	for i, x := range v {
		w := 1.0
		if sw != nil {
			w = float64(sw[i])
		}
		m.total += x * w
		m.count += w
	}
	return nil
}

func batch(s tensor.Shape) int {
	if len(s) == 0 {
		return 1
	}
	return s[0]
}

// rows splits a flat value into per-sample rows.
func rows(v []float64, s tensor.Shape) [][]float64 {
	n := batch(s)
	if n == 0 {
		return nil
	}
	k := len(v) / n
	out := make([][]float64, n)
	for i := range out {
		out[i] = v[i*k : (i+1)*k]
	}
	return out
}

// elementwise builds a per-sample mean over the last axis of f(t, p).
func elementwise(name string, f func(t, p float64) float64) Metric {
	return &perSample{name: name, f: func(yt, yp []float64, ts, ps tensor.Shape) ([]float64, error) {
		if len(yt) != len(yp) {
			return nil, fmt.Errorf("targets %v and predictions %v differ in size", ts, ps)
		}
		var out []float64
		for i, r := range rows(yp, ps) {
			tr := rows(yt, ps)[i]
			s := 0.0
			for j := range r {
				s += f(tr[j], r[j])
			}
			out = append(out, s/float64(len(r)))
		}
		return out, nil
	}}
}

func argmax(r []float64) int {
	best := 0
	for i, v := range r {
		if v > r[best] {
			best = i
		}
	}
	return best
}

// BinaryAccuracy is the share of predictions on the right side of
// threshold (Keras default 0.5): y_pred > threshold equals y_true.
func BinaryAccuracy(name string, threshold float64) Metric {
	return elementwise(name, func(t, p float64) float64 {
		if (p > threshold) == (t > 0.5) {
			return 1
		}
		return 0
	})
}

// CategoricalAccuracy compares argmax of one-hot targets and predictions.
func CategoricalAccuracy(name string) Metric {
	return &perSample{name: name, f: func(yt, yp []float64, ts, ps tensor.Shape) ([]float64, error) {
		pr, tr := rows(yp, ps), rows(yt, ts)
		if len(pr) != len(tr) {
			return nil, fmt.Errorf("targets %v and predictions %v differ in batch size", ts, ps)
		}
		out := make([]float64, len(pr))
		for i := range pr {
			if argmax(pr[i]) == argmax(tr[i]) {
				out[i] = 1
			}
		}
		return out, nil
	}}
}

// SparseCategoricalAccuracy compares integer labels with argmax of the
// predictions.
func SparseCategoricalAccuracy(name string) Metric {
	return &perSample{name: name, f: func(yt, yp []float64, ts, ps tensor.Shape) ([]float64, error) {
		pr := rows(yp, ps)
		if len(yt) != len(pr) {
			return nil, fmt.Errorf("%d labels for %d predictions", len(yt), len(pr))
		}
		out := make([]float64, len(pr))
		for i := range pr {
			if float64(argmax(pr[i])) == yt[i] {
				out[i] = 1
			}
		}
		return out, nil
	}}
}

// MeanAbsoluteError is mean(|y_pred - y_true|) over the last axis.
func MeanAbsoluteError(name string) Metric {
	return elementwise(name, func(t, p float64) float64 { return math.Abs(p - t) })
}

// MeanSquaredError is mean((y_pred - y_true)^2) over the last axis.
func MeanSquaredError(name string) Metric {
	return elementwise(name, func(t, p float64) float64 { return (p - t) * (p - t) })
}

// RootMeanSquaredError is sqrt of the weighted mean of squared errors.
func RootMeanSquaredError(name string) Metric {
	return &rmse{perSample: *MeanSquaredError(name).(*perSample)}
}

type rmse struct{ perSample }

func (m *rmse) Result() float64 { return math.Sqrt(m.perSample.Result()) }

// MeanAbsolutePercentageError is 100 mean(|t - p| / max(|t|, 1e-7)).
func MeanAbsolutePercentageError(name string) Metric {
	return elementwise(name, func(t, p float64) float64 { return 100 * math.Abs(t-p) / math.Max(math.Abs(t), 1e-7) })
}

// confusion counts true/false positives and negatives at thresholds.
type confusion struct {
	name           string
	thresholds     []float64
	tp, fp, tn, fn []float64
	result         func(c *confusion) float64
}

func (m *confusion) Name() string { return m.name }
func (m *confusion) Reset() {
	n := len(m.thresholds)
	m.tp, m.fp, m.tn, m.fn = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
}
func (m *confusion) Result() float64 { return m.result(m) }
func (m *confusion) Update(yt, yp *tensor.Tensor, sw []float32) error {
	t, p := floats(yt), floats(yp)
	if len(t) != len(p) {
		return fmt.Errorf("metric %s: targets %v and predictions %v differ in size", m.name, yt.Shape(), yp.Shape())
	}
	per := 1
	if n := batch(yp.Shape()); n > 0 {
		per = len(p) / n
	}
	for i := range p {
		w := 1.0
		if sw != nil {
			w = float64(sw[i/per])
		}
		pos := t[i] > 0.5
		for k, th := range m.thresholds {
			pred := p[i] > th
			switch {
			case pred && pos:
				m.tp[k] += w
			case pred && !pos:
				m.fp[k] += w
			case !pred && pos:
				m.fn[k] += w
			default:
				m.tn[k] += w
			}
		}
	}
	return nil
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Precision is tp / (tp + fp) at threshold 0.5 (Keras's default).
func Precision(name string) Metric {
	m := &confusion{name: name, thresholds: []float64{0.5}, result: func(c *confusion) float64 { return div(c.tp[0], c.tp[0]+c.fp[0]) }}
	m.Reset()
	return m
}

// Recall is tp / (tp + fn) at threshold 0.5.
func Recall(name string) Metric {
	m := &confusion{name: name, thresholds: []float64{0.5}, result: func(c *confusion) float64 { return div(c.tp[0], c.tp[0]+c.fn[0]) }}
	m.Reset()
	return m
}

// AUC is Keras's AUC with its defaults: the ROC curve over 200 thresholds
// (0 - 1e-7, i/199 for i = 1..198, 1 + 1e-7), integrated with the
// trapezoidal rule.
func AUC(name string) Metric {
	const n = 200
	th := make([]float64, n)
	th[0] = -1e-7
	for i := 1; i < n-1; i++ {
		th[i] = float64(i) / float64(n-1)
	}
	th[n-1] = 1 + 1e-7
	m := &confusion{name: name, thresholds: th, result: func(c *confusion) float64 {
		area := 0.0
		for i := 0; i < n-1; i++ {
			tpr0, tpr1 := div(c.tp[i], c.tp[i]+c.fn[i]), div(c.tp[i+1], c.tp[i+1]+c.fn[i+1])
			fpr0, fpr1 := div(c.fp[i], c.fp[i]+c.tn[i]), div(c.fp[i+1], c.fp[i+1]+c.tn[i+1])
			area += (tpr0 + tpr1) / 2 * (fpr0 - fpr1)
		}
		return area
	}}
	m.Reset()
	return m
}

// Get resolves a metric name as Keras's compile does. "accuracy" and "acc"
// depend on the shapes (given as Keras shapes, batch first): one output
// unit -> binary accuracy; targets of lower rank or last dimension 1
// against several outputs -> sparse categorical accuracy; otherwise
// categorical accuracy. The metric keeps the name it was asked by.
func Get(name string, yTrue, yPred []int) (Metric, error) {
	switch name {
	case "accuracy", "acc":
		pl := last(yPred)
		switch {
		case pl == 1:
			return BinaryAccuracy(name, 0.5), nil
		case len(yTrue) < len(yPred) || last(yTrue) == 1 && pl > 1:
			return SparseCategoricalAccuracy(name), nil
		}
		return CategoricalAccuracy(name), nil
	case "binary_accuracy":
		return BinaryAccuracy(name, 0.5), nil
	case "categorical_accuracy":
		return CategoricalAccuracy(name), nil
	case "sparse_categorical_accuracy":
		return SparseCategoricalAccuracy(name), nil
	case "mae", "mean_absolute_error":
		return MeanAbsoluteError(name), nil
	case "mse", "mean_squared_error":
		return MeanSquaredError(name), nil
	case "mape", "mean_absolute_percentage_error":
		return MeanAbsolutePercentageError(name), nil
	case "root_mean_squared_error", "rmse":
		return RootMeanSquaredError(name), nil
	case "precision":
		return Precision(name), nil
	case "recall":
		return Recall(name), nil
	case "auc":
		return AUC(name), nil
	}
	return nil, fmt.Errorf("metric %q: %w", name, ErrUnknown)
}

func last(s []int) int {
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}
