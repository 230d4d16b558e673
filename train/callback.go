package train

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Callback receives the events of Fit, as Keras callbacks do. Returning
// an error stops Fit with that error; to stop training cleanly, call
// m.StopTraining(). Embed CallbackBase to implement only some methods.
type Callback interface {
	OnTrainBegin(m *Model, logs Logs) error
	OnTrainEnd(m *Model, logs Logs) error
	OnEpochBegin(m *Model, epoch int, logs Logs) error
	// OnEpochEnd gets the epoch's training logs and the "val_" ones.
	OnEpochEnd(m *Model, epoch int, logs Logs) error
	OnBatchBegin(m *Model, batch int, logs Logs) error
	// OnBatchEnd gets the running loss and metrics of the epoch so far.
	OnBatchEnd(m *Model, batch int, logs Logs) error
}

// CallbackBase implements Callback with methods that do nothing.
type CallbackBase struct{}

func (CallbackBase) OnTrainBegin(*Model, Logs) error      { return nil }
func (CallbackBase) OnTrainEnd(*Model, Logs) error        { return nil }
func (CallbackBase) OnEpochBegin(*Model, int, Logs) error { return nil }
func (CallbackBase) OnEpochEnd(*Model, int, Logs) error   { return nil }
func (CallbackBase) OnBatchBegin(*Model, int, Logs) error { return nil }
func (CallbackBase) OnBatchEnd(*Model, int, Logs) error   { return nil }

