// Command mnist classifies the bundled MNIST digits with the mnist_8 ONNX
// model on kiln's runtime and prints accuracy and latency. It is what
// `make demo` runs.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

func main() {
	model := flag.String("model", "testdata/models/mnist_8/model.onnx", "ONNX model taking 1x1x28x28 float32 pixels (0-255)")
	images := flag.String("images", "testdata/mnist/images-idx3-ubyte.gz", "IDX image file (gzip)")
	labels := flag.String("labels", "testdata/mnist/labels-idx1-ubyte.gz", "IDX label file (gzip)")
	limit := flag.Int("n", 0, "classify only the first n digits (0: all)")
	flag.Parse()
	if err := run(*model, *images, *labels, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "mnist:", err)
		os.Exit(1)
	}
}

func run(modelPath, imagesPath, labelsPath string, limit int) error {
	imgs, rows, cols, err := readIDX(imagesPath, 0x803)
	if err != nil {
		return err
	}
	labs, _, _, err := readIDX(labelsPath, 0x801)
	if err != nil {
		return err
	}
	n := len(labs)
	if limit > 0 && limit < n {
		n = limit
	}
	m, err := onnx.Load(modelPath)
	if err != nil {
		return err
	}
	prog, err := runtime.Compile(m.Graph)
	if err != nil {
		return err
	}
	in, out := m.Graph.Inputs[0].Name, m.Graph.Outputs[0].Name
	fmt.Printf("model %s: input %q %s, output %q %s\n", modelPath, in, m.Graph.Inputs[0].Type, out, m.Graph.Outputs[0].Type)
	px := rows * cols
	correct := 0
	lat := make([]float64, 0, n)
	confusion := [10][10]int{}
	for i := 0; i < n; i++ {
		x := make([]float32, px)
		for j := range x {
			x[j] = float32(imgs[i*px+j])
		}
		feed := map[string]*tensor.Tensor{in: tensor.From(tensor.Shape{1, 1, rows, cols}, x)}
		start := time.Now()
		res, err := prog.Run(feed)
		if err != nil {
			return err
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		scores := res[out].Float64s()
		best := 0
		for k := range scores {
			if scores[k] > scores[best] {
				best = k
			}
		}
		want := int(labs[i])
		if best == want {
			correct++
		}
		if want < 10 && best < 10 {
			confusion[want][best]++
		}
	}
	sort.Float64s(lat)
	fmt.Printf("classified %d digits: accuracy %.2f%% (%d correct)\n", n, 100*float64(correct)/float64(n), correct)
	fmt.Printf("latency per digit: median %.3f ms, p90 %.3f ms, min %.3f ms\n", lat[len(lat)/2], lat[len(lat)*9/10], lat[0])
	fmt.Println("confusion matrix (rows: true digit, columns: predicted):")
	for r := 0; r < 10; r++ {
		fmt.Printf("  %d:", r)
		for c := 0; c < 10; c++ {
			fmt.Printf(" %4d", confusion[r][c])
		}
		fmt.Println()
	}
	return nil
}

// readIDX reads a gzipped IDX file with the given magic number and returns
// its bytes and, for images, the row and column counts.
func readIDX(path string, magic uint32) ([]byte, int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	var hdr [2]uint32
	if err := binary.Read(zr, binary.BigEndian, &hdr); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if hdr[0] != magic {
		return nil, 0, 0, fmt.Errorf("%s: magic %#x, want %#x", path, hdr[0], magic)
	}
	n := int(hdr[1])
	rows, cols := 1, 1
	if magic == 0x803 {
		var rc [2]uint32
		if err := binary.Read(zr, binary.BigEndian, &rc); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		rows, cols = int(rc[0]), int(rc[1])
	}
	if n < 0 || rows*cols <= 0 || n*rows*cols > 1<<30 {
		return nil, 0, 0, fmt.Errorf("%s: implausible header", path)
	}
	data := make([]byte, n*rows*cols)
	if _, err := io.ReadFull(zr, data); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return data, rows, cols, nil
}
