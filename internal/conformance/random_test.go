package conformance

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// TestBernoulliNodeTests runs ONNX's Bernoulli backend tests (the op and its
// function expansion into RandomUniformLike, Greater and Cast), which the
// conformance run skips because their expected values come from NumPy's
// generator. kiln must load and run each model, give an output of the
// expected shape and dtype holding only 0 and 1, and, where the node has a
// seed, give the same output on a second run of the compiled program.
// The corpus is KILN_CORPUS (the ONNX corpus directory) or
// ../shared/corpus/onnx; the test is skipped when neither holds the tests.
func TestBernoulliNodeTests(t *testing.T) {
	root := os.Getenv("KILN_CORPUS")
	if root == "" {
		root = testpaths.Shared("corpus", "onnx")
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "node", "test_bernoulli*"))
	if len(dirs) == 0 {
		t.Skipf("no test_bernoulli* directories under %s/node (set KILN_CORPUS)", root)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := firstInputs(dir, m.Graph)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := runtime.Compile(m.Graph, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			seeded := false
			for _, n := range m.Graph.Nodes {
				seeded = seeded || n.Attrs.Has("seed")
			}
			var first *tensor.Tensor
			for run := range 2 {
				got, err := prog.RunValues(context.Background(), in)
				if err != nil {
					t.Fatalf("run %d: %v", run+1, err)
				}
				out := m.Graph.Outputs[0]
				typ := out.Type
				want, err := onnx.LoadValue(filepath.Join(dir, "test_data_set_0", "output_0.pb"), &typ)
				if err != nil {
					t.Fatal(err)
				}
				g, ok := got[out.Name].(*tensor.Tensor)
				w := want.(*tensor.Tensor)
				if !ok {
					t.Fatalf("output %q is a %T, want a tensor", out.Name, got[out.Name])
				}
				if g.DType() != w.DType() || !g.Shape().Equal(w.Shape()) {
					t.Fatalf("output is %v%v, want %v%v", g.DType(), g.Shape(), w.DType(), w.Shape())
				}
				for i := range g.Len() {
					if v := g.At(i); v != 0 && v != 1 {
						t.Fatalf("output element %d is %g, want 0 or 1", i, v)
					}
				}
				if run == 0 {
					first = g
					continue
				}
				if seeded {
					for i := range g.Len() {
						if g.At(i) != first.At(i) {
							t.Fatalf("seeded model: runs differ at element %d", i)
						}
					}
				}
			}
		})
	}
}
