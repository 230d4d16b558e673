package train_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// TestFineTuneSaveReload fine-tunes saved Keras classifiers: load, freeze
// every layer but the last, Fit, save as .h5, reload. The frozen weights
// are bit-identical to the file's, the last layer moved, the reloaded
// model keeps the layers frozen, and its outputs equal the trained
// model's exactly.
func TestFineTuneSaveReload(t *testing.T) {
	files := []string{
		// a Keras 3.9 legacy .h5 Dense classifier, saved with RMSprop state
		testpaths.Shared("corpus", "keras", "14shreyas04-Phishing-URL-Detection", "model.h5"),
		// a tf.keras 2.12 Conv2D-MaxPooling2D-Flatten-Dense classifier
		testpaths.Shared("reference", "train", "cnn_sparse_adam", "model_init.h5"),
	}
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s: %v", path, err)
			}
			m, info, err := h5.LoadInfo(path, h5.Options{})
			if err != nil {
				t.Fatal(err)
			}
			orig, err := h5.Load(path, h5.Options{})
			if err != nil {
				t.Fatal(err)
			}
			layers := m.Layers()
			last := layers[len(layers)-1]
			for _, l := range layers[:len(layers)-1] {
				if err := m.Freeze(l.Name()); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.CompileFromConfig(info.CompileConfig); err != nil {
				t.Fatal(err)
			}
			if n, want := len(m.TrainableWeights()), len(last.Weights()); n != want {
				t.Fatalf("%d trainable weights after freezing, want the last layer's %d", n, want)
			}
			// Data: random inputs of the model's shape, targets of its
			// output shape (0/1 for one unit, one-hot for several, class
			// indices for a sparse loss).
			rng := rand.New(rand.NewPCG(7, 7))
			const n = 96
			ins, err := m.ConcreteInputShapes(n, 1)
			if err != nil {
				t.Fatal(err)
			}
			xs := tensor.New(tensor.Float32, tensor.Shape(ins[0])...)
			for i, d := 0, xs.F32(); i < len(d); i++ {
				d[i] = rng.Float32()
			}
			k := m.OutputShapes()[0][1]
			var y *tensor.Tensor
			if strings.Contains(string(info.CompileConfig), "sparse_categorical") {
				v := make([]int32, n)
				for i := range v {
					v[i] = int32(rng.IntN(k))
				}
				y = tensor.From(tensor.Shape{n}, v)
			} else {
				v := make([]float32, n*k)
				for i := range n {
					if k == 1 {
						v[i] = float32(rng.IntN(2))
					} else {
						v[i*k+rng.IntN(k)] = 1
					}
				}
				y = tensor.From(tensor.Shape{n, k}, v)
			}
			h, err := m.Fit([]*tensor.Tensor{xs}, []*tensor.Tensor{y}, train.FitOptions{Epochs: 3, BatchSize: 16, Seed: 1, Verbose: train.VerboseSilent})
			if err != nil {
				t.Fatal(err)
			}
			loss := h.History["loss"]
			t.Logf("loss per epoch %v", loss)
			if !(loss[len(loss)-1] < loss[0]) {
				t.Errorf("loss did not decrease: %v", loss)
			}
			trained, err := m.Predict([]*tensor.Tensor{xs}, 32)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "finetuned.h5")
			if err := h5.Save(m, out, h5.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			r, err := h5.Load(out, h5.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ol, rl := orig.Layers(), r.Layers()
			for i, l := range rl {
				for j, w := range l.Weights() {
					ow := ol[i].Weights()[j].Value
					d := maxAbsDiff(w.Value, ow)
					switch {
					case i < len(rl)-1 && d != 0:
						t.Errorf("frozen %s/%s changed by %g", l.Name(), w.Name, d)
					case i == len(rl)-1 && d == 0:
						t.Errorf("trained %s/%s did not change", l.Name(), w.Name)
					}
				}
				if frozen := i < len(rl)-1; layer.BaseOf(l).Trainable() == frozen {
					t.Errorf("reloaded layer %s: trainable %v", l.Name(), !frozen)
				}
			}
			got, err := r.Predict([]*tensor.Tensor{xs}, 32)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got[0], trained[0]); d != 0 {
				t.Errorf("reloaded outputs differ from the trained model's by %g", d)
			}
		})
	}
}
