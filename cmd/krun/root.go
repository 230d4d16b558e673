package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "krun",
		Short:         "Run, benchmark and check ONNX and Keras models on kiln's runtime",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newRunCmd(nil), newConformanceCmd(nil), newBenchCmd(nil), newServeCmd(nil))
	return root
}
