package autodiff

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
)

// layerCase is a Keras layer built from its config, lowered with
// layer.NewBuilder, with its trainable weights turned into graph inputs and
// the whole graph promoted to float64, then gradient-checked with respect
// to its inputs and trainable weights.
type layerCase struct {
	class  string
	config string
	in     [][]int // concrete input shapes, batch first
	// ids makes input i integer token ids in [0, ids).
	ids int
	// noInputGrad skips the inputs (integer inputs, or inputs whose
	// gradient is not wanted).
	noInputGrad bool
}

func decodeLayer(t *testing.T, class, config string) layer.Layer {
	t.Helper()
	ctx := &layer.DecodeContext{Version: layer.Version{Major: 3, Minor: 6, Backend: "tensorflow"}}
	ctx.Layer = func(raw json.RawMessage) (layer.Layer, error) {
		var c struct {
			ClassName string          `json:"class_name"`
			Config    json.RawMessage `json:"config"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return layer.New(c.ClassName, c.Config, ctx)
	}
	l, err := layer.New(class, json.RawMessage(config), ctx)
	if err != nil {
		t.Fatalf("decode %s: %v", class, err)
	}
	return l
}

func (c layerCase) run(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	l := decodeLayer(t, c.class, c.config)
	var shapes []layer.Shape
	for _, s := range c.in {
		ks := append(layer.Shape{-1}, s[1:]...)
		shapes = append(shapes, ks)
	}
	if _, err := l.Build(shapes); err != nil {
		t.Fatalf("build: %v", err)
	}
	owned := map[*tensor.Tensor]*layer.Weight{}
	for _, w := range l.Weights() {
		v := w.Value.F32()
		for i := range v {
			v[i] = float32(rng.Float64() - 0.5)
			if strings.Contains(w.Name, "variance") {
				v[i] = float32(0.5 + rng.Float64())
			}
		}
		owned[w.Value] = w
	}
	g := &graph.Graph{Name: c.class}
	b := layer.NewBuilder(g)
	b.Layer = l
	b.Version = layer.Version{Major: 3, Minor: 6, Backend: "tensorflow"}
	feeds := map[string]*tensor.Tensor{}
	var tin []layer.Tensor
	var wrt []string
	for i, s := range c.in {
		name := fmt.Sprintf("in%d", i)
		n := tensor.Shape(s).Size()
		var x *tensor.Tensor
		dt := tensor.Float32
		if c.ids > 0 {
			dt = tensor.Int32
			v := rng.Perm(c.ids)
			ids := make([]int32, n)
			for j := range ids {
				ids[j] = int32(v[j%len(v)])
			}
			x = tensor.Must(tensor.Shape(s), ids)
		} else {
			v := make([]float64, n)
			for j := range v {
				v[j] = rng.Float64()*2 - 1
			}
			x = tensor.FromFloat64s(tensor.Float64, s, v)
			if !c.noInputGrad {
				wrt = append(wrt, name)
			}
		}
		g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(dt, s...)})
		feeds[name] = x
		tin = append(tin, layer.Tensor{Name: name, Shape: shapes[i], DType: dt})
	}
	outs, err := l.Lower(b, tin)
	if err != nil {
		t.Fatalf("lower: %v", err)
	}
	// Trainable weights become graph inputs, as in a training graph.
	var params []*graph.Param
	for _, p := range g.Params {
		if w := owned[p.Tensor]; w != nil && w.Trainable {
			x := tensor.FromFloat64s(tensor.Float64, p.Tensor.Shape(), p.Tensor.Float64s())
			g.Inputs = append(g.Inputs, &graph.Value{Name: p.Name, Type: graph.TensorType(tensor.Float64, p.Tensor.Shape()...)})
			feeds[p.Name] = x
			wrt = append(wrt, p.Name)
			continue
		}
		params = append(params, p)
	}
	g.Params = params
	promote64(g)
	if len(wrt) == 0 {
		t.Fatal("nothing to check")
	}
	t.Logf("checking %v", wrt)
	checkGrad(t, g, outs[0].Name, feeds, wrt)
}

// promote64 rewrites a float32 graph to float64: params, input and value
// types, Cast targets and tensor attributes (ConstantOfShape's value), in
// subgraphs too.
func promote64(g *graph.Graph) {
	ty := func(t graph.Type) graph.Type {
		if t.DType == tensor.Float32 {
			t.DType = tensor.Float64
		}
		return t
	}
	for _, v := range g.Inputs {
		v.Type = ty(v.Type)
	}
	for _, v := range g.Outputs {
		v.Type = ty(v.Type)
	}
	for k, v := range g.Types {
		g.Types[k] = ty(v)
	}
	for _, p := range g.Params {
		if p.Tensor.DType() == tensor.Float32 {
			p.Tensor = tensor.FromFloat64s(tensor.Float64, p.Tensor.Shape(), p.Tensor.Float64s())
		}
	}
	for _, n := range g.Nodes {
		if n.Op == "Cast" && n.Attrs.Int("to", 0) == int64(tensor.Float32) {
			n.Attrs["to"] = int64(tensor.Float64)
		}
		for key, v := range n.Attrs {
			switch a := v.(type) {
			case *tensor.Tensor:
				if a.DType() == tensor.Float32 {
					n.Attrs[key] = tensor.FromFloat64s(tensor.Float64, a.Shape(), a.Float64s())
				}
			case *graph.Graph:
				promote64(a)
			case []*graph.Graph:
				for _, s := range a {
					promote64(s)
				}
			}
		}
	}
}

func TestGradLayers(t *testing.T) {
	cases := map[string]layerCase{
		"Dense":              {class: "Dense", config: `{"name": "d", "units": 4, "activation": "tanh"}`, in: [][]int{{3, 5}}},
		"Dense3D":            {class: "Dense", config: `{"name": "d", "units": 2, "activation": "relu"}`, in: [][]int{{2, 3, 4}}},
		"EinsumDense":        {class: "EinsumDense", config: `{"name": "ed", "equation": "abc,cd->abd", "output_shape": [null, 3], "bias_axes": "d"}`, in: [][]int{{2, 4, 5}}},
		"Conv1D":             {class: "Conv1D", config: `{"name": "c", "filters": 3, "kernel_size": [3], "strides": [2], "padding": "same", "activation": "sigmoid"}`, in: [][]int{{2, 7, 2}}},
		"Conv2D":             {class: "Conv2D", config: `{"name": "c", "filters": 3, "kernel_size": [3, 2], "padding": "valid", "dilation_rate": [1, 2]}`, in: [][]int{{2, 5, 6, 2}}},
		"Conv3D":             {class: "Conv3D", config: `{"name": "c", "filters": 2, "kernel_size": [2, 2, 2], "strides": [1, 2, 1], "padding": "same"}`, in: [][]int{{1, 3, 4, 3, 2}}},
		"DepthwiseConv2D":    {class: "DepthwiseConv2D", config: `{"name": "c", "kernel_size": [3, 3], "depth_multiplier": 2, "padding": "same"}`, in: [][]int{{2, 4, 4, 3}}},
		"SeparableConv2D":    {class: "SeparableConv2D", config: `{"name": "c", "filters": 4, "kernel_size": [3, 3], "depth_multiplier": 1, "padding": "valid"}`, in: [][]int{{1, 5, 5, 2}}},
		"Conv2DTranspose":    {class: "Conv2DTranspose", config: `{"name": "c", "filters": 3, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}`, in: [][]int{{2, 3, 3, 2}}},
		"BatchNormalization": {class: "BatchNormalization", config: `{"name": "bn", "axis": -1, "epsilon": 0.001}`, in: [][]int{{4, 3}}},
		"LayerNormalization": {class: "LayerNormalization", config: `{"name": "ln", "axis": [-1], "epsilon": 0.001}`, in: [][]int{{3, 2, 5}}},
		"Embedding":          {class: "Embedding", config: `{"name": "e", "input_dim": 7, "output_dim": 3}`, in: [][]int{{2, 4}}, ids: 7},
		"PReLU":              {class: "PReLU", config: `{"name": "p"}`, in: [][]int{{3, 4}}},
		"SimpleRNN":          {class: "SimpleRNN", config: `{"name": "r", "units": 3, "return_sequences": true}`, in: [][]int{{2, 4, 3}}},
		"LSTM":               {class: "LSTM", config: `{"name": "r", "units": 3}`, in: [][]int{{2, 4, 3}}},
		"LSTMSeq":            {class: "LSTM", config: `{"name": "r", "units": 2, "return_sequences": true, "go_backwards": true}`, in: [][]int{{2, 3, 3}}},
		"GRU":                {class: "GRU", config: `{"name": "r", "units": 3, "return_sequences": true}`, in: [][]int{{2, 4, 3}}},
		"GRUResetBefore":     {class: "GRU", config: `{"name": "r", "units": 2, "reset_after": false}`, in: [][]int{{2, 3, 3}}},
		"Bidirectional":      {class: "Bidirectional", config: `{"name": "bi", "merge_mode": "concat", "layer": {"class_name": "LSTM", "config": {"name": "f", "units": 2, "return_sequences": true}}}`, in: [][]int{{2, 3, 3}}},
		"MultiHeadAttention": {class: "MultiHeadAttention", config: `{"name": "mha", "num_heads": 2, "key_dim": 3}`, in: [][]int{{2, 4, 5}, {2, 3, 5}}},
	}
	for name, c := range cases {
		t.Run(name, c.run)
	}
}
