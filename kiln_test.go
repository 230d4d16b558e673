package kiln_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/internal/kilntest"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func affine(t *testing.T) *kiln.Model {
	t.Helper()
	m, err := kiln.New(kilntest.Affine(), kiln.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestPredict(t *testing.T) {
	m := affine(t)
	x := tensor.From(tensor.Shape{2, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	out, err := m.Predict(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	y := out["y"]
	if y == nil || !y.Shape().Equal(tensor.Shape{2, 3}) {
		t.Fatalf("y = %v, want shape [2 3]", y)
	}
	want := []float32{1.5, 3, 5, 5.5, 7, 9}
	for i, v := range y.F32() {
		if v != want[i] {
			t.Fatalf("y = %v, want %v", y.F32(), want)
		}
	}
	if !m.Batched() {
		t.Error("Batched() = false for a model with a batch dimension")
	}
}

func TestPredictRejectsBadInputs(t *testing.T) {
	m := affine(t)
	good := tensor.From(tensor.Shape{1, 4}, []float32{1, 2, 3, 4})
	cases := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   []string // substrings of the error
	}{
		{"missing", map[string]*tensor.Tensor{}, []string{`missing input "x"`, "float32[batch,4]"}},
		{"nil tensor", map[string]*tensor.Tensor{"x": nil}, []string{`missing input "x"`}},
		{"unknown name", map[string]*tensor.Tensor{"x": good, "z": good}, []string{`unknown input "z"`, `"x" float32[batch,4]`}},
		{"dtype", map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 4}, []float64{1, 2, 3, 4})}, []string{"float64", "want dtype float32"}},
		{"rank", map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{4}, []float32{1, 2, 3, 4})}, []string{"rank 1", "rank 2"}},
		{"dimension", map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{1, 3}, []float32{1, 2, 3})}, []string{"dimension 1 must be 4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Predict(context.Background(), c.inputs)
			if !errors.Is(err, kiln.ErrInput) {
				t.Fatalf("err = %v, want one wrapping ErrInput", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestPredictCancelled(t *testing.T) {
	m := affine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := tensor.From(tensor.Shape{1, 4}, []float32{1, 2, 3, 4})
	if _, err := m.Predict(ctx, map[string]*tensor.Tensor{"x": x}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPredictConcurrent(t *testing.T) {
	m := affine(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				v := float32(g*100 + i)
				x := tensor.From(tensor.Shape{1, 4}, []float32{v, v, v, v})
				out, err := m.Predict(context.Background(), map[string]*tensor.Tensor{"x": x})
				if err != nil {
					errs <- err
					return
				}
				if got := out["y"].F32(); got[0] != v+0.5 || got[2] != v+2 {
					errs <- errors.New("wrong result under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestLoadMNIST(t *testing.T) {
	m, err := kiln.Load("testdata/models/mnist_8/model.onnx", kiln.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Format() != "onnx" || m.Batched() {
		t.Errorf("Format() = %q, Batched() = %v; want onnx, false (the input is fixed at [1,1,28,28])", m.Format(), m.Batched())
	}
	if len(m.Inputs()) != 1 || m.Inputs()[0].Name != "Input3" {
		t.Fatalf("inputs = %v", m.Inputs())
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := kiln.Load("testdata/no-such-model.onnx", kiln.Options{}); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}
