package train_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

func newLayer(t *testing.T, class, config string) layer.Layer {
	t.Helper()
	l, err := layer.New(class, json.RawMessage(config), &layer.DecodeContext{Version: layer.Version{Major: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// regression returns a small MLP and data y = x·w + noise-free offset.
func regression(t *testing.T, n int) (*train.Model, *tensor.Tensor, *tensor.Tensor) {
	t.Helper()
	m, err := train.NewSequential("reg", layer.Shape{-1, 3},
		newLayer(t, "Dense", `{"name": "hidden", "units": 8, "activation": "tanh"}`),
		newLayer(t, "Dense", `{"name": "out", "units": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(7)
	x := make([]float32, n*3)
	y := make([]float32, n)
	for i := range n {
		for j := range 3 {
			x[i*3+j] = float32(math.Sin(float64(i*3+j) * 0.7))
		}
		y[i] = 0.5*x[i*3] - 0.3*x[i*3+1] + 0.2*x[i*3+2] + 0.1
	}
	return m, tensor.From(tensor.Shape{n, 3}, x), tensor.From(tensor.Shape{n, 1}, y)
}

func TestFitHistoryCallbacksAndProgress(t *testing.T) {
	m, x, y := regression(t, 100)
	if err := m.Compile(optimizer.NewAdam(optimizer.Adam{Options: optimizer.Options{LearningRate: 0.01}}), loss.MeanSquaredError(), []string{"mae"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "log.csv")
	var saved []string
	var out bytes.Buffer
	h, err := m.Fit([]*tensor.Tensor{x}, []*tensor.Tensor{y}, train.FitOptions{
		Epochs: 5, BatchSize: 16, ValidationSplit: 0.2, Verbose: train.VerboseLine, Out: &out,
		Callbacks: []train.Callback{
			&train.CSVLogger{Filename: csvPath},
			&train.TerminateOnNaN{},
			&train.ModelCheckpoint{Filepath: filepath.Join(dir, "ckpt-{epoch:02d}-{val_loss:.3f}.h5"), SaveBestOnly: true,
				Save: func(m *train.Model, p string) error { saved = append(saved, p); return nil }},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "mae", "val_loss", "val_mae"} {
		if len(h.History[k]) != 5 {
			t.Errorf("history %s has %d values, want 5", k, len(h.History[k]))
		}
	}
	if l := h.History["loss"]; l[4] >= l[0] {
		t.Errorf("loss did not decrease: %v", l)
	}
	if h.Params["steps"] != 5 {
		t.Errorf("steps %d, want 5 (80 samples / 16)", h.Params["steps"])
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("progress output has %d lines, want 10:\n%s", len(lines), out.String())
	}
	re := regexp.MustCompile(`^5/5 - \d+s - \d+(us|ms|s)/step - loss: \d+\.\d{4}(e-\d+)? - mae: [0-9.e-]+ - val_loss: [0-9.e-]+ - val_mae: [0-9.e-]+$`)
	if lines[0] != "Epoch 1/5" || !re.MatchString(lines[1]) {
		t.Errorf("progress lines:\n%s\n%s", lines[0], lines[1])
	}
	csv, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(rows) != 6 || rows[0] != "epoch,loss,mae,val_loss,val_mae" {
		t.Errorf("CSV log:\n%s", csv)
	}
	if len(saved) == 0 || !strings.Contains(saved[0], "ckpt-01-") {
		t.Errorf("checkpoints: %v", saved)
	}
	// Evaluate agrees with the last validation loss when nothing changed since.
	ev, err := m.Evaluate([]*tensor.Tensor{x}, []*tensor.Tensor{y}, train.EvaluateOptions{BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	one, err := m.Evaluate([]*tensor.Tensor{x}, []*tensor.Tensor{y}, train.EvaluateOptions{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ev["loss"]-one["loss"]) > 1e-6*math.Abs(one["loss"])+1e-9 || math.Abs(ev["mae"]-one["mae"]) > 1e-6 {
		t.Errorf("evaluate depends on the batch size: %v vs %v", ev, one)
	}
	p1, _ := m.Predict([]*tensor.Tensor{x}, 7)
	p2, _ := m.PredictOnBatch([]*tensor.Tensor{x})
	for i := range p1[0].Len() {
		if math.Abs(p1[0].At(i)-p2[0].At(i)) > 1e-6 {
			t.Fatalf("Predict in batches differs at %d: %v vs %v", i, p1[0].At(i), p2[0].At(i))
		}
	}
}

func TestEarlyStoppingRestoresBest(t *testing.T) {
	m, x, y := regression(t, 64)
	// A huge learning rate makes the validation loss blow up.
	m.Compile(optimizer.NewSGD(optimizer.SGD{Options: optimizer.Options{LearningRate: 5}}), loss.MeanSquaredError(), nil)
	es := &train.EarlyStopping{Monitor: "loss", Patience: 1, RestoreBestWeights: true}
	h, err := m.Fit([]*tensor.Tensor{x}, []*tensor.Tensor{y}, train.FitOptions{Epochs: 50, BatchSize: 64, Verbose: train.VerboseSilent, Callbacks: []train.Callback{es}})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Epoch) == 50 || es.StoppedEpoch == 0 {
		t.Errorf("did not stop early: %d epochs, losses %v", len(h.Epoch), h.History["loss"])
	}
}

func TestSampleWeightsAndFreezing(t *testing.T) {
	m, x, y := regression(t, 16)
	m.Compile(optimizer.NewSGD(optimizer.SGD{}), loss.MeanSquaredError(), nil)
	l1, err := m.TestOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sw := make([]float32, 16)
	for i := range sw {
		sw[i] = 2
	}
	l2, _ := m.TestOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, sw)
	if math.Abs(l2["loss"]-2*l1["loss"]) > 1e-6*l1["loss"] {
		t.Errorf("weights 2 give loss %v, want 2 x %v", l2["loss"], l1["loss"])
	}
	if err := m.Freeze("hidden"); err != nil {
		t.Fatal(err)
	}
	m.Compile(optimizer.NewSGD(optimizer.SGD{Options: optimizer.Options{LearningRate: 0.1}}), loss.MeanSquaredError(), nil)
	frozen := m.Layer("hidden").Weights()[0].Value.Clone()
	trained := m.Layer("out").Weights()[0].Value.Clone()
	if _, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil); err != nil {
		t.Fatal(err)
	}
	if !equal(frozen, m.Layer("hidden").Weights()[0].Value) {
		t.Error("a frozen layer's kernel changed")
	}
	if equal(trained, m.Layer("out").Weights()[0].Value) {
		t.Error("the trainable layer did not change")
	}
	if n := len(m.TrainableWeights()); n != 2 {
		t.Errorf("%d trainable weights after freezing, want 2", n)
	}
}

func equal(a, b *tensor.Tensor) bool {
	for i := range a.F32() {
		if a.F32()[i] != b.F32()[i] {
			return false
		}
	}
	return true
}

func TestHistoryPlot(t *testing.T) {
	h := &train.History{Epoch: []int{0, 1, 2}, History: map[string][]float64{
		"loss": {1, 0.5, 0.3}, "val_loss": {1.1, 0.7, 0.6}, "accuracy": {0.5, 0.7, 0.8}, "val_accuracy": {0.4, 0.6, 0.7}}}
	p := filepath.Join(t.TempDir(), "h.png")
	if err := h.Plot(p, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
		t.Errorf("plot file: %d bytes, %v", len(b), err)
	}
}

func TestProgressBar(t *testing.T) {
	m, x, y := regression(t, 40)
	m.Compile(optimizer.NewSGD(optimizer.SGD{}), loss.MeanSquaredError(), []string{"mae"})
	var out bytes.Buffer
	if _, err := m.Fit([]*tensor.Tensor{x}, []*tensor.Tensor{y}, train.FitOptions{Epochs: 2, BatchSize: 10, Verbose: train.VerboseBar, Out: &out}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	// Each epoch ends with the full bar, the epoch time and the per-step
	// time, then the logs.
	re := regexp.MustCompile(`\r4/4 ━{20} \d+s \d+(us|ms|s)/step - loss: [0-9.e-]+ - mae: [0-9.e-]+\n`)
	if n := len(re.FindAllString(s, -1)); n != 2 || !strings.HasPrefix(s, "Epoch 1/2\n") {
		t.Errorf("progress bar output (%d final bars):\n%q", n, s)
	}
}

func TestDropoutTrainsAndPredictsDeterministically(t *testing.T) {
	m, err := train.NewSequential("drop", layer.Shape{-1, 3},
		newLayer(t, "Dense", `{"name": "hidden", "units": 16, "activation": "relu"}`),
		newLayer(t, "Dropout", `{"name": "dropout", "rate": 0.5}`),
		newLayer(t, "Dense", `{"name": "out", "units": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	_, x, y := regression(t, 32)
	m.Compile(optimizer.NewAdam(optimizer.Adam{}), loss.MeanSquaredError(), nil)
	if _, err := m.Fit([]*tensor.Tensor{x}, []*tensor.Tensor{y}, train.FitOptions{Epochs: 2, BatchSize: 8, Verbose: train.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	p1, err := m.Predict([]*tensor.Tensor{x}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := m.Predict([]*tensor.Tensor{x}, 0)
	if !equal(p1[0], p2[0]) {
		t.Error("inference with Dropout is not deterministic")
	}
}

// The noise layers train: gradients pass through the noise to the
// weights before it, and prediction is deterministic.
func TestNoiseLayersTrain(t *testing.T) {
	m, err := train.NewSequential("noisy", layer.Shape{-1, 4, 4, 2},
		newLayer(t, "Conv2D", `{"name": "c", "filters": 3, "kernel_size": 3, "padding": "same"}`),
		newLayer(t, "SpatialDropout2D", `{"name": "s", "rate": 0.3}`),
		newLayer(t, "GaussianNoise", `{"name": "g", "stddev": 0.1}`),
		newLayer(t, "GaussianDropout", `{"name": "gd", "rate": 0.1}`),
		newLayer(t, "Flatten", `{"name": "f"}`),
		newLayer(t, "AlphaDropout", `{"name": "a", "rate": 0.1}`),
		newLayer(t, "Dense", `{"name": "d", "units": 1}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(4)
	if err := m.Compile(optimizer.NewSGD(optimizer.SGD{Options: optimizer.Options{LearningRate: 0.01}}), loss.MeanSquaredError(), nil); err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.Float32, 8, 4, 4, 2)
	for i := range x.F32() {
		x.F32()[i] = float32(i%7) / 7
	}
	y := tensor.New(tensor.Float32, 8, 1)
	before := append([]float32(nil), m.Layer("c").Weights()[0].Value.F32()...)
	for range 3 {
		if _, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil); err != nil {
			t.Fatal(err)
		}
	}
	moved := false
	for i, v := range m.Layer("c").Weights()[0].Value.F32() {
		if v != before[i] {
			moved = true
		}
	}
	if !moved {
		t.Error("the convolution before the noise layers did not train")
	}
	a, err := m.Predict([]*tensor.Tensor{x}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Predict([]*tensor.Tensor{x}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range a[0].F32() {
		if b[0].F32()[i] != v {
			t.Fatal("prediction with noise layers is not deterministic")
		}
	}
}
