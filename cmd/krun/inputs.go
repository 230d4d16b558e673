package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// bindInputs maps -i arguments (NAME=FILE or FILE, positional in graph
// input order) to graph inputs and loads the files (.npy, or ONNX .pb).
func bindInputs(g *graph.Graph, args []string) (map[string]ops.Value, error) {
	out := map[string]ops.Value{}
	pos := 0
	for _, a := range args {
		name, file := "", a
		if i := strings.IndexByte(a, '='); i > 0 && !strings.ContainsAny(a[:i], "/\\") {
			name, file = a[:i], a[i+1:]
		}
		var in *graph.Value
		if name != "" {
			for _, v := range g.Inputs {
				if v.Name == name {
					in = v
				}
			}
			if in == nil {
				return nil, fmt.Errorf("input %q: the model has no such input; its inputs are %s", name, inputList(g))
			}
		} else {
			if pos >= len(g.Inputs) {
				return nil, fmt.Errorf("input file %s: the model takes only %d inputs (%s)", file, len(g.Inputs), inputList(g))
			}
			in = g.Inputs[pos]
			pos++
		}
		v, err := loadValue(file, &in.Type)
		if err != nil {
			return nil, err
		}
		out[in.Name] = v
	}
	return out, nil
}

func loadValue(file string, typ *graph.Type) (ops.Value, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".npy":
		return npy.Load(file)
	case ".pb":
		return onnx.LoadValue(file, typ)
	}
	return nil, fmt.Errorf("input file %s: unknown extension (want .npy or .pb)", file)
}

func inputList(g *graph.Graph) string {
	var s []string
	for _, v := range g.Inputs {
		s = append(s, fmt.Sprintf("%s %s", v.Name, v.Type))
	}
	return strings.Join(s, ", ")
}

// summarize renders a value for the terminal: dtype, shape, a few values.
func summarize(v ops.Value) string {
	switch x := v.(type) {
	case *tensor.Tensor:
		return x.String()
	case *ops.Sequence:
		return fmt.Sprintf("sequence of %d tensors", len(x.Items))
	case *ops.Optional:
		if x.Value == nil {
			return "empty optional"
		}
		return "optional " + summarize(x.Value)
	}
	return fmt.Sprintf("%T", v)
}
