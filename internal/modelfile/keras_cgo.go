//go:build cgo

package modelfile

import (
	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/ops/graph"
)

// With cgo, Keras files are read by formats/h5 (libhdf5).
func init() {
	loadKeras = func(path string, o LoadOptions) (*graph.Graph, error) {
		m, err := h5.Load(path, h5.Options{Arch: o.Arch})
		if err != nil {
			return nil, err
		}
		return m.Graph()
	}
}
