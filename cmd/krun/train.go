package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/lift"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
	"github.com/spf13/cobra"
)

type trainOptions struct {
	Model, X, Y, Output string
	ValX, ValY          string
	Optimizer, Loss     string
	LR                  float64
	Metrics             []string
	Epochs, Batch       int
	ValSplit            float64
	Freeze              []string
	FreezeAllButLast    bool
	Seed                uint64
	Plot                string
	Out                 io.Writer
}

// errNeedsCgo is returned for Keras files by builds without cgo.
var errNeedsCgo = errors.New("this build of krun cannot read or write Keras HDF5 files (built without cgo); use .onnx, or a cgo build")

// loadKeras and saveKeras read and write .h5/.keras models; set by the
// cgo build.
var (
	loadKeras = func(path string) (*train.Model, []byte, error) { return nil, nil, errNeedsCgo }
	saveKeras = func(m *train.Model, path string) error { return errNeedsCgo }
)

func newTrainCmd(runF func(*trainOptions) error) *cobra.Command {
	o := &trainOptions{}
	cmd := &cobra.Command{
		Use:   "train MODEL --x X.npy --y Y.npy -o OUT [flags]",
		Short: "Fit a model (.h5, .keras or .onnx) on .npy data and save it (.h5, .keras or .onnx)",
		Long: `Fine-tune or train a model with kiln's Keras-like training API.

MODEL is a Keras .h5 or .keras file, or an ONNX model, which is lifted to Keras
layers whose weights are its float initializers. The model is compiled from the
compile settings stored in a Keras file (optimizer, loss, metrics; a saved
optimizer state is restored) unless --loss is given, then fitted on X and Y (one
.npy file each, samples along the first axis) and saved to OUT, whose extension
chooses the format: .h5 (legacy Keras HDF5), .keras (Keras 3 archive) or .onnx.
A Keras file keeps the compile settings and the optimizer state.

--freeze NAME (repeatable; a trailing * matches a prefix) and
--freeze-all-but-last mark layers not trainable before compiling.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			o.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(o)
			}
			return runTrain(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.X, "x", "", "inputs (.npy)")
	f.StringVar(&o.Y, "y", "", "targets (.npy)")
	f.StringVar(&o.ValX, "val-x", "", "validation inputs (.npy)")
	f.StringVar(&o.ValY, "val-y", "", "validation targets (.npy)")
	f.Float64Var(&o.ValSplit, "validation-split", 0, "fraction of the samples held out for validation (taken from the end)")
	f.StringVarP(&o.Output, "output", "o", "", "where to save the trained model (.h5, .keras or .onnx)")
	f.StringVar(&o.Optimizer, "optimizer", "adam", "optimizer (Keras name) when --loss is given or the model stores no compile settings")
	f.Float64Var(&o.LR, "lr", 0, "learning rate (default: the optimizer's)")
	f.StringVar(&o.Loss, "loss", "", "loss (Keras name, e.g. categorical_crossentropy); default: the model's stored one")
	f.StringSliceVar(&o.Metrics, "metrics", nil, "metrics (Keras names, e.g. accuracy)")
	f.IntVar(&o.Epochs, "epochs", 1, "epochs")
	f.IntVar(&o.Batch, "batch-size", 32, "batch size")
	f.StringArrayVar(&o.Freeze, "freeze", nil, "layer to freeze (repeatable; NAME* freezes every layer whose name starts with NAME)")
	f.BoolVar(&o.FreezeAllButLast, "freeze-all-but-last", false, "freeze every layer but the last")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the shuffling")
	f.StringVar(&o.Plot, "plot", "", "write the training history plot to this PNG file")
	return cmd
}

func runTrain(o *trainOptions) error {
	if o.X == "" || o.Y == "" || o.Output == "" {
		return fmt.Errorf("train: --x, --y and -o are required")
	}
	format, err := modelfile.Detect(o.Model)
	if err != nil {
		return err
	}
	var m *train.Model
	var compileCfg []byte
	if format == modelfile.ONNX {
		om, err := onnx.Load(o.Model)
		if err != nil {
			return err
		}
		if m, err = lift.Lift(om.Graph); err != nil {
			return fmt.Errorf("train: %s cannot be trained: %w", o.Model, err)
		}
		fmt.Fprintf(o.Out, "%s: ONNX graph lifted to %d Keras layers\n", o.Model, len(m.Layers()))
	} else if m, compileCfg, err = loadKeras(o.Model); err != nil {
		return err
	}
	layers := m.Layers()
	for _, name := range o.Freeze {
		if p, ok := strings.CutSuffix(name, "*"); ok {
			if m.FreezePrefix(p) == 0 {
				return fmt.Errorf("train: --freeze %s: no layer name starts with %q", name, p)
			}
		} else if err := m.Freeze(name); err != nil {
			return err
		}
	}
	if o.FreezeAllButLast {
		for _, l := range layers[:len(layers)-1] {
			if err := m.Freeze(l.Name()); err != nil {
				return err
			}
		}
	}
	if o.Loss == "" && compileCfg != nil {
		if err := m.CompileFromConfig(compileCfg); err != nil {
			return err
		}
		if o.LR > 0 {
			if err := m.Optimizer().SetLearningRate(o.LR); err != nil {
				return err
			}
		}
		how := "compiled from the stored settings"
		if m.OptimizerRestored() {
			how += ", optimizer state restored"
		}
		fmt.Fprintf(o.Out, "%s (%s)\n", how, m.Optimizer().Name())
	} else {
		if o.Loss == "" {
			return fmt.Errorf("train: %s stores no compile settings; give --loss", o.Model)
		}
		cfg, _ := json.Marshal(map[string]any{"class_name": o.Optimizer, "config": map[string]any{}})
		if o.LR > 0 {
			cfg, _ = json.Marshal(map[string]any{"class_name": o.Optimizer, "config": map[string]any{"learning_rate": o.LR}})
		}
		opt, err := optimizer.FromConfig(cfg)
		if err != nil {
			return err
		}
		l, err := loss.Get(o.Loss)
		if err != nil {
			return err
		}
		if err := m.Compile(opt, l, o.Metrics); err != nil {
			return err
		}
	}
	if err := m.Summary(o.Out); err != nil {
		return err
	}
	load := func(p string) (*tensor.Tensor, error) {
		if p == "" {
			return nil, nil
		}
		return npy.Load(p)
	}
	x, err := load(o.X)
	if err != nil {
		return err
	}
	y, err := load(o.Y)
	if err != nil {
		return err
	}
	fo := train.FitOptions{Epochs: o.Epochs, BatchSize: o.Batch, Seed: o.Seed, ValidationSplit: o.ValSplit, Out: o.Out}
	if o.ValX != "" {
		vx, err := load(o.ValX)
		if err != nil {
			return err
		}
		vy, err := load(o.ValY)
		if err != nil {
			return err
		}
		if vy == nil {
			return fmt.Errorf("train: --val-x needs --val-y")
		}
		fo.ValidationX, fo.ValidationY = []*tensor.Tensor{vx}, []*tensor.Tensor{vy}
	}
	h, err := m.Fit([]*tensor.Tensor{x}, []*tensor.Tensor{y}, fo)
	if err != nil {
		return err
	}
	if o.Plot != "" {
		if err := h.Plot(o.Plot, m.Name()); err != nil {
			return err
		}
	}
	switch strings.ToLower(filepath.Ext(o.Output)) {
	case ".onnx":
		g, err := m.Graph()
		if err != nil {
			return err
		}
		err = onnx.Save(o.Output, g, onnx.ExportOptions{})
		if err != nil {
			return err
		}
	case ".h5", ".hdf5", ".keras":
		if err := saveKeras(m, o.Output); err != nil {
			return err
		}
	default:
		return fmt.Errorf("train: -o %s: the extension must be .h5, .keras or .onnx", o.Output)
	}
	fmt.Fprintf(o.Out, "saved %s\n", o.Output)
	return nil
}
