package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/spf13/cobra"
)

type inspectOptions struct {
	Model string
	// Arch is a Keras architecture JSON for a weights-only .h5 file.
	Arch string
	Out  io.Writer
}

// inspectKeras prints a Keras file (.h5, .keras, architecture JSON); it is
// set by the cgo build, which links formats/h5.
var inspectKeras func(o *inspectOptions) error

func newInspectCmd(runF func(*inspectOptions) error) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Print a model's inputs, outputs, opsets, op histogram and parameter count (Keras files: the Keras summary)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			o.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(o)
			}
			return runInspect(o)
		},
	}
	cmd.Flags().StringVar(&o.Arch, "arch", "", "architecture JSON (model.to_json()) for a weights-only Keras .h5 file")
	return cmd
}

func runInspect(o *inspectOptions) error {
	format, err := modelfile.Detect(o.Model)
	if err != nil {
		return err
	}
	if format == modelfile.HDF5 || format == modelfile.Keras || o.Arch != "" || isJSON(o.Model) {
		if inspectKeras == nil {
			return fmt.Errorf("kconv: %s is a Keras file: %w; use a kconv built with cgo and libhdf5", o.Model, modelfile.ErrNeedsCgo)
		}
		return inspectKeras(o)
	}
	g, info, err := modelfile.Inspect(o.Model)
	if err != nil {
		return err
	}
	w := o.Out
	fmt.Fprintf(w, "model:     %s (%s)\n", o.Model, info.Format)
	if p := strings.TrimSpace(info.Producer); p != "" {
		fmt.Fprintf(w, "producer:  %s\n", p)
	}
	if info.IR > 0 {
		fmt.Fprintf(w, "ir:        %d\n", info.IR)
	}
	if len(info.Opsets) > 0 {
		var parts []string
		for _, d := range sortedKeys(info.Opsets) {
			name := d
			if name == "" {
				name = "ai.onnx"
			}
			parts = append(parts, fmt.Sprintf("%s %d", name, info.Opsets[d]))
		}
		fmt.Fprintf(w, "opsets:    %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w, "\ninputs:")
	for _, v := range g.Inputs {
		fmt.Fprintf(w, "  %-30s %s\n", v.Name, v.Type)
	}
	fmt.Fprintln(w, "outputs:")
	for _, v := range g.Outputs {
		fmt.Fprintf(w, "  %-30s %s\n", v.Name, v.Type)
	}
	hist := map[string]int{}
	nodes := 0
	g.Walk(func(_ *graph.Graph, n *graph.Node) {
		op := n.Op
		if n.Domain != "" {
			op = n.Domain + ":" + op
		}
		hist[op]++
		nodes++
	})
	fmt.Fprintf(w, "\nops (%d nodes):\n", nodes)
	type kv struct {
		k string
		v int
	}
	var hs []kv
	for k, v := range hist {
		hs = append(hs, kv{k, v})
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].v != hs[j].v {
			return hs[i].v > hs[j].v
		}
		return hs[i].k < hs[j].k
	})
	for _, h := range hs {
		fmt.Fprintf(w, "  %6d  %s\n", h.v, h.k)
	}
	var count, bytes, trainable int64
	for _, p := range g.Params {
		n := int64(p.Tensor.Len())
		count += n
		bytes += n * int64(p.Tensor.DType().Size())
		if p.Trainable {
			trainable += n
		}
	}
	if len(info.Unsupported) > 0 {
		fmt.Fprintf(w, "\nkiln cannot run %d nodes yet:\n", len(info.Unsupported))
		for _, u := range info.Unsupported {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	fmt.Fprintf(w, "\nparameters: %s in %d tensors (%s); %s float (trainable)\n", commas(count), len(g.Params), humanBytes(bytes), commas(trainable))
	return nil
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isJSON reports whether a file starts like a JSON document (a Keras
// architecture written by model.to_json()).
func isJSON(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := f.Read(head)
	t := strings.TrimLeft(string(head[:n]), " \t\r\n\ufeff")
	return strings.HasPrefix(t, "{")
}
