package train

import (
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// FitOptions are Keras's fit arguments. Zero values take Keras's
// defaults: 1 epoch, batch size 32, shuffling on.
type FitOptions struct {
	Epochs    int
	BatchSize int
	// InitialEpoch resumes a previous run (epochs count from it).
	InitialEpoch int
	// ValidationSplit holds out this fraction of the samples, taken from
	// the end before shuffling, as Keras does.
	ValidationSplit float64
	// ValidationX and ValidationY are separate validation data (they take
	// precedence over ValidationSplit).
	ValidationX, ValidationY []*tensor.Tensor
	// NoShuffle keeps the sample order (Keras's shuffle=False).
	NoShuffle bool
	// Seed seeds the shuffling.
	Seed uint64
	// ClassWeight weights each sample's loss by its class: the target's
	// integer value, or its argmax for one-hot targets (first output).
	ClassWeight map[int]float64
	// SampleWeight weights each sample's loss (combined with ClassWeight
	// by multiplication).
	SampleWeight []float32
	Callbacks    []Callback
	Verbose      Verbosity
	// Out receives the progress display (default os.Stdout).
	Out io.Writer
}

// Fit trains the model for Epochs epochs on x (one tensor per model input)
// and y (one per output), in batches of BatchSize, and returns the
// History. The logs of an epoch are the running means of the loss and
// metrics over its batches (the loss weighted by batch size, as Keras 3's
// loss tracker does) and, with validation data, "val_" + the Evaluate
// results at the epoch's end. Callbacks see Keras's events; m.StopTraining
// (EarlyStopping, TerminateOnNaN) ends training after the current batch.
func (m *Model) Fit(x, y []*tensor.Tensor, o FitOptions) (*History, error) {
	ts := m.training
	if ts == nil || ts.opt == nil {
		return nil, ErrNotCompiled
	}
	if o.Epochs <= 0 {
		o.Epochs = 1
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	n, err := numRows("input", append(append([]*tensor.Tensor(nil), x...), y...))
	if err != nil {
		return nil, err
	}
	sw, err := m.fitWeights(y, n, o)
	if err != nil {
		return nil, err
	}
	trainN := n
	vx, vy := o.ValidationX, o.ValidationY
	var vsw []float32
	if vx == nil && o.ValidationSplit > 0 {
		if o.ValidationSplit >= 1 {
			return nil, fmt.Errorf("train: validation split %v must be below 1", o.ValidationSplit)
		}
		trainN = int(float64(n) * (1 - o.ValidationSplit))
		if trainN == 0 || trainN == n {
			return nil, fmt.Errorf("train: validation split %v of %d samples leaves no training or no validation data", o.ValidationSplit, n)
		}
		if vx, err = rowRange(x, seq(trainN, n)); err != nil {
			return nil, err
		}
		if vy, err = rowRange(y, seq(trainN, n)); err != nil {
			return nil, err
		}
		if sw != nil {
			vsw = sw[trainN:]
		}
	}
	steps := (trainN + o.BatchSize - 1) / o.BatchSize
	cbs := append([]Callback(nil), o.Callbacks...)
	if o.Verbose != VerboseSilent {
		cbs = append(cbs, newProgress(o.Out, o.Verbose, o.Epochs, steps))
	}
	h := &History{Params: map[string]int{"epochs": o.Epochs, "steps": steps}}
	ts.stop = false
	for _, c := range cbs {
		if err := c.OnTrainBegin(m, Logs{}); err != nil {
			return h, err
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	order := seq(0, trainN)
	var last Logs
	for epoch := o.InitialEpoch; epoch < o.Epochs && !ts.stop; epoch++ {
		for _, c := range cbs {
			if err := c.OnEpochBegin(m, epoch, Logs{}); err != nil {
				return h, err
			}
		}
		if err := m.ensureMetrics(y); err != nil {
			return h, err
		}
		m.resetMetrics()
		if !o.NoShuffle {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		var lossSum, count float64
		logs := Logs{}
		for b := 0; b < steps; b++ {
			idx := order[b*o.BatchSize : min((b+1)*o.BatchSize, trainN)]
			for _, c := range cbs {
				if err := c.OnBatchBegin(m, b, Logs{}); err != nil {
					return h, err
				}
			}
			bx, err := rowRange(x, idx)
			if err != nil {
				return h, err
			}
			by, err := rowRange(y, idx)
			if err != nil {
				return h, err
			}
			var bsw []float32
			if sw != nil {
				bsw = make([]float32, len(idx))
				for i, r := range idx {
					bsw[i] = sw[r]
				}
			}
			l, err := m.trainStep(bx, by, bsw)
			if err != nil {
				return h, err
			}
			lossSum += l * float64(len(idx))
			count += float64(len(idx))
			logs = Logs{"loss": lossSum / count}
			m.metricLogs(logs)
			for _, c := range cbs {
				if err := c.OnBatchEnd(m, b, logs); err != nil {
					return h, err
				}
			}
			if ts.stop {
				break
			}
		}
		if vx != nil {
			vl, err := m.evaluate(vx, vy, vsw, o.BatchSize)
			if err != nil {
				return h, err
			}
			for k, v := range vl {
				logs["val_"+k] = v
			}
		}
		for _, c := range cbs {
			if err := c.OnEpochEnd(m, epoch, logs); err != nil {
				return h, err
			}
		}
		h.add(epoch, logs)
		last = logs
	}
	for _, c := range cbs {
		if err := c.OnTrainEnd(m, last); err != nil {
			return h, err
		}
	}
	return h, nil
}

// fitWeights combines sample and class weights (nil when neither is set).
func (m *Model) fitWeights(y []*tensor.Tensor, n int, o FitOptions) ([]float32, error) {
	if o.SampleWeight == nil && o.ClassWeight == nil {
		return nil, nil
	}
	sw := make([]float32, n)
	for i := range sw {
		sw[i] = 1
	}
	if o.SampleWeight != nil {
		if len(o.SampleWeight) != n {
			return nil, fmt.Errorf("train: %d sample weights for %d samples", len(o.SampleWeight), n)
		}
		copy(sw, o.SampleWeight)
	}
	if o.ClassWeight != nil {
		if len(y) != 1 {
			return nil, fmt.Errorf("train: class weights need a model with one output, this one has %d", len(y))
		}
		t := y[0]
		per := t.Len() / n
		for i := range n {
			cls := 0
			if per > 1 {
				best := t.At(i * per)
				for j := 1; j < per; j++ {
					if v := t.At(i*per + j); v > best {
						best, cls = v, j
					}
				}
			} else {
				cls = int(t.At(i))
			}
			w, ok := o.ClassWeight[cls]
			if !ok {
				w = 1
			}
			sw[i] *= float32(w)
		}
	}
	return sw, nil
}

// EvaluateOptions are Keras's evaluate arguments (batch size 32 by
// default).
type EvaluateOptions struct {
	BatchSize    int
	SampleWeight []float32
}

// Evaluate returns the loss (regularizer penalties included) and metrics
// of the model on x, y in inference mode, over batches: the loss is the
// batch-size-weighted mean of the batch losses, the metrics accumulate
// over all samples.
func (m *Model) Evaluate(x, y []*tensor.Tensor, o EvaluateOptions) (Logs, error) {
	if m.training == nil || m.training.opt == nil {
		return nil, ErrNotCompiled
	}
	return m.evaluate(x, y, o.SampleWeight, o.BatchSize)
}

func (m *Model) evaluate(x, y []*tensor.Tensor, sw []float32, bs int) (Logs, error) {
	if bs <= 0 {
		bs = 32
	}
	n, err := numRows("input", append(append([]*tensor.Tensor(nil), x...), y...))
	if err != nil {
		return nil, err
	}
	if err := m.ensureMetrics(y); err != nil {
		return nil, err
	}
	m.resetMetrics()
	var lossSum float64
	for lo := 0; lo < n; lo += bs {
		idx := seq(lo, min(lo+bs, n))
		bx, by := x, y
		if lo > 0 || len(idx) < n {
			if bx, err = rowRange(x, idx); err != nil {
				return nil, err
			}
			if by, err = rowRange(y, idx); err != nil {
				return nil, err
			}
		}
		var bsw []float32
		if sw != nil {
			bsw = sw[idx[0] : idx[0]+len(idx)]
		}
		l, err := m.testStep(bx, by, bsw)
		if err != nil {
			return nil, err
		}
		lossSum += l * float64(len(idx))
	}
	logs := Logs{"loss": lossSum / float64(n)}
	m.metricLogs(logs)
	return logs, nil
}

// Predict returns the model outputs for x in inference mode, computed in
// batches of batchSize (32 if 0) and concatenated.
func (m *Model) Predict(x []*tensor.Tensor, batchSize int) ([]*tensor.Tensor, error) {
	if batchSize <= 0 {
		batchSize = 32
	}
	n, err := numRows("input", x)
	if err != nil {
		return nil, err
	}
	var parts [][]*tensor.Tensor
	for lo := 0; lo < n; lo += batchSize {
		bx := x
		if lo > 0 || batchSize < n {
			if bx, err = rowRange(x, seq(lo, min(lo+batchSize, n))); err != nil {
				return nil, err
			}
		}
		out, err := m.PredictOnBatch(bx)
		if err != nil {
			return nil, err
		}
		parts = append(parts, out)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("train: Predict: no samples")
	}
	res := make([]*tensor.Tensor, len(parts[0]))
	for i := range res {
		col := make([]*tensor.Tensor, len(parts))
		for j := range parts {
			col[j] = parts[j][i]
		}
		if res[i], err = concatRows(col); err != nil {
			return nil, err
		}
	}
	return res, nil
}
