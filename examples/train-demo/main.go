// Command train-demo trains the Keras MNIST example convnet on the bundled
// digits with kiln's Go training API, saves it as a Keras .h5 file and as
// ONNX, reloads both (formats/h5, and formats/onnx on kiln's runtime) and
// prints the test accuracy of the trained model and of both reloaded
// copies, with how closely the copies agree with it. It is the second half
// of `make demo`.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

func main() {
	data := flag.String("data", "testdata/mnist", "directory with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz (training) and images-idx3-ubyte.gz, labels-idx1-ubyte.gz (test)")
	out := flag.String("out", "", "directory for the saved model files (default: a temporary directory, removed afterwards)")
	epochs := flag.Int("epochs", 4, "training epochs")
	seed := flag.Uint64("seed", 1, "seed of the weight initialization and the shuffling")
	flag.Parse()
	if err := run(*data, *out, *epochs, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "train-demo:", err)
		os.Exit(1)
	}
}

func newLayer(class, config string) layer.Layer {
	l, err := layer.New(class, json.RawMessage(config), &layer.DecodeContext{Version: layer.Version{Major: 3}})
	if err != nil {
		panic(err) // the configs below are fixed
	}
	return l
}

func run(dir, out string, epochs int, seed uint64) error {
	xtr, ytr, ntr, err := load(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
	if err != nil {
		return err
	}
	xte, yte, nte, err := load(dir, "images-idx3-ubyte.gz", "labels-idx1-ubyte.gz")
	if err != nil {
		return err
	}
	if out == "" {
		if out, err = os.MkdirTemp("", "kiln-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(out)
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	fmt.Printf("\n== Training the Keras MNIST convnet in Go on %d bundled digits (test: %d others)\n", ntr, nte)
	m, err := train.NewSequential("mnist_convnet", layer.Shape{-1, 28, 28, 1},
		newLayer("Conv2D", `{"name": "conv2d", "filters": 32, "kernel_size": [3, 3], "activation": "relu"}`),
		newLayer("MaxPooling2D", `{"name": "max_pooling2d", "pool_size": [2, 2]}`),
		newLayer("Conv2D", `{"name": "conv2d_1", "filters": 64, "kernel_size": [3, 3], "activation": "relu"}`),
		newLayer("MaxPooling2D", `{"name": "max_pooling2d_1", "pool_size": [2, 2]}`),
		newLayer("Flatten", `{"name": "flatten"}`),
		newLayer("Dense", `{"name": "dense", "units": 10, "activation": "softmax"}`),
	)
	if err != nil {
		return err
	}
	m.InitWeights(seed)
	if err := m.Compile(optimizer.NewAdam(optimizer.Adam{}), loss.CategoricalCrossentropy(false, 0), []string{"accuracy"}); err != nil {
		return err
	}
	if err := m.Summary(os.Stdout); err != nil {
		return err
	}
	start := time.Now()
	if _, err := m.Fit([]*tensor.Tensor{xtr}, []*tensor.Tensor{ytr}, train.FitOptions{Epochs: epochs, BatchSize: 128, Seed: seed}); err != nil {
		return err
	}
	fmt.Printf("trained %d epochs in %.1fs\n", epochs, time.Since(start).Seconds())
	pred, err := m.Predict([]*tensor.Tensor{xte}, 100)
	if err != nil {
		return err
	}
	labels := argmaxRows(yte)

	h5Path := filepath.Join(out, "mnist_convnet.h5")
	onnxPath := filepath.Join(out, "mnist_convnet.onnx")
	if err := h5.Save(m, h5Path, h5.SaveOptions{}); err != nil {
		return err
	}
	g, err := m.Graph()
	if err != nil {
		return err
	}
	if err := onnx.Save(onnxPath, g, onnx.ExportOptions{}); err != nil {
		return err
	}
	fmt.Printf("saved %s (%s) and %s (%s)\n", h5Path, size(h5Path), onnxPath, size(onnxPath))

	// Reload the Keras file.
	mh, info, err := h5.LoadInfo(h5Path, h5.Options{})
	if err != nil {
		return err
	}
	predH5, err := mh.Predict([]*tensor.Tensor{xte}, 100)
	if err != nil {
		return err
	}
	// Reload the ONNX file and run it on kiln's runtime.
	om, err := onnx.Load(onnxPath)
	if err != nil {
		return err
	}
	prog, err := runtime.Compile(om.Graph)
	if err != nil {
		return err
	}
	defer prog.Close()
	res, err := prog.Run(map[string]*tensor.Tensor{om.Graph.Inputs[0].Name: xte})
	if err != nil {
		return err
	}
	predOnnx := res[om.Graph.Outputs[0].Name]

	ref := argmaxRows(pred[0])
	fmt.Printf("\n%-34s %9s %14s %16s\n", "model", "accuracy", "max |diff|", "same argmax")
	row := func(name string, p *tensor.Tensor) {
		am := argmaxRows(p)
		fmt.Printf("%-34s %8.2f%% %14.3g %10d/%d\n", name, 100*agree(am, labels), maxAbsDiff(p, pred[0]), count(am, ref), len(ref))
	}
	row("trained (in memory)", pred[0])
	row(fmt.Sprintf(".h5 reloaded (Keras %s)", info.KerasVersion), predH5[0])
	row(".onnx reloaded (kiln runtime)", predOnnx)
	return nil
}

func size(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.0f KB", float64(st.Size())/1024)
}

func argmaxRows(t *tensor.Tensor) []int {
	s := t.Shape()
	n, k := s[0], s[len(s)-1]
	v := t.Float64s()
	out := make([]int, n)
	for i := range n {
		best := 0
		for j := 1; j < k; j++ {
			if v[i*k+j] > v[i*k+best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

func count(a, b []int) int {
	c := 0
	for i := range a {
		if a[i] == b[i] {
			c++
		}
	}
	return c
}

func agree(a, b []int) float64 { return float64(count(a, b)) / float64(len(a)) }

func maxAbsDiff(a, b *tensor.Tensor) float64 {
	x, y := a.Float64s(), b.Float64s()
	d := 0.0
	for i := range x {
		d = math.Max(d, math.Abs(x[i]-y[i]))
	}
	return d
}

// load reads an IDX image/label pair (gzip): pixels scaled to [0, 1] as
// (n, 28, 28, 1), labels one-hot as (n, 10).
func load(dir, images, labels string) (*tensor.Tensor, *tensor.Tensor, int, error) {
	img, err := readGz(filepath.Join(dir, images))
	if err != nil {
		return nil, nil, 0, err
	}
	lab, err := readGz(filepath.Join(dir, labels))
	if err != nil {
		return nil, nil, 0, err
	}
	if len(img) < 16 || binary.BigEndian.Uint32(img) != 0x803 || len(lab) < 8 || binary.BigEndian.Uint32(lab) != 0x801 {
		return nil, nil, 0, fmt.Errorf("%s: not an MNIST IDX pair", dir)
	}
	n := int(binary.BigEndian.Uint32(img[4:]))
	if int(binary.BigEndian.Uint32(lab[4:])) != n || len(img) != 16+n*784 || len(lab) != 8+n {
		return nil, nil, 0, fmt.Errorf("%s: image and label counts or sizes disagree", dir)
	}
	x := make([]float32, n*784)
	for i, b := range img[16:] {
		x[i] = float32(b) / 255
	}
	y := make([]float32, n*10)
	for i, l := range lab[8:] {
		if l > 9 {
			return nil, nil, 0, fmt.Errorf("%s: label %d out of range", dir, l)
		}
		y[i*10+int(l)] = 1
	}
	return tensor.From(tensor.Shape{n, 28, 28, 1}, x), tensor.From(tensor.Shape{n, 10}, y), n, nil
}

func readGz(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return io.ReadAll(z)
}
