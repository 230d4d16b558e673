//go:build cgo

package main

import (
	"bytes"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertKerasChain converts a Keras reference model through .keras,
// .h5, .onnx and back to .h5 (lifting the ONNX graph); every step is
// verified against its input by runConvert.
func TestConvertKerasChain(t *testing.T) {
	src := testpaths.Shared("reference", "train", "cnn_sparse_adam", "model_init.h5")
	if _, err := os.Stat(src); err != nil {
		t.Skip("reference model not found")
	}
	dir := t.TempDir()
	in := src
	for _, name := range []string{"a.keras", "b.h5", "c.onnx", "d.h5", "e.keras"} {
		out := filepath.Join(dir, name)
		var buf bytes.Buffer
		if err := runConvert(&convertOptions{In: in, Output: out, Out: &buf, Seed: 1, Tol: 1e-5}); err != nil {
			t.Fatalf("%s -> %s: %v\n%s", filepath.Base(in), name, err, buf.String())
		}
		if !strings.Contains(buf.String(), "max abs diff") {
			t.Errorf("%s: no verification report:\n%s", name, buf.String())
		}
		in = out
	}
}
