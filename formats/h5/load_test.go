package h5

import (
	"errors"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func corpusDir(t testing.TB) string {
	dir := os.Getenv("KILN_KERAS_CORPUS")
	if dir == "" {
		dir = testpaths.Shared("corpus", "keras")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("Keras corpus not found at %s (set KILN_KERAS_CORPUS): %v", dir, err)
	}
	return dir
}

func weightsOf(t *testing.T, m kerasModel) [][]float32 {
	var out [][]float32
	for _, fw := range allWeights(m) {
		out = append(out, fw.w.Value.F32())
	}
	return out
}

// The corpus README lists pairs holding the same weights in two containers;
// loading both must give identical weights.
func TestConsistencyPairs(t *testing.T) {
	dir := corpusDir(t)
	pairs := []struct {
		a, b         string
		aArch, bArch string
	}{
		{a: "14shreyas04-Phishing-URL-Detection/model.h5", b: "14shreyas04-Phishing-URL-Detection/model.keras"},
		{a: "fastmachinelearning-example-models/keras/keras_3layer.h5", b: "fastmachinelearning-example-models/keras/KERAS_3layer_weights.h5", bArch: "fastmachinelearning-example-models/keras/KERAS_3layer.json"},
	}
	for _, p := range pairs {
		t.Run(filepath.Base(p.a), func(t *testing.T) {
			opt := func(a string) Options {
				if a == "" {
					return Options{}
				}
				return Options{Arch: filepath.Join(dir, a)}
			}
			ma, ia, err := load(filepath.Join(dir, p.a), opt(p.aArch), standinBuild)
			if err != nil {
				t.Fatal(err)
			}
			mb, ib, err := load(filepath.Join(dir, p.b), opt(p.bArch), standinBuild)
			if err != nil {
				t.Fatal(err)
			}
			wa, wb := weightsOf(t, ma), weightsOf(t, mb)
			if len(wa) == 0 || len(wa) != len(wb) {
				t.Fatalf("%d vs %d weights", len(wa), len(wb))
			}
			for i := range wa {
				if !slices.Equal(wa[i], wb[i]) {
					t.Fatalf("weight %d differs", i)
				}
			}
			t.Logf("%s (%s %s) == %s (%s %s): %d arrays", p.a, ia.Format, ia.KerasVersion, p.b, ib.Format, ib.KerasVersion, len(wa))
		})
	}
}

func TestNotKeras(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		data string
		want string
	}{
		"empty":     {"", "empty"},
		"json.h5":   {`{"class_name": "Sequential"}`, "JSON"},
		"npy.keras": {"\x93NUMPY\x01\x00", "NumPy"},
		"onnx.h5":   {"\x08\x07\x12\x04test", "ONNX"},
		"trunc.h5":  {"\x89HDF\r\n\x1a\n\x00\x00", "HDF5"},
		"zip.keras": {"PK\x03\x04garbage", "zip"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(c.data), 0o644)
		_, _, err := load(p, Options{}, standinBuild)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, c.want)
		}
		if name != "trunc.h5" && !errors.Is(err, ErrNotKeras) && !strings.Contains(err.Error(), "zip") {
			t.Errorf("%s: %v does not wrap ErrNotKeras", name, err)
		}
	}
}

// Truncated and corrupted copies of real files give errors, not panics or
// hangs (libhdf5 does the parsing; this checks the wrapper survives it).
func TestMalformedFiles(t *testing.T) {
	dir := corpusDir(t)
	tmp := t.TempDir()
	for _, name := range []string{
		"fastmachinelearning-example-models/keras/keras_3layer.h5",
		"14shreyas04-Phishing-URL-Detection/model.keras",
	} {
		orig, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i, cut := range []int{9, 100, 512, 2048, len(orig) / 2, len(orig) - 1} {
			p := filepath.Join(tmp, "cut"+filepath.Base(name))
			os.WriteFile(p, orig[:cut], 0o644)
			if _, _, err := load(p, Options{}, standinBuild); err == nil && i < 5 {
				t.Errorf("%s cut to %d bytes loaded", name, cut)
			}
		}
		for seed := 0; seed < 40; seed++ {
			b := slices.Clone(orig)
			for k := 0; k < 8; k++ {
				pos := (seed*7919 + k*104729) % len(b)
				b[pos] ^= byte(1 + seed + k)
			}
			p := filepath.Join(tmp, "flip"+filepath.Base(name))
			os.WriteFile(p, b, 0o644)
			load(p, Options{}, standinBuild) // any result but a crash
		}
	}
}
