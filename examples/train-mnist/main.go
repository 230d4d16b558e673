// Command train-mnist trains the Keras MNIST example convnet with kiln's
// Go training API: Conv2D(32, 3x3, relu) - MaxPooling2D(2) - Conv2D(64,
// 3x3, relu) - MaxPooling2D(2) - Flatten - Dense(10, softmax), Adam
// (learning rate 1e-3), categorical crossentropy, batch 128, on the first
// 8,000 digits of an MNIST IDX pair, then reports the accuracy on the last
// 2,000 and the time of each epoch. With -plot it writes the training
// history as a PNG. -init torch starts from PyTorch's default
// initialization instead of Keras's, to compare with the PyTorch baseline
// (../shared/bench/train_bench.py) from the same kind of starting point;
// -same-start DIR trains from the very weights and batch order of a PyTorch
// run recorded by same_start.py, so the two trainings can be compared step
// for step rather than seed for seed. torch_seeds.py runs the PyTorch
// baseline over several seeds.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

func main() {
	data := flag.String("data", "../shared/datasets/mnist10k", "directory with images-idx3-ubyte.gz and labels-idx1-ubyte.gz")
	epochs := flag.Int("epochs", 4, "training epochs")
	batch := flag.Int("batch", 128, "batch size")
	ntrain := flag.Int("train", 8000, "number of leading digits to train on; the rest is the test set")
	seed := flag.Uint64("seed", 1, "seed of the weight initialization and the shuffling")
	plot := flag.String("plot", "", "write the training history plot to this PNG file")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	logits := flag.Bool("logits", false, "end in a linear Dense and take the crossentropy from its logits, as Keras on TensorFlow computes it, instead of softmax probabilities clipped to [1e-7, 1-1e-7] as Keras's other backends do")
	same := flag.String("same-start", "", "directory with a PyTorch run's starting kernels and batch orders (conv2d_kernel.npy, conv2d_1_kernel.npy, dense_kernel.npy in Keras layout, optional <layer>_bias.npy, perm<epoch>.npy; see same_start.py), to train from the very same start and order")
	initName := flag.String("init", "keras", "weight initialization: keras (glorot_uniform kernels, zero biases) or torch (PyTorch's default: kernels and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as the PyTorch baseline uses)")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if *initName != "keras" && *initName != "torch" {
		fmt.Fprintln(os.Stderr, "train-mnist: -init must be keras or torch")
		os.Exit(2)
	}
	torchInit = *initName == "torch"
	fromLogits = *logits
	sameStart = *same
	if err := run(*data, *epochs, *batch, *ntrain, *seed, *plot); err != nil {
		fmt.Fprintln(os.Stderr, "train-mnist:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// epochTimer records how long each epoch takes.
type epochTimer struct {
	train.CallbackBase
	start time.Time
	times []time.Duration
}

func (c *epochTimer) OnEpochBegin(*train.Model, int, train.Logs) error {
	c.start = time.Now()
	return nil
}

func (c *epochTimer) OnEpochEnd(*train.Model, int, train.Logs) error {
	c.times = append(c.times, time.Since(c.start))
	return nil
}

func newLayer(class, config string) layer.Layer {
	l, err := layer.New(class, json.RawMessage(config), &layer.DecodeContext{Version: layer.Version{Major: 3}})
	if err != nil {
		panic(err) // the configs below are fixed
	}
	return l
}

func run(dir string, epochs, batch, ntrain int, seed uint64, plot string) error {
	x, labels, err := load(dir)
	if err != nil {
		return err
	}
	n := len(labels)
	if ntrain <= 0 || ntrain >= n {
		return fmt.Errorf("-train %d must be between 1 and %d", ntrain, n-1)
	}
	oneHot := make([]float32, n*10)
	for i, l := range labels {
		oneHot[i*10+int(l)] = 1
	}
	xs := tensor.From(tensor.Shape{n, 28, 28, 1}, x)
	ys := tensor.From(tensor.Shape{n, 10}, oneHot)
	xtr, _ := xs.Prefix(tensor.Shape{ntrain, 28, 28, 1})
	ytr, _ := ys.Prefix(tensor.Shape{ntrain, 10})
	nt := n - ntrain
	xte := tensor.From(tensor.Shape{nt, 28, 28, 1}, x[ntrain*784:])
	yte := tensor.From(tensor.Shape{nt, 10}, oneHot[ntrain*10:])

	m, err := train.NewSequential("mnist_convnet", layer.Shape{-1, 28, 28, 1},
		newLayer("Conv2D", `{"name": "conv2d", "filters": 32, "kernel_size": [3, 3], "activation": "relu"}`),
		newLayer("MaxPooling2D", `{"name": "max_pooling2d", "pool_size": [2, 2]}`),
		newLayer("Conv2D", `{"name": "conv2d_1", "filters": 64, "kernel_size": [3, 3], "activation": "relu"}`),
		newLayer("MaxPooling2D", `{"name": "max_pooling2d_1", "pool_size": [2, 2]}`),
		newLayer("Flatten", `{"name": "flatten"}`),
		newLayer("Dense", denseConfig()),
	)
	if err != nil {
		return err
	}
	m.InitWeights(seed)
	if torchInit {
		initTorch(m, seed)
	}
	if sameStart != "" {
		for _, name := range []string{"conv2d", "conv2d_1", "dense"} {
			k, err := npy.Load(filepath.Join(sameStart, name+"_kernel.npy"))
			if err != nil {
				return err
			}
			w := m.Layer(name).Weights()[0].Value
			if !w.Shape().Equal(k.Shape()) {
				return fmt.Errorf("%s kernel: %v in %s, want %v", name, k.Shape(), sameStart, w.Shape())
			}
			w.CopyFrom(k)
			if b, err := npy.Load(filepath.Join(sameStart, name+"_bias.npy")); err == nil {
				bw := m.Layer(name).Weights()[1].Value
				if !bw.Shape().Equal(b.Shape()) {
					return fmt.Errorf("%s bias: %v in %s, want %v", name, b.Shape(), sameStart, bw.Shape())
				}
				bw.CopyFrom(b)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := m.Compile(optimizer.NewAdam(optimizer.Adam{Options: optimizer.Options{LearningRate: 1e-3}}),
		loss.CategoricalCrossentropy(fromLogits, 0), []string{"accuracy"}); err != nil {
		return err
	}
	if err := m.Summary(os.Stdout); err != nil {
		return err
	}
	timer := &epochTimer{}
	var h *train.History
	if sameStart == "" {
		h, err = m.Fit([]*tensor.Tensor{xtr}, []*tensor.Tensor{ytr}, train.FitOptions{
			Epochs: epochs, BatchSize: batch, Seed: seed, Callbacks: []train.Callback{timer},
		})
	} else {
		h, err = fitInOrder(m, xtr, ytr, epochs, batch, timer)
	}
	if err != nil {
		return err
	}
	pprof.StopCPUProfile()
	ev, err := m.Evaluate([]*tensor.Tensor{xte}, []*tensor.Tensor{yte}, train.EvaluateOptions{BatchSize: 500})
	if err != nil {
		return err
	}
	ts := append([]time.Duration(nil), timer.times...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	med := ts[len(ts)/2]
	if len(ts) > 1 {
		// Median of the epochs after the first (which compiles the plans).
		rest := append([]time.Duration(nil), timer.times[1:]...)
		sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
		med = rest[len(rest)/2]
	}
	fmt.Printf("test accuracy on the last %d digits: %.2f%% (loss %.4f)\n", nt, 100*ev["accuracy"], ev["loss"])
	fmt.Printf("epoch times: %v; median after the first: %.2fs (%.0f samples/s)\n", timer.times, med.Seconds(), float64(ntrain)/med.Seconds())
	if plot != "" {
		if err := h.Plot(plot, "MNIST convnet"); err != nil {
			return err
		}
		fmt.Println("history plot:", plot)
	}
	return nil
}

var (
	torchInit, fromLogits bool
	sameStart             string
)

// fitInOrder trains one epoch at a time on the samples in the order
// sameStart/perm<epoch>.npy gives (Fit without shuffling; the optimizer
// state carries over between the calls).
func fitInOrder(m *train.Model, x, y *tensor.Tensor, epochs, batch int, timer *epochTimer) (*train.History, error) {
	n := x.Shape()[0]
	xrow, yrow := x.Len()/n, y.Len()/n
	var h *train.History
	for ep := range epochs {
		p, err := npy.Load(filepath.Join(sameStart, fmt.Sprintf("perm%d.npy", ep)))
		if err != nil {
			return nil, err
		}
		order := p.Int64s()
		if len(order) != n {
			return nil, fmt.Errorf("perm%d.npy orders %d samples, want %d", ep, len(order), n)
		}
		xs, ys := make([]float32, 0, x.Len()), make([]float32, 0, y.Len())
		for _, i := range order {
			if i < 0 || int(i) >= n {
				return nil, fmt.Errorf("perm%d.npy: index %d out of range", ep, i)
			}
			xs = append(xs, x.F32()[int(i)*xrow:(int(i)+1)*xrow]...)
			ys = append(ys, y.F32()[int(i)*yrow:(int(i)+1)*yrow]...)
		}
		if h, err = m.Fit([]*tensor.Tensor{tensor.From(x.Shape(), xs)}, []*tensor.Tensor{tensor.From(y.Shape(), ys)},
			train.FitOptions{Epochs: 1, BatchSize: batch, NoShuffle: true, Callbacks: []train.Callback{timer}}); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// denseConfig is the classifier layer: softmax, or linear with -logits.
func denseConfig() string {
	if fromLogits {
		return `{"name": "dense", "units": 10}`
	}
	return `{"name": "dense", "units": 10, "activation": "softmax"}`
}

// initTorch replaces the weights with PyTorch's default initialization of
// Conv2d and Linear (kaiming_uniform with a = sqrt(5) for the kernel, which
// is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias).
func initTorch(m *train.Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x70c4))
	for _, l := range m.Layers() {
		ws := l.Weights()
		if len(ws) == 0 {
			continue
		}
		ks := ws[0].Shape // Keras kernels end in (in, out)
		fanIn := 1
		for _, d := range ks[:len(ks)-1] {
			fanIn *= d
		}
		bound := 1 / math.Sqrt(float64(fanIn))
		for _, w := range ws {
			d := w.Value.F32()
			for i := range d {
				d[i] = float32((2*rng.Float64() - 1) * bound)
			}
		}
	}
}

// load reads an IDX image/label pair (gzip) and scales pixels to [0, 1].
func load(dir string) ([]float32, []uint8, error) {
	img, err := readGz(filepath.Join(dir, "images-idx3-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	lab, err := readGz(filepath.Join(dir, "labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	if len(img) < 16 || binary.BigEndian.Uint32(img) != 0x803 || len(lab) < 8 || binary.BigEndian.Uint32(lab) != 0x801 {
		return nil, nil, fmt.Errorf("%s: not an MNIST IDX pair", dir)
	}
	n := int(binary.BigEndian.Uint32(img[4:]))
	if int(binary.BigEndian.Uint32(lab[4:])) != n || len(img) != 16+n*784 || len(lab) != 8+n {
		return nil, nil, fmt.Errorf("%s: image and label counts or sizes disagree", dir)
	}
	x := make([]float32, n*784)
	for i, b := range img[16:] {
		x[i] = float32(b) / 255
	}
	return x, lab[8:], nil
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
