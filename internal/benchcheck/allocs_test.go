// Package benchcheck holds checks on the benchmark models of ../bench
// (made by shared/bench/make_models.py), run when they are present.
package benchcheck

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

func modelsDir(t *testing.T) string {
	dir := os.Getenv("KILN_BENCH_MODELS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "bench", "bench-models")
	}
	if _, err := os.Stat(filepath.Join(dir, "mlp", "model.onnx")); err != nil {
		t.Skipf("benchmark models not found at %s (set KILN_BENCH_MODELS; shared/bench/make_models.py makes them)", dir)
	}
	return dir
}

// TestSteadyStateAllocations: after warm-up, a planned run with reused
// output tensors allocates nothing, on the real benchmark models.
func TestSteadyStateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the benchmark models")
	}
	dir := modelsDir(t)
	for _, name := range []string{"mlp", "cnn", "resnet18"} {
		for _, batch := range []int{1, 8} {
			for _, threads := range []int{1, 2} {
				m, err := onnx.Load(filepath.Join(dir, name, "model.onnx"))
				if err != nil {
					t.Fatal(err)
				}
				x, err := npy.Load(filepath.Join(dir, name, map[int]string{1: "input_b1.npy", 8: "input_b8.npy"}[batch]))
				if err != nil {
					t.Fatal(err)
				}
				prog, err := runtime.Compile(m.Graph, runtime.Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				in := []*tensor.Tensor{x}
				out := make([]*tensor.Tensor, len(m.Graph.Outputs))
				for i := 0; i < 3; i++ {
					if err := prog.RunInto(ctx, in, out); err != nil {
						t.Fatal(err)
					}
				}
				a := testing.AllocsPerRun(20, func() { prog.RunInto(ctx, in, out) })
				t.Logf("%s batch %d threads %d: %v allocations per run", name, batch, threads, a)
				if a != 0 {
					t.Errorf("%s batch %d threads %d: %v allocations per run, want 0", name, batch, threads, a)
				}
				prog.Close()
			}
		}
	}
}
