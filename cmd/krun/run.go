package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/spf13/cobra"
)

type runOptions struct {
	passes  *passFlags
	Model   string
	Inputs  []string
	OutDir  string
	Threads int
	Out     io.Writer
}

func newRunCmd(pf *passFlags, runF func(*runOptions) error) *cobra.Command {
	o := &runOptions{passes: pf}
	cmd := &cobra.Command{
		Use:   "run MODEL [INPUT_FILE]... [-i NAME=FILE]... [-o DIR]",
		Short: "Run a model on input tensors (.npy or ONNX .pb) and write its outputs as .npy",
		Long: `Run a model once. Inputs are .npy files or ONNX TensorProto .pb files, given as
NAME=FILE with -i, or as plain files (after MODEL or with -i) bound to the model's
inputs in order. Outputs are written to
DIR/<output name>.npy when -o is given, and summarised on stdout.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			o.Inputs = append(args[1:], o.Inputs...)
			o.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(o)
			}
			return runRun(o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.Inputs, "input", "i", nil, "input tensor as NAME=FILE or FILE (repeatable)")
	cmd.Flags().StringVarP(&o.OutDir, "output-dir", "o", "", "directory to write <output>.npy files into")
	cmd.Flags().IntVar(&o.Threads, "threads", 0, "compute threads (default: number of CPUs)")
	return cmd
}

func runRun(o *runOptions) error {
	g, _, err := modelfile.Load(o.Model)
	if err != nil {
		return err
	}
	po, err := o.passes.options()
	if err != nil {
		return err
	}
	prog, err := runtime.Compile(g, runtime.Options{Threads: o.Threads, Passes: po})
	if err != nil {
		return err
	}
	inputs, err := bindInputs(g, o.Inputs)
	if err != nil {
		return err
	}
	start := time.Now()
	outs, err := prog.RunValues(context.Background(), inputs)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if o.OutDir != "" {
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			return err
		}
	}
	for _, v := range g.Outputs {
		val := outs[v.Name]
		fmt.Fprintf(o.Out, "%s: %s\n", v.Name, summarize(val))
		if o.OutDir != "" {
			t, ok := val.(*tensor.Tensor)
			if !ok {
				fmt.Fprintf(o.Out, "  (not written: %s is not a tensor)\n", v.Name)
				continue
			}
			p := filepath.Join(o.OutDir, safeName(v.Name)+".npy")
			if err := npy.Save(p, t); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(o.Out, "ran in %.3f ms\n", float64(elapsed.Microseconds())/1000)
	return nil
}

// safeName turns an output name into a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' || c == '\\' || c == ':' || c == 0 {
			b[i] = '_'
		}
	}
	if len(b) == 0 || string(b) == "." || string(b) == ".." {
		return "output"
	}
	return string(b)
}
