package main

import (
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/runtime/pass"
	"github.com/spf13/cobra"
)

// passFlags are the graph-pass options every subcommand shares.
type passFlags struct {
	Level   int
	Disable []string
}

// options returns the pass options, checking the pass names.
func (f *passFlags) options() (*pass.Options, error) {
	po := &pass.Options{Level: f.Level, Disable: f.Disable}
	if _, err := pass.Apply(&graph.Graph{}, *po); err != nil {
		return nil, err
	}
	return po, nil
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "krun",
		Short:         "Run, benchmark and check ONNX and Keras models on kiln's runtime",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	pf := &passFlags{}
	root.PersistentFlags().IntVar(&pf.Level, "passes", pass.MaxLevel, "apply graph passes up to this level (0 none, 1 cleanups, 2 fusions, 3 layout)")
	root.PersistentFlags().StringSliceVar(&pf.Disable, "disable-pass", nil, "graph passes not to run: "+strings.Join(pass.Names(), ", "))
	root.AddCommand(newRunCmd(pf, nil), newConformanceCmd(pf, nil), newBenchCmd(pf, nil), newServeCmd(pf, nil), newTrainCmd(nil))
	return root
}
