//go:build cgo

package main

import (
	"fmt"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/lift"
)

func init() { saveKeras = runSaveKeras }

// runSaveKeras loads o.In as a Keras model (a Keras file directly, an ONNX
// file through lift) and saves it as o.Output.
func runSaveKeras(o *convertOptions) error {
	format, err := modelfile.Detect(o.In)
	if err != nil {
		return err
	}
	var m *train.Model
	how := "Keras model"
	if format == modelfile.ONNX {
		om, err := onnx.Load(o.In)
		if err != nil {
			return err
		}
		if m, err = lift.Lift(om.Graph); err != nil {
			return fmt.Errorf("kconv: %s cannot be written as Keras: %w", o.In, err)
		}
		how = "ONNX graph lifted to Keras layers"
	} else if m, err = h5.Load(o.In, h5.Options{Arch: o.Arch}); err != nil {
		return err
	}
	if err := h5.Save(m, o.Output, h5.SaveOptions{}); err != nil {
		return err
	}
	n := 0
	for _, l := range m.Layers() {
		_ = l
		n++
	}
	fmt.Fprintf(o.Out, "wrote %s (%s, %d layers, %d weights)\n", o.Output, how, n, len(m.Weights()))
	return nil
}