// monitorMax reports whether a monitored quantity improves upward in
// Keras's "auto" mode (accuracies, AUC, precision, recall).
func monitorMax(mode, monitor string) bool {
	switch mode {
	case "max":
		return true
	case "min":
		return false
	}
	m := strings.TrimPrefix(monitor, "val_")
	for _, s := range []string{"acc", "auc", "precision", "recall"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// snapshot copies every weight of the model.
func (m *Model) snapshot() []*tensor.Tensor {
	ws := m.Weights()
	out := make([]*tensor.Tensor, len(ws))
	for i, w := range ws {
		out[i] = w.Value.Clone()
	}
	return out
}

func (m *Model) restore(s []*tensor.Tensor) {
	for i, w := range m.Weights() {
		w.Value.CopyFrom(s[i])
	}
}

// EarlyStopping is keras.callbacks.EarlyStopping: stop when Monitor
// (default "val_loss") has not improved by more than MinDelta for Patience
// epochs; optionally restore the weights of the best epoch (Keras 3
// restores them only when it stops early).
type EarlyStopping struct {
	CallbackBase
	Monitor            string
	MinDelta           float64
	Patience           int
	Mode               string // "auto", "min" or "max"
	Baseline           *float64
	RestoreBestWeights bool
	StartFromEpoch     int
	// StoppedEpoch is the epoch training stopped at (0 if it did not).
	StoppedEpoch int
	BestEpoch    int
	wait         int
	best         float64
	bestWeights  []*tensor.Tensor
}

func (c *EarlyStopping) monitor() string {
	if c.Monitor == "" {
		return "val_loss"
	}
	return c.Monitor
}

func (c *EarlyStopping) improved(v, ref float64) bool {
	if monitorMax(c.Mode, c.monitor()) {
		return v-math.Abs(c.MinDelta) > ref
	}
	return v+math.Abs(c.MinDelta) < ref
}

func (c *EarlyStopping) OnTrainBegin(m *Model, _ Logs) error {
	c.wait, c.StoppedEpoch, c.BestEpoch, c.bestWeights = 0, 0, 0, nil
	c.best = math.Inf(1)
	if monitorMax(c.Mode, c.monitor()) {
		c.best = math.Inf(-1)
	}
	return nil
}

func (c *EarlyStopping) OnEpochEnd(m *Model, epoch int, logs Logs) error {
	cur, ok := logs[c.monitor()]
	if !ok || epoch < c.StartFromEpoch {
		return nil
	}
	if c.RestoreBestWeights && c.bestWeights == nil {
		c.bestWeights = m.snapshot()
	}
	c.wait++
	if c.improved(cur, c.best) {
		c.best, c.BestEpoch = cur, epoch
		if c.RestoreBestWeights {
			c.bestWeights = m.snapshot()
		}
		if c.Baseline == nil || c.improved(cur, *c.Baseline) {
			c.wait = 0
			return nil
		}
	}
	if c.wait >= c.Patience && epoch > 0 {
		c.StoppedEpoch = epoch
		m.StopTraining()
		if c.RestoreBestWeights && c.bestWeights != nil {
			m.restore(c.bestWeights)
		}
	}
	return nil
}

// ModelCheckpoint is keras.callbacks.ModelCheckpoint: after each epoch it
// calls Save with the path made from Filepath, whose "{epoch}",
// "{epoch:02d}" and "{<log key>:.4f}" fields are filled as Python's format
// would (epochs count from 1). With SaveBestOnly it saves only when Monitor
// (default "val_loss") improves. Save is the file writer (formats/h5
// provides one; train does not write files itself).
type ModelCheckpoint struct {
	CallbackBase
	Filepath     string
	Monitor      string
	Mode         string
	SaveBestOnly bool
	Save         func(m *Model, path string) error
	best         float64
	started      bool
}

func (c *ModelCheckpoint) OnTrainBegin(m *Model, _ Logs) error {
	if c.Save == nil {
		return fmt.Errorf("train: ModelCheckpoint needs a Save function")
	}
	if !c.started {
		c.best = math.Inf(1)
		if monitorMax(c.Mode, c.mon()) {
			c.best = math.Inf(-1)
		}
		c.started = true
	}
	return nil
}

func (c *ModelCheckpoint) mon() string {
	if c.Monitor == "" {
		return "val_loss"
	}
	return c.Monitor
}

func (c *ModelCheckpoint) OnEpochEnd(m *Model, epoch int, logs Logs) error {
	if c.SaveBestOnly {
		cur, ok := logs[c.mon()]
		if !ok {
			return nil
		}
		better := cur < c.best
		if monitorMax(c.Mode, c.mon()) {
			better = cur > c.best
		}
		if !better {
			return nil
		}
		c.best = cur
	}
	path, err := FormatPath(c.Filepath, epoch+1, logs)
	if err != nil {
		return err
	}
	return c.Save(m, path)
}

var fieldRe = regexp.MustCompile(`\{(\w+)(?::([^}]*))?\}`)

// FormatPath fills "{epoch:02d}" and "{val_loss:.2f}"-style fields of a
// checkpoint path.
func FormatPath(pattern string, epoch int, logs Logs) (string, error) {
	var err error
	out := fieldRe.ReplaceAllStringFunc(pattern, func(s string) string {
		sub := fieldRe.FindStringSubmatch(s)
		key, spec := sub[1], sub[2]
		if key == "epoch" {
			if spec == "" {
				spec = "d"
			}
			return fmt.Sprintf("%"+spec, epoch)
		}
		v, ok := logs[key]
		if !ok {
			err = fmt.Errorf("train: checkpoint path %q names %q, which the logs do not have", pattern, key)
			return s
		}
		if spec == "" {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return fmt.Sprintf("%"+spec, v)
	})
	return out, err
}

// ReduceLROnPlateau is keras.callbacks.ReduceLROnPlateau: multiply the
// learning rate by Factor (default 0.1) when Monitor (default "val_loss")
// has not improved by MinDelta (default 1e-4) for Patience epochs (default
// 10), then wait Cooldown epochs; never below MinLR. It adds
// "learning_rate" to the epoch logs.
type ReduceLROnPlateau struct {
	CallbackBase
	Monitor  string
	Factor   float64
	Patience int
	Mode     string
	MinDelta float64
	Cooldown int
	MinLR    float64
	wait     int
	cool     int
	best     float64
}

// NewReduceLROnPlateau returns the callback with Keras's defaults.
func NewReduceLROnPlateau() *ReduceLROnPlateau {
	return &ReduceLROnPlateau{Monitor: "val_loss", Factor: 0.1, Patience: 10, MinDelta: 1e-4}
}

func (c *ReduceLROnPlateau) OnTrainBegin(m *Model, _ Logs) error {
	if c.Factor >= 1 {
		return fmt.Errorf("train: ReduceLROnPlateau factor %v must be < 1", c.Factor)
	}
	c.wait, c.cool = 0, 0
	c.best = math.Inf(1)
	if monitorMax(c.Mode, c.Monitor) {
		c.best = math.Inf(-1)
	}
	return nil
}

func (c *ReduceLROnPlateau) OnEpochEnd(m *Model, epoch int, logs Logs) error {
	opt := m.Optimizer()
	logs["learning_rate"] = opt.LearningRate()
	cur, ok := logs[c.Monitor]
	if !ok {
		return nil
	}
	if c.cool > 0 {
		c.cool--
		c.wait = 0
	}
	better := cur < c.best-c.MinDelta
	if monitorMax(c.Mode, c.Monitor) {
		better = cur > c.best+c.MinDelta
	}
	if better {
		c.best, c.wait = cur, 0
		return nil
	}
	if c.cool > 0 {
		return nil
	}
	c.wait++
	if c.wait >= c.Patience {
		old := opt.LearningRate()
		if old > c.MinLR {
			if err := opt.SetLearningRate(math.Max(old*c.Factor, c.MinLR)); err != nil {
				return err
			}
			c.cool, c.wait = c.Cooldown, 0
		}
	}
	return nil
}

// CSVLogger is keras.callbacks.CSVLogger: one row per epoch, "epoch" then
// the log keys in sorted order, to Filename (appending with Append).
type CSVLogger struct {
	CallbackBase
	Filename  string
	Separator string
	Append    bool
	f         *os.File
	keys      []string
}

func (c *CSVLogger) OnTrainBegin(m *Model, _ Logs) error {
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if c.Append {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(c.Filename, flag, 0o644)
	if err != nil {
		return fmt.Errorf("train: CSVLogger: %w", err)
	}
	c.f, c.keys = f, nil
	return nil
}

func (c *CSVLogger) OnEpochEnd(m *Model, epoch int, logs Logs) error {
	sep := c.Separator
	if sep == "" {
		sep = ","
	}
	if c.keys == nil {
		for k := range logs {
			c.keys = append(c.keys, k)
		}
		sort.Strings(c.keys)
		if st, _ := c.f.Stat(); st == nil || st.Size() == 0 || !c.Append {
			fmt.Fprintln(c.f, "epoch"+sep+strings.Join(c.keys, sep))
		}
	}
	row := []string{strconv.Itoa(epoch)}
	for _, k := range c.keys {
		if v, ok := logs[k]; ok {
			row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
		} else {
			row = append(row, "NA")
		}
	}
	_, err := fmt.Fprintln(c.f, strings.Join(row, sep))
	return err
}

func (c *CSVLogger) OnTrainEnd(*Model, Logs) error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// TerminateOnNaN is keras.callbacks.TerminateOnNaN: stop training after a
// batch whose loss is NaN or infinite.
type TerminateOnNaN struct {
	CallbackBase
	// Batch is the batch that had the NaN loss, -1 if none.
	Batch int
}

func (c *TerminateOnNaN) OnTrainBegin(*Model, Logs) error { c.Batch = -1; return nil }

func (c *TerminateOnNaN) OnBatchEnd(m *Model, batch int, logs Logs) error {
	if v, ok := logs["loss"]; ok && isNaN(v) {
		c.Batch = batch
		m.StopTraining()
	}
	return nil
}

// LearningRateScheduler is keras.callbacks.LearningRateScheduler: at the
// start of each epoch the learning rate becomes Schedule(epoch, lr); it
// adds "learning_rate" to the epoch logs.
type LearningRateScheduler struct {
	CallbackBase
	Schedule func(epoch int, lr float64) float64
}

func (c *LearningRateScheduler) OnEpochBegin(m *Model, epoch int, _ Logs) error {
	opt := m.Optimizer()
	return opt.SetLearningRate(c.Schedule(epoch, opt.LearningRate()))
}

func (c *LearningRateScheduler) OnEpochEnd(m *Model, epoch int, logs Logs) error {
	logs["learning_rate"] = m.Optimizer().LearningRate()
	return nil
}
