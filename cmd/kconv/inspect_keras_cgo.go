//go:build cgo

package main

import (
	"fmt"
	"io"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/train"
)

func init() { inspectKeras = runInspectKeras }

var formatNames = map[string]string{
	h5.FormatH5:        "legacy HDF5 full model",
	h5.FormatH5Weights: "HDF5 weights (save_weights) with an architecture JSON",
	h5.FormatKeras:     "Keras 3 .keras archive",
	"keras-json":       "architecture JSON without weights (weights are zero)",
}

// runInspectKeras prints the file facts, then the model as Keras's
// model.summary() does.
func runInspectKeras(o *inspectOptions) error {
	var (
		m    *train.Model
		info *h5.Info
		err  error
	)
	if o.Arch == "" && isJSON(o.Model) {
		m, info, err = h5.LoadArch(o.Model)
	} else {
		m, info, err = h5.LoadInfo(o.Model, h5.Options{Arch: o.Arch})
	}
	if err != nil {
		return err
	}
	w := o.Out
	fmt.Fprintf(w, "model:     %s\n", o.Model)
	fmt.Fprintf(w, "format:    %s (%s)\n", info.Format, formatNames[info.Format])
	kv := info.KerasVersion
	if kv == "" {
		kv = "not recorded (Keras 1)"
	}
	fmt.Fprintf(w, "keras:     %s\n", kv)
	if info.Backend != "" {
		fmt.Fprintf(w, "backend:   %s\n", info.Backend)
	}
	if o.Arch != "" {
		fmt.Fprintf(w, "arch:      %s\n", o.Arch)
	}
	if info.TrainingConfig {
		fmt.Fprintf(w, "training:  training_config stored (ignored for inference)\n")
	}
	fmt.Fprintln(w)
	if s, ok := any(m).(interface{ Summary(io.Writer) error }); ok {
		return s.Summary(w)
	}
	fmt.Fprintf(w, "%d layers\n", len(m.Layers()))
	return nil
}
