package train_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

// refDir holds the Keras training references (see its README.md).
const refDir = "../../shared/reference/train"

// Tolerances from the references' README: losses and loss-like metrics
// 1e-5 relative, weights 1e-5 absolute and optimizer slots 1e-5 relative to
// the largest slot value after 5 steps, predictions 1e-5 absolute,
// accuracies exact (multiples of 1/16).
const (
	lossRTol   = 1e-5
	weightATol = 1e-5
	slotRTol   = 1e-5
	predATol   = 1e-5
)

type refLosses struct {
	Metrics []string         `json:"metrics"`
	Steps   []map[string]any `json:"steps"`
	OptVars []struct {
		Slot  string `json:"slot"`
		File  string `json:"file"`
		Value any    `json:"value"`
	} `json:"optimizer_variables_final"`
}

func refPath() string {
	if _, err := os.Stat(refDir); err == nil {
		return refDir
	}
	return "/work/shared/reference/train"
}

func mustNpy(t *testing.T, path string) *tensor.Tensor {
	t.Helper()
	x, err := npy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-12)
}

func maxAbsDiff(a, b *tensor.Tensor) float64 {
	d := 0.0
	for i := range a.Len() {
		d = math.Max(d, math.Abs(a.At(i)-b.At(i)))
	}
	return d
}

func maxAbs(a *tensor.Tensor) float64 {
	d := 0.0
	for i := range a.Len() {
		d = math.Max(d, math.Abs(a.At(i)))
	}
	return d
}

// TestKerasReferenceTrajectories replays the 8 Keras references: load
// model_init.h5 (compiled from its training_config) and model_init.keras
// (from its compile_config), run 5 TrainOnBatch
// steps, then compare losses, metrics, final weights, optimizer slots,
// predictions and the evaluation.
func TestKerasReferenceTrajectories(t *testing.T) {
	dir := refPath()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("references not available: %v", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		for _, file := range []string{"model_init.h5", "model_init.keras"} {
			t.Run(name+"/"+file, func(t *testing.T) { replay(t, filepath.Join(dir, name), file) })
		}
	}
}

