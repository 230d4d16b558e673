package lift_test

import (
	"compress/gzip"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/lift"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

// TestFineTuneONNXModel makes an imported ONNX model trainable: the
// mnist_8 model (CNTK export: Conv, Add, Relu, MaxPool, Reshape, MatMul)
// is lifted to Keras layers whose weights are its float initializers,
// compiled and fitted on digits relabelled (label + 1 mod 10), so that
// it starts far off,
// and exported back to ONNX, where kiln's runtime gives the fine-tuned
// model's outputs.
func TestFineTuneONNXModel(t *testing.T) {
	root := filepath.Join("..", "..", "testdata")
	om, err := onnx.Load(filepath.Join(root, "models", "mnist_8", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := lift.Lift(om.Graph)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.TrainableWeights()) == 0 {
		t.Fatal("the lifted model has no trainable weights")
	}
	params := 0
	for _, w := range m.TrainableWeights() {
		params += w.Value.Len()
	}
	t.Logf("lifted %d layers, %d trainable weights (%d scalars)", len(m.Layers()), len(m.TrainableWeights()), params)

	// 64 bundled digits, pixels 0-255 as the model expects, NCHW; target:
	// (label + 1) mod 10, so the pretrained model starts far off.
	img := readGz(t, filepath.Join(root, "mnist", "images-idx3-ubyte.gz"))[16:]
	lab := readGz(t, filepath.Join(root, "mnist", "labels-idx1-ubyte.gz"))[8:]
	const n = 64
	x := make([]float32, n*784)
	for i := range x {
		x[i] = float32(img[i])
	}
	y := make([]int32, n)
	for i := range y {
		y[i] = int32((int(lab[i]) + 1) % 10)
	}
	xs := tensor.From(tensor.Shape{n, 1, 28, 28}, x)
	ys := tensor.From(tensor.Shape{n}, y)
	// Before training the lifted model computes what the ONNX model does.
	orig, err := runtime.Compile(om.Graph)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	x0, _ := xs.Prefix(tensor.Shape{1, 1, 28, 28})
	r0, err := orig.Run(map[string]*tensor.Tensor{om.Graph.Inputs[0].Name: x0})
	if err != nil {
		t.Fatal(err)
	}
	p0, err := m.Predict([]*tensor.Tensor{x0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(r0[om.Graph.Outputs[0].Name], p0[0]); d > 1e-3 {
		t.Fatalf("the lifted model differs from the ONNX model by %g", d)
	}
	if err := m.Compile(optimizer.NewAdam(optimizer.Adam{Options: optimizer.Options{LearningRate: 1e-3}}),
		loss.SparseCategoricalCrossentropy(true), []string{"accuracy"}); err != nil {
		t.Fatal(err)
	}
	h, err := m.Fit([]*tensor.Tensor{xs}, []*tensor.Tensor{ys}, train.FitOptions{Epochs: 5, BatchSize: 16, Seed: 1, Verbose: train.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	l := h.History["loss"]
	t.Logf("loss per epoch %.4f, accuracy %.3f", l, h.History["accuracy"])
	for i := 1; i < len(l); i++ {
		if !(l[i] < l[i-1]) {
			t.Errorf("loss did not decrease at epoch %d: %v", i+1, l)
		}
	}
	want, err := m.Predict([]*tensor.Tensor{xs}, n)
	if err != nil {
		t.Fatal(err)
	}

	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "finetuned.onnx")
	if err := onnx.Save(path, g, onnx.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := runtime.Compile(back.Graph)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	res, err := prog.Run(map[string]*tensor.Tensor{back.Graph.Inputs[0].Name: xs})
	if err != nil {
		t.Fatal(err)
	}
	// The exported model runs other kernels (fused, planned) than the
	// training graph, so float32 rounding differs. The logits reach the
	// thousands here and some are sums of such terms that nearly cancel,
	// so the error scales with the largest output, not with each value:
	// the tolerance is 1e-5 of the largest |output| (at least 1).
	got := res[back.Graph.Outputs[0].Name]
	d, scale := maxDiff(got, want[0]), math.Max(1, maxAbs(want[0]))
	t.Logf("exported ONNX vs fine-tuned model: max abs diff %g, largest |output| %g", d, scale)
	if d > 1e-5*scale {
		t.Errorf("the exported model differs from the fine-tuned one by %g (allowed %g)", d, 1e-5*scale)
	}
}

func readGz(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func maxAbs(x *tensor.Tensor) float64 {
	m := 0.0
	for _, v := range x.Float64s() {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

func maxDiff(x, y *tensor.Tensor) float64 {
	a, b := x.Float64s(), y.Float64s()
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}
