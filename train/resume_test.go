package train_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// TestResumeFromSavedOptimizer trains each reference model 2 steps, saves
// it (weights, compile settings and optimizer state) as .h5 and as .keras,
// reloads it and compiles it from the stored settings: the weights and
// optimizer variables are bit-identical to the in-memory model's, and
// after step 3 they are bit-identical to 3 steps in memory.
func TestResumeFromSavedOptimizer(t *testing.T) {
	const tol = 0 // exact
	cases := []string{"mlp_mse_sgd", "mlp_cce_adam", "cnn_sparse_adam", "lstm_bce_rmsprop", "bn_dense_sgd_momentum", "finetune_frozen", "l2_regularizer_sgd", "gru_adagrad"}
	for _, name := range cases {
		for _, src := range []string{"model_init.h5", "model_init.keras"} {
			for _, ext := range []string{".h5", ".keras"} {
				t.Run(fmt.Sprintf("%s/%s->%s", name, src, ext), func(t *testing.T) {
					dir := filepath.Join(refPath(), name)
					step := func(m *train.Model, k int) {
						t.Helper()
						x := mustNpy(t, filepath.Join(dir, fmt.Sprintf("x_step%d.npy", k)))
						y := mustNpy(t, filepath.Join(dir, fmt.Sprintf("y_step%d.npy", k)))
						if _, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}, nil); err != nil {
							t.Fatal(err)
						}
					}
					load := func(path string) *train.Model {
						t.Helper()
						m, info, err := h5.LoadInfo(path, h5.Options{})
						if err != nil {
							t.Fatal(err)
						}
						if err := m.CompileFromConfig(info.CompileConfig); err != nil {
							t.Fatal(err)
						}
						return m
					}
					a := load(filepath.Join(dir, src))
					step(a, 0)
					step(a, 1)
					out := filepath.Join(t.TempDir(), "m"+ext)
					if err := h5.Save(a, out, h5.SaveOptions{}); err != nil {
						t.Fatal(err)
					}
					va1, err := a.OptimizerVariables()
					if err != nil {
						t.Fatal(err)
					}
					var saved []*tensor.Tensor
					for _, v := range va1 {
						saved = append(saved, v.Value.Clone())
					}
					step(a, 2)
					b := load(out)
					if !b.OptimizerRestored() {
						t.Fatalf("the saved optimizer state was not restored")
					}
					if got := b.Optimizer().Iterations(); got != 2 {
						t.Fatalf("restored iterations %d, want 2", got)
					}
					sb, err := b.OptimizerVariables()
					if err != nil {
						t.Fatal(err)
					}
					for i := range sb {
						if d := maxAbsDiff(sb[i].Value, saved[i]); d != 0 {
							t.Errorf("restored optimizer variable %s differs from the saved one by %g", sb[i].Name, d)
						}
					}
					step(b, 2)
					var wa, wb []*layer.Weight
					for _, l := range a.Layers() {
						wa = append(wa, l.Weights()...)
					}
					for _, l := range b.Layers() {
						wb = append(wb, l.Weights()...)
					}
					if len(wa) != len(wb) {
						t.Fatalf("%d weights, reloaded %d", len(wa), len(wb))
					}
					for i := range wa {
						if d := maxAbsDiff(wa[i].Value, wb[i].Value); d > tol {
							t.Errorf("weight %s differs by %g after the resumed step", wa[i].Name, d)
						}
					}
					va, err := a.OptimizerVariables()
					if err != nil {
						t.Fatal(err)
					}
					vb, err := b.OptimizerVariables()
					if err != nil {
						t.Fatal(err)
					}
					if len(va) != len(vb) {
						t.Fatalf("%d optimizer variables, reloaded %d", len(va), len(vb))
					}
					for i := range va {
						if d := maxAbsDiff(va[i].Value, vb[i].Value); d > tol*math.Max(1, maxAbs(va[i].Value)) {
							t.Errorf("optimizer variable %s differs by %g", va[i].Name, d)
						}
					}
				})
			}
		}
	}
}

// TestFreshOptimizerIgnoresUnbuiltState: the reference files were saved
// before the first step, so they hold only Keras's iteration (and
// learning rate) variables; compiling starts a fresh optimizer, as Keras
// does after warning about the mismatch.
func TestFreshOptimizerIgnoresUnbuiltState(t *testing.T) {
	for _, src := range []string{"model_init.h5", "model_init.keras"} {
		m, info, err := h5.LoadInfo(filepath.Join(refPath(), "mlp_cce_adam", src), h5.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.CompileFromConfig(info.CompileConfig); err != nil {
			t.Fatal(err)
		}
		if m.OptimizerRestored() {
			t.Errorf("%s: a state of %s variables fits Adam over 4 weights", src, "1 or 2")
		}
	}
}

// TestRestoreKerasOptimizerState compiles models Keras 3.9 saved with their RMSprop state (legacy .h5 optimizer_weights:
// rmsprop/iteration, rmsprop/learning_rate, rmsprop/dense_14_kernel_velocity,
// ...; .keras optimizer/vars/<i>): the state fits and is restored in
// Keras's order.
func TestRestoreKerasOptimizerState(t *testing.T) {
	for _, f := range []string{"model.h5", "model.keras"} {
		path := testpaths.Shared("corpus", "keras", "14shreyas04-Phishing-URL-Detection", f)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("%s: %v", path, err)
		}
		m, info, err := h5.LoadInfo(path, h5.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.CompileFromConfig(info.CompileConfig); err != nil {
			t.Fatal(err)
		}
		if !m.OptimizerRestored() {
			t.Fatalf("%s: the saved RMSprop state was not restored", f)
		}
		vs, err := m.OptimizerVariables()
		if err != nil {
			t.Fatal(err)
		}
		// The file holds the state of an optimizer built but not yet
		// stepped (iteration 0, zero velocities) over all 14 weights.
		if len(vs) != 16 || vs[2].Name != "dense_14_kernel_velocity" {
			t.Errorf("%s: %d variables, the first slot %s", f, len(vs), vs[2].Name)
		}
		t.Logf("%s: iterations %d, %s max %g", f, m.Optimizer().Iterations(), vs[2].Name, maxAbs(vs[2].Value))
	}
}
