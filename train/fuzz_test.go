package train

import (
	"github.com/kiln-ml/kiln/internal/testpaths"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/train/layer"
)

// FuzzConfigJSON holds FromKerasConfig to its contract on any bytes: a
// model or an error, never a panic or a hang; a model it returns can be
// summarized, lowered to a graph and sized for running. Seeds are the
// configs of this package's tests in every dialect and, when the Keras
// corpus is present, its architecture JSON files.
func FuzzConfigJSON(f *testing.F) {
	// Keep the zero-filled weights of fuzzed configs small.
	saved := layer.MaxWeightElements
	layer.MaxWeightElements = 1 << 16
	f.Cleanup(func() { layer.MaxWeightElements = saved })

	for _, s := range []string{keras1Sequential, keras2Functional, keras3Functional, tiedInputs, mlpConfig, toyResNet(),
		opModel("keras.src.ops.numpy", "GetItem", []string{"[" + sl("null", "null", "-1") + ", -1]"}),
		`{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3]}}]}`,
		`{"class_name": "Model", "config": {"layers": [], "input_layers": [], "output_layers": []}}`,
		`{"class_name": "Functional", "config": {"name": "c", "layers": [{"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 1}, "inbound_nodes": [[["a", 0, 0, {}]]]}], "input_layers": [["a", 0, 0]], "output_layers": [["a", 0, 0]]}}`,
	} {
		f.Add([]byte(s))
	}
	dir := os.Getenv("KILN_KERAS_CORPUS")
	if dir == "" {
		dir = testpaths.Shared("corpus", "keras")
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Size() < 64<<10 {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := FromKerasConfig(data, layer.Version{})
		if err != nil {
			if m != nil {
				t.Fatalf("a model and an error: %v", err)
			}
			return
		}
		var sb strings.Builder
		_ = m.Summary(&sb)
		_, _ = m.Graph()
		_, _ = m.ConcreteInputShapes(1, 16)
	})
}
