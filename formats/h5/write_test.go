package h5

import (
	"fmt"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// normTree reduces a tree listing to what the legacy layout fixes: every
// group down to the per-layer groups, every attribute with its exact type
// and shape, and each layer's datasets by element type and shape (the
// dataset names under a layer group are Keras's variable names, which
// differ between TensorFlow versions: "lstm_cell/kernel:0", "kernel:0",
// "kernel"). Optimizer state is left out (written only when asked).
func normTree(lines []string) []string {
	var out []string
	keep := false
	owner := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "\t") {
			if keep {
				out = append(out, owner+" |"+l)
			}
			continue
		}
		f := strings.Fields(l)
		p := f[0]
		keep = false
		if strings.HasPrefix(p, "/optimizer_weights") {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		switch {
		case f[1] == "group" && len(parts) <= 2:
			out = append(out, l)
			keep, owner = true, p
		case f[1] == "dataset" && len(parts) >= 3:
			out = append(out, fmt.Sprintf("/%s/%s dataset %s", parts[0], parts[1], strings.Join(f[2:], " ")))
		}
	}
	sort.Strings(out)
	return out
}

func diffLines(a, b []string) (onlyA, onlyB []string) {
	ca := map[string]int{}
	for _, s := range a {
		ca[s]++
	}
	for _, s := range b {
		if ca[s] > 0 {
			ca[s]--
		} else {
			onlyB = append(onlyB, s)
		}
	}
	for s, n := range ca {
		for ; n > 0; n-- {
			onlyA = append(onlyA, s)
		}
	}
	sort.Strings(onlyA)
	return onlyA, onlyB
}

// TestSaveH5Layout saves Keras-written files back with the version they
// record and compares the two HDF5 trees: groups, attribute names, string
// layouts (fixed or variable length, character set) and shapes, and the
// datasets of each layer.
func TestSaveH5Layout(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(trainRefDir(), "*/model_init.h5"))
	if dir := os.Getenv("KILN_KERAS_CORPUS"); true {
		if dir == "" {
			dir = testpaths.Shared("corpus", "keras")
		}
		for _, f := range []string{
			"KonduitAI-dl4j-test-resources/src/main/resources/modelimport/keras/examples/gans/wgan_discriminator.h5",
			"KonduitAI-dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/adv_act_1.h5",
			"KonduitAI-dl4j-test-resources/src/main/resources/modelimport/keras/examples/activations/ELU_0_model.h5",
			"14shreyas04-Phishing-URL-Detection/model.h5",
		} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				files = append(files, filepath.Join(dir, f))
			}
		}
	}
	if len(files) == 0 {
		t.Skip("no reference files")
	}
	tmp := t.TempDir()
	for i, f := range files {
		m, info, err := LoadInfo(f, Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		out := filepath.Join(tmp, fmt.Sprintf("m%d.h5", i))
		opts := SaveOptions{KerasVersion: info.KerasVersion, Backend: info.Backend}
		if info.TrainingConfig {
			opts.TrainingConfig = []byte(`{"loss": "mse"}`)
		}
		if err := SaveH5(m, out, opts); err != nil {
			t.Errorf("%s: save: %v", f, err)
			continue
		}
		want, err := treeOf(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := treeOf(out)
		if err != nil {
			t.Fatal(err)
		}
		onlyKeras, onlyKiln := diffLines(normTree(want), normTree(got))
		if len(onlyKeras)+len(onlyKiln) > 0 {
			t.Errorf("%s (Keras %s): layouts differ\nonly in Keras's file:\n  %s\nonly in kiln's file:\n  %s", f, info.KerasVersion,
				strings.Join(onlyKeras, "\n  "), strings.Join(onlyKiln, "\n  "))
		}
	}
}

// TestSaveKerasLayout compares model.weights.h5 of a reference .keras
// archive with kiln's for the same model.
func TestSaveKerasLayout(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(trainRefDir(), "*/model_init.keras"))
	if len(files) == 0 {
		t.Skip("no reference files")
	}
	tmp := t.TempDir()
	for i, f := range files {
		m, err := Load(f, Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		out := filepath.Join(tmp, fmt.Sprintf("m%d.keras", i))
		if err := SaveKeras(m, out, SaveOptions{}); err != nil {
			t.Errorf("%s: save: %v", f, err)
			continue
		}
		want, err := kerasWeightsTree(f, tmp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := kerasWeightsTree(out, tmp)
		if err != nil {
			t.Fatal(err)
		}
		var w2 []string
		for _, l := range want {
			if !strings.HasPrefix(l, "/optimizer") && !strings.HasPrefix(l, "\tattr") {
				w2 = append(w2, l)
			}
		}
		var g2 []string
		for _, l := range got {
			if !strings.HasPrefix(l, "\tattr") {
				g2 = append(g2, l)
			}
		}
		if !slices.Equal(w2, g2) {
			a, b := diffLines(w2, g2)
			t.Errorf("%s: model.weights.h5 differs\nonly in Keras's:\n  %s\nonly in kiln's:\n  %s", f, strings.Join(a, "\n  "), strings.Join(b, "\n  "))
		}
	}
}

func kerasWeightsTree(path, tmp string) ([]string, error) {
	zf, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer zf.Close()
	fi, _ := zf.Stat()
	kz, err := readKerasZip(zf, fi.Size())
	if err != nil {
		return nil, err
	}
	w, err := os.CreateTemp(tmp, "*.h5")
	if err != nil {
		return nil, err
	}
	if err := kz.copyWeights(w, DefaultMaxWeightsBytes); err != nil {
		return nil, err
	}
	w.Close()
	return treeOf(w.Name())
}

// trainRefDir is ../shared/reference/train ($KILN_TRAIN_REFERENCE).
func trainRefDir() string {
	if d := os.Getenv("KILN_TRAIN_REFERENCE"); d != "" {
		return d
	}
	return testpaths.Shared("reference", "train")
}
