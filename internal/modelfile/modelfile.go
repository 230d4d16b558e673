// Package modelfile opens any model file kiln reads, choosing the format
// from the file's content rather than its extension.
package modelfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops/graph"
)

// Format is a model file format.
type Format string

// Formats kiln knows.
const (
	ONNX  Format = "onnx"
	HDF5  Format = "keras-h5"
	Keras Format = "keras-zip"
)

// Info describes a loaded model.
type Info struct {
	Path     string
	Format   Format
	Producer string // "pytorch 2.1", "keras 3.3.3", ...
	Opsets   map[string]int
	IR       int64
	// Unsupported lists nodes kiln cannot run (only with Inspect).
	Unsupported []string
}

// ErrNeedsCgo is returned for Keras HDF5 files in a build without cgo.
var ErrNeedsCgo = errors.New("this build of kiln cannot read HDF5 files")

var hdf5Magic = []byte("\x89HDF\r\n\x1a\n")

// Detect reads the first bytes of a file and names its format.
func Detect(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, hdf5Magic):
		return HDF5, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return Keras, nil
	}
	return ONNX, nil
}

// LoadOptions change how a model file is read.
type LoadOptions struct {
	// Arch is a Keras architecture JSON file, for a weights-only .h5.
	Arch string
}

// Load reads a model file into a graph ready to compile.
func Load(path string) (*graph.Graph, *Info, error) { return load(path, false, LoadOptions{}) }

// LoadWith is Load with options.
func LoadWith(path string, o LoadOptions) (*graph.Graph, *Info, error) { return load(path, false, o) }

// Inspect reads a model file for display: nodes kiln cannot run are kept
// and listed in Info.Unsupported instead of failing the load.
func Inspect(path string) (*graph.Graph, *Info, error) { return load(path, true, LoadOptions{}) }

func load(path string, inspect bool, o LoadOptions) (*graph.Graph, *Info, error) {
	format, err := Detect(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kiln: %w", err)
	}
	info := &Info{Path: path, Format: format}
	switch format {
	case ONNX:
		if o.Arch != "" {
			return nil, nil, fmt.Errorf("kiln: %s is an ONNX model; an architecture file (%s) applies only to weights-only Keras .h5 files", path, o.Arch)
		}
		m, err := onnx.LoadWith(path, onnx.Options{AllowUnsupported: inspect})
		if err != nil {
			return nil, nil, err
		}
		info.Producer = (m.ProducerName + " " + m.ProducerVersion)
		info.Opsets = m.Opsets
		info.IR = m.IRVersion
		info.Unsupported = m.Unsupported
		return m.Graph, info, nil
	case HDF5, Keras:
		if loadKeras != nil {
			g, err := loadKeras(path, o)
			return g, info, err
		}
		return nil, nil, fmt.Errorf("kiln: %s is a Keras %s file: %w; convert it to ONNX with `kconv convert %s model.onnx`, or use a kiln build with cgo and libhdf5", path, format, ErrNeedsCgo, path)
	}
	return nil, nil, fmt.Errorf("kiln: %s: unknown model format", path)
}

// loadKeras is set by a cgo build that links the Keras reader.
var loadKeras func(path string, o LoadOptions) (*graph.Graph, error)