func replay(t *testing.T, dir, file string) {
	m, info, err := h5.LoadInfo(filepath.Join(dir, file), h5.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CompileFromConfig(info.CompileConfig); err != nil {
		t.Fatal(err)
	}
	var ref refLosses
	b, err := os.ReadFile(filepath.Join(dir, "losses.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	worstLoss := 0.0
	for k := range 5 {
		x := mustNpy(t, filepath.Join(dir, fmt.Sprintf("x_step%d.npy", k)))
		y := mustNpy(t, filepath.Join(dir, fmt.Sprintf("y_step%d.npy", k)))
		logs, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil)
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		want := ref.Steps[k]["loss"].(float64)
		e := relErr(logs["loss"], want)
		worstLoss = math.Max(worstLoss, e)
		if e > lossRTol {
			t.Errorf("step %d: loss %.8g, Keras %.8g (rel %.2g)", k, logs["loss"], want, e)
		}
		for _, mn := range ref.Metrics {
			w := ref.Steps[k][mn].(float64)
			g := logs[mn]
			if strings.Contains(mn, "acc") {
				if math.Abs(g-w) > 1e-9 {
					t.Errorf("step %d: %s %v, Keras %v", k, mn, g, w)
				}
			} else if relErr(g, w) > lossRTol {
				t.Errorf("step %d: %s %.8g, Keras %.8g", k, mn, g, w)
			}
		}
	}
	// Final weights.
	worstW := 0.0
	owner := map[*layer.Weight]string{}
	for _, l := range m.Layers() {
		for _, w := range l.Weights() {
			owner[w] = l.Name() + "/" + w.Name
			want := mustNpy(t, filepath.Join(dir, "weights_final", l.Name(), w.Name+".npy"))
			d := maxAbsDiff(w.Value, want)
			worstW = math.Max(worstW, d)
			if d > weightATol {
				t.Errorf("weight %s/%s: max abs diff %.3g", l.Name(), w.Name, d)
			}
		}
	}
	// Optimizer state, in Keras 3 optimizer.variables order.
	opt := m.Optimizer()
	if got := opt.Iterations(); got != 5 {
		t.Errorf("iterations %d, want 5", got)
	}
	slots := opt.Slots()
	tw := m.TrainableWeights()
	var refSlots []string
	for _, v := range ref.OptVars {
		if v.File != "" {
			refSlots = append(refSlots, v.Slot)
		}
	}
	// Slots are compared relative to the largest slot value of the case
	// (the README's suggestion): a slot that is all float32 noise, such as
	// the momentum of a bias feeding BatchNormalization (~1e-10, the
	// README's "one trap"), is not judged relative to its own size.
	largest := 0.0
	for _, name := range refSlots {
		largest = math.Max(largest, maxAbs(mustNpy(t, filepath.Join(dir, "optimizer_final", name+".npy"))))
	}
	worstS := 0.0
	if len(slots) != len(refSlots) {
		t.Errorf("%d optimizer slots, Keras has %d", len(slots), len(refSlots))
	} else {
		for i, s := range slots {
			name := owner[tw[s.Var]] + "/" + s.Name
			if name != refSlots[i] {
				t.Errorf("slot %d is %s, Keras has %s", i, name, refSlots[i])
				continue
			}
			want := mustNpy(t, filepath.Join(dir, "optimizer_final", name+".npy"))
			d := maxAbsDiff(s.Value, want) / math.Max(largest, 1e-30)
			worstS = math.Max(worstS, d)
			if d > slotRTol {
				t.Errorf("slot %s: max diff %.3g relative to the largest value", name, d)
			}
		}
	}
	// Predict and evaluate after the steps.
	xe := mustNpy(t, filepath.Join(dir, "x_eval.npy"))
	ye := mustNpy(t, filepath.Join(dir, "y_eval.npy"))
	pred, err := m.Predict([]*tensor.Tensor{xe}, 16)
	if err != nil {
		t.Fatal(err)
	}
	dp := maxAbsDiff(pred[0], mustNpy(t, filepath.Join(dir, "pred_eval.npy")))
	if dp > predATol {
		t.Errorf("pred_eval: max abs diff %.3g", dp)
	}
	ev, err := m.Evaluate([]*tensor.Tensor{xe}, []*tensor.Tensor{ye}, train.EvaluateOptions{BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	b, _ = os.ReadFile(filepath.Join(dir, "eval.json"))
	json.Unmarshal(b, &want)
	ee := relErr(ev["loss"], want["loss"].(float64))
	if ee > lossRTol {
		t.Errorf("evaluate loss %.8g, Keras %.8g", ev["loss"], want["loss"])
	}
	for _, mn := range ref.Metrics {
		if w, ok := want[mn].(float64); ok && relErr(ev[mn], w) > lossRTol && math.Abs(ev[mn]-w) > 1e-9 {
			t.Errorf("evaluate %s %v, Keras %v", mn, ev[mn], w)
		}
	}
	t.Logf("%s/%s: loss rel err max %.2g, final weights max abs %.2g, slots max rel %.2g, pred_eval max abs %.2g, eval loss rel %.2g",
		filepath.Base(dir), file, worstLoss, worstW, worstS, dp, ee)
}

// TestFrozenBatchNormalizationRunsInInferenceMode freezes the
// BatchNormalization layer of a reference model: as in Keras 3, a step
// then leaves its moving statistics alone and its output uses them.
func TestFrozenBatchNormalizationRunsInInferenceMode(t *testing.T) {
	dir := filepath.Join(refPath(), "bn_dense_sgd_momentum")
	m, err := h5.Load(filepath.Join(dir, "model_init.h5"), h5.Options{})
	if err != nil {
		t.Skip(err)
	}
	if err := m.Freeze("batch_normalization"); err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(optimizer.NewSGD(optimizer.SGD{Options: optimizer.Options{LearningRate: 0.05}}), loss.MeanSquaredError(), nil); err != nil {
		t.Fatal(err)
	}
	bn := m.Layer("batch_normalization")
	before := make([]*tensor.Tensor, 0)
	for _, w := range bn.Weights() {
		before = append(before, w.Value.Clone())
	}
	x := mustNpy(t, filepath.Join(dir, "x_step0.npy"))
	y := mustNpy(t, filepath.Join(dir, "y_step0.npy"))
	train0, err := m.TestOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The training-mode loss equals the inference-mode loss before the step.
	if relErr(logs["loss"], train0["loss"]) > 1e-6 {
		t.Errorf("frozen BN: training loss %v, inference loss %v", logs["loss"], train0["loss"])
	}
	for i, w := range bn.Weights() {
		if maxAbsDiff(w.Value, before[i]) != 0 {
			t.Errorf("frozen BN weight %s changed", w.Name)
		}
	}
}
