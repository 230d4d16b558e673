package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/internal/verify"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/spf13/cobra"
)

type convertOptions struct {
	In, Output string
	Arch       string
	Opset      int
	NoVerify   bool
	Batch      int
	Dim        int
	Seed       uint64
	Tol        float64
	Out        io.Writer
}

func newConvertCmd(runF func(*convertOptions) error) *cobra.Command {
	o := &convertOptions{}
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert a model to another format (chosen by OUT's extension: .onnx, .h5, .keras)",
		Long: `Convert a model file. IN is any model kiln reads (.onnx, Keras .h5 or .keras; the
format is detected from the content); OUT's extension chooses the output format.
ONNX output uses the lowest opset (at least 13) that expresses the model, or --opset.
Keras output (.h5 legacy HDF5, .keras Keras 3 archive) writes a Keras model as Keras
saves it; an ONNX model is first lifted to Keras layers, and a node that cannot be
lifted is named in the error.

After writing, the output is reloaded and both models are run on the same seeded
random inputs of the declared shapes (unknown leading dimension --batch, other
unknown dimensions --dim); the max abs difference of each output is printed and
the command fails when one exceeds --tol. --no-verify skips this.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.In, o.Output = args[0], args[1]
			o.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(o)
			}
			return runConvert(o)
		},
	}
	cmd.Flags().StringVar(&o.Arch, "arch", "", "Keras architecture JSON for a weights-only .h5")
	cmd.Flags().IntVar(&o.Opset, "opset", 0, "ONNX opset to write (default: the lowest that expresses the model)")
	cmd.Flags().BoolVar(&o.NoVerify, "no-verify", false, "do not reload and compare the output with the input model")
	cmd.Flags().IntVar(&o.Batch, "batch", 2, "size of an unknown leading dimension when verifying")
	cmd.Flags().IntVar(&o.Dim, "dim", 1, "size of other unknown dimensions when verifying")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "seed of the random verification inputs")
	cmd.Flags().Float64Var(&o.Tol, "tol", 1e-5, "largest max abs difference verification accepts")
	return cmd
}

func runConvert(o *convertOptions) error {
	ext := strings.ToLower(filepath.Ext(o.Output))
	switch ext {
	case ".onnx":
	case ".h5", ".hdf5", ".keras":
		if saveKeras == nil {
			return fmt.Errorf("kconv: cannot write %q: this kconv was built without cgo, and Keras files need libhdf5; rebuild with CGO_ENABLED=1", o.Output)
		}
		g, _, err := modelfile.LoadWith(o.In, modelfile.LoadOptions{Arch: o.Arch})
		if err != nil {
			return err
		}
		if err := saveKeras(o); err != nil {
			return err
		}
		return verifyOutput(o, g)
	default:
		return fmt.Errorf("kconv: cannot write %q: unknown output format %q (kconv writes .onnx, .h5, .hdf5 and .keras)", o.Output, ext)
	}
	g, info, err := modelfile.LoadWith(o.In, modelfile.LoadOptions{Arch: o.Arch})
	if err != nil {
		return err
	}
	opts := onnx.ExportOptions{Opset: o.Opset, ProducerName: "kiln kconv", Metadata: map[string]string{"kiln.source_format": string(info.Format)}}
	if p := strings.TrimSpace(info.Producer); p != "" {
		opts.Metadata["kiln.source_producer"] = p
	}
	mp, err := onnx.Export(g, opts)
	if err != nil {
		return err
	}
	if err := onnx.SaveModel(o.Output, mp); err != nil {
		return err
	}
	var opset int64
	for _, s := range mp.GetOpsetImport() {
		if s.GetDomain() == "" {
			opset = s.GetVersion()
		}
	}
	fmt.Fprintf(o.Out, "wrote %s (ONNX opset %d, IR %d, %d nodes, %d initializers)\n", o.Output, opset, mp.GetIrVersion(), len(mp.GetGraph().GetNode()), len(mp.GetGraph().GetInitializer()))
	return verifyOutput(o, g)
}

// saveKeras writes o.In as the Keras file o.Output (set when built with
// cgo).
var saveKeras func(o *convertOptions) error

// verifyOutput reloads o.Output and compares it with the source graph g on
// seeded random inputs, printing the max abs difference of each output.
func verifyOutput(o *convertOptions, g *graph.Graph) error {
	if o.NoVerify {
		return nil
	}
	g2, _, err := modelfile.Load(o.Output)
	if err != nil {
		return fmt.Errorf("kconv: reloading %s: %w", o.Output, err)
	}
	diffs, err := verify.Compare(g, g2, verify.Options{Seed: o.Seed, Batch: o.Batch, Dim: o.Dim})
	if err != nil {
		return fmt.Errorf("kconv: verifying %s: %w", o.Output, err)
	}
	fmt.Fprintf(o.Out, "verify (seed %d):\n", o.Seed)
	worst := 0.0
	for _, d := range diffs {
		fmt.Fprintf(o.Out, "  %-30s %-16v max abs diff %.3g\n", d.Name, d.Shape, d.MaxAbs)
		if math.IsNaN(d.MaxAbs) || d.MaxAbs > worst {
			worst = d.MaxAbs
		}
	}
	if math.IsNaN(worst) || worst > o.Tol {
		return fmt.Errorf("kconv: %s differs from %s by %.3g, more than --tol %g", o.Output, o.In, worst, o.Tol)
	}
	return nil
}
