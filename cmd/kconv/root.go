package main

import "github.com/spf13/cobra"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:          "kconv",
		Short:        "Inspect and convert ONNX and Keras model files",
		SilenceUsage: true,
	}
	root.AddCommand(newInspectCmd(nil), newConvertCmd(nil))
	return root
}
