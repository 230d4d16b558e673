package lift_test

import (
	"errors"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/verify"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/lift"
)

// Keras-written models (the training references and a few corpus files)
// are lowered to graphs, exported to ONNX, imported back and lifted; the
// lifted Keras model must compute what the Keras model computes (1e-5
// absolute: the same float32 arithmetic, reassociated where the lifted
// layers lower differently, e.g. a BatchNormalization rebuilt from its
// weights).
func TestLiftKerasThroughONNX(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testpaths.Shared("reference", "train"), "*", "model_init.h5"))
	files = append(files,
		testpaths.Shared("corpus", "keras", "KonduitAI-dl4j-test-resources", "src", "main", "resources", "modelimport", "keras", "examples", "gans", "wgan_discriminator.h5"),
	)
	if len(files) == 0 {
		t.Skip("no Keras files")
	}
	tmp := t.TempDir()
	pass, fail := 0, 0
	for i, f := range files {
		m, err := h5.Load(f, h5.Options{})
		if err != nil {
			t.Logf("%s: not loaded: %v", f, err)
			continue
		}
		g, err := m.Graph()
		if err != nil {
			t.Fatal(err)
		}
		for _, via := range []string{"graph", "onnx"} {
			src := g
			if via == "onnx" {
				p := filepath.Join(tmp, strings.Repeat("m", i+1)+".onnx")
				if err := onnx.Save(p, g, onnx.ExportOptions{}); err != nil {
					t.Errorf("%s: export: %v", f, err)
					continue
				}
				om, err := onnx.Load(p)
				if err != nil {
					t.Errorf("%s: import: %v", f, err)
					continue
				}
				src = om.Graph
			}
			lm, err := lift.Lift(src)
			if err != nil {
				fail++
				t.Logf("FAIL %s via %s: %v", f, via, err)
				continue
			}
			lg, err := lm.Graph()
			if err != nil {
				t.Errorf("%s via %s: lifted graph: %v", f, via, err)
				continue
			}
			diffs, err := verify.Compare(g, lg, verify.Options{Seed: uint64(i + 1)})
			if err != nil {
				t.Errorf("%s via %s: %v", f, via, err)
				continue
			}
			ok := true
			for _, d := range diffs {
				if !(d.MaxAbs <= 1e-5) {
					ok = false
					t.Errorf("%s via %s: output %s differs by %g", f, via, d.Name, d.MaxAbs)
				}
			}
			if ok {
				pass++
			} else {
				fail++
			}
		}
	}
	t.Logf("lift: %d passed, %d failed", pass, fail)
}

func TestLiftErrorNamesNode(t *testing.T) {
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 4)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, 4)}},
		Nodes:   []*graph.Node{{Name: "weird_7", Op: "Erf", Inputs: []string{"x"}, Outputs: []string{"y"}}},
	}
	_, err := lift.Lift(g)
	if err == nil || !strings.Contains(err.Error(), `"weird_7"`) || !errors.Is(err, layer.ErrUnsupported) {
		t.Fatalf("err = %v, want an ErrUnsupported naming node weird_7", err)
	}
}

func TestLiftPatterns(t *testing.T) {
	// x (N,1,6,6) NCHW -> Conv(2 filters, 3x3, pads 1) -> Relu -> MaxPool 2 -> Flatten -> Gemm(transB) -> Softmax
	w := make([]float32, 2*1*3*3)
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	fc := make([]float32, 3*18)
	for i := range fc {
		fc[i] = float32(i%7)/7 - 0.5
	}
	g := &graph.Graph{
		Name:    "pat",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 1, 6, 6)}},
		Outputs: []*graph.Value{{Name: "p", Type: graph.TensorType(tensor.Float32, -1, 3)}},
		Params: []*graph.Param{
			{Name: "W", Tensor: tensor.From(tensor.Shape{2, 1, 3, 3}, w)},
			{Name: "B", Tensor: tensor.From(tensor.Shape{2}, []float32{0.1, -0.2})},
			{Name: "FC", Tensor: tensor.From(tensor.Shape{3, 18}, fc)},
			{Name: "FB", Tensor: tensor.From(tensor.Shape{3}, []float32{0, 1, 2})},
		},
		Nodes: []*graph.Node{
			{Name: "conv", Op: "Conv", Inputs: []string{"x", "W", "B"}, Outputs: []string{"c"}, Attrs: graph.Attrs{"pads": []int64{1, 1, 1, 1}}},
			{Name: "relu", Op: "Relu", Inputs: []string{"c"}, Outputs: []string{"r"}},
			{Name: "pool", Op: "MaxPool", Inputs: []string{"r"}, Outputs: []string{"m"}, Attrs: graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}},
			{Name: "flat", Op: "Flatten", Inputs: []string{"m"}, Outputs: []string{"f"}},
			{Name: "fc", Op: "Gemm", Inputs: []string{"f", "FC", "FB"}, Outputs: []string{"z"}, Attrs: graph.Attrs{"transB": int64(1)}},
			{Name: "sm", Op: "Softmax", Inputs: []string{"z"}, Outputs: []string{"p"}},
		},
	}
	m, err := lift.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, l := range m.Layers() {
		classes = append(classes, l.Class())
	}
	t.Logf("lifted layers: %v", classes)
	compareLifted(t, g, m, verify.Options{Seed: 3}, 1e-5)
}

// Grouped and depthwise convolutions and embedding lookups lift to Keras
// layers that compute the same function.
func TestLiftGroupsAndEmbedding(t *testing.T) {
	vals := func(n int, f func(i int) float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	conv := &graph.Graph{
		Name:    "groups",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 4, 7, 7)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, 6, 5, 5)}},
		Params: []*graph.Param{
			// depthwise: 4 channels, multiplier 2 -> 8; grouped: 8 -> 6 in 2 groups.
			{Name: "DW", Tensor: tensor.From(tensor.Shape{8, 1, 3, 3}, vals(72, func(i int) float32 { return float32(i%11)/11 - 0.4 }))},
			{Name: "DB", Tensor: tensor.From(tensor.Shape{8}, vals(8, func(i int) float32 { return float32(i) / 10 }))},
			{Name: "GW", Tensor: tensor.From(tensor.Shape{6, 4, 1, 1}, vals(24, func(i int) float32 { return float32(i%5)/5 - 0.3 }))},
		},
		Nodes: []*graph.Node{
			{Name: "dw", Op: "Conv", Inputs: []string{"x", "DW", "DB"}, Outputs: []string{"d"}, Attrs: graph.Attrs{"group": int64(4)}},
			{Name: "gc", Op: "Conv", Inputs: []string{"d", "GW"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"group": int64(2)}},
		},
	}
	emb := &graph.Graph{
		Name:    "emb",
		Inputs:  []*graph.Value{{Name: "ids", Type: graph.TensorType(tensor.Int64, -1, 5)}},
		Outputs: []*graph.Value{{Name: "e", Type: graph.TensorType(tensor.Float32, -1, 5, 3)}},
		Params:  []*graph.Param{{Name: "T", Tensor: tensor.From(tensor.Shape{10, 3}, vals(30, func(i int) float32 { return float32(i) / 7 }))}},
		Nodes:   []*graph.Node{{Name: "g", Op: "Gather", Inputs: []string{"T", "ids"}, Outputs: []string{"e"}}},
	}
	for _, c := range []struct {
		g    *graph.Graph
		want []string
	}{{conv, []string{"DepthwiseConv2D", "Conv2D"}}, {emb, []string{"Embedding"}}} {
		m, err := lift.Lift(c.g)
		if err != nil {
			t.Fatalf("%s: %v", c.g.Name, err)
		}
		var classes []string
		for _, l := range m.Layers() {
			if l.Class() != "InputLayer" && l.Class() != "Permute" {
				classes = append(classes, l.Class())
			}
		}
		if strings.Join(classes, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: lifted %v, want %v", c.g.Name, classes, c.want)
		}
		compareLifted(t, c.g, m, verify.Options{Seed: 5}, 1e-5)
	}
}

// Clip(x, 0, 6) lifts to ReLU(max_value=6); a padded max pooling of its
// non-negative output and a padded average pooling that counts the padding
// lift to ZeroPadding2D + valid pooling; a padded max pooling of values
// that may be negative is refused by name.
func TestLiftClipAndPaddedPooling(t *testing.T) {
	w := make([]float32, 3*2*3*3)
	for i := range w {
		w[i] = float32(i%9)/4 - 1
	}
	mk := func(clip bool) *graph.Graph {
		g := &graph.Graph{
			Name:    "pads",
			Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 2, 8, 8)}},
			Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, 3, 4, 4)}},
			Params: []*graph.Param{
				{Name: "W", Tensor: tensor.From(tensor.Shape{3, 2, 3, 3}, w)},
				{Name: "lo", Tensor: tensor.Scalar(float32(0))},
				{Name: "hi", Tensor: tensor.Scalar(float32(6))},
			},
		}
		src := "c"
		g.Nodes = append(g.Nodes, &graph.Node{Name: "conv", Op: "Conv", Inputs: []string{"x", "W"}, Outputs: []string{"c"}, Attrs: graph.Attrs{"pads": []int64{1, 1, 1, 1}}})
		if clip {
			g.Nodes = append(g.Nodes, &graph.Node{Name: "relu6", Op: "Clip", Inputs: []string{"c", "lo", "hi"}, Outputs: []string{"r"}})
			src = "r"
		}
		g.Nodes = append(g.Nodes,
			&graph.Node{Name: "max", Op: "MaxPool", Inputs: []string{src}, Outputs: []string{"m"}, Attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}},
			&graph.Node{Name: "avg", Op: "AveragePool", Inputs: []string{"m"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "pads": []int64{1, 1, 1, 1}, "count_include_pad": int64(1)}},
		)
		return g
	}
	g := mk(true)
	m, err := lift.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, l := range m.Layers() {
		if l.Class() != "InputLayer" && l.Class() != "Permute" {
			classes = append(classes, l.Class())
		}
	}
	if got, want := strings.Join(classes, " "), "ZeroPadding2D Conv2D ReLU ZeroPadding2D MaxPooling2D ZeroPadding2D AveragePooling2D"; got != want {
		t.Errorf("lifted %s, want %s", got, want)
	}
	compareLifted(t, g, m, verify.Options{Seed: 9}, 1e-5)
	_, err = lift.Lift(mk(false))
	if !errors.Is(err, layer.ErrUnsupported) || !strings.Contains(err.Error(), `"max"`) {
		t.Errorf("a padded max pooling of a convolution's output: %v, want an error naming node max", err)
	}
}

// ONNX LSTM and GRU nodes as PyTorch exports them (time-major input, zero
// initial states built from the input's shape, the direction axis dropped
// by Squeeze or Gather) lift to Keras LSTM and GRU layers computing the
// same outputs; a bidirectional node is refused by name.
func TestLiftRecurrent(t *testing.T) {
	const in, H, seq = 3, 4, 5
	vals := func(n int, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((i*seed)%13)/13 - 0.45
		}
		return v
	}
	mk := func(op string, G int, attrs graph.Attrs, sequences bool) *graph.Graph {
		g := &graph.Graph{
			Name:   strings.ToLower(op),
			Inputs: []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, seq, in)}},
			Params: []*graph.Param{
				{Name: "W", Tensor: tensor.From(tensor.Shape{1, G * H, in}, vals(G*H*in, 7))},
				{Name: "R", Tensor: tensor.From(tensor.Shape{1, G * H, H}, vals(G*H*H, 5))},
				{Name: "B", Tensor: tensor.From(tensor.Shape{1, 2 * G * H}, vals(2*G*H, 3))},
				{Name: "one", Tensor: tensor.From(tensor.Shape{1}, []int64{1})},
				{Name: "hid", Tensor: tensor.From(tensor.Shape{1}, []int64{H})},
				{Name: "b0", Tensor: tensor.Scalar(int64(0))},
				{Name: "ax0", Tensor: tensor.From(tensor.Shape{1}, []int64{0})},
				{Name: "ax1", Tensor: tensor.From(tensor.Shape{1}, []int64{1})},
			},
			Nodes: []*graph.Node{
				{Name: "tm", Op: "Transpose", Inputs: []string{"x"}, Outputs: []string{"xt"}, Attrs: graph.Attrs{"perm": []int64{1, 0, 2}}},
				{Name: "shape", Op: "Shape", Inputs: []string{"x"}, Outputs: []string{"s"}},
				{Name: "batch", Op: "Gather", Inputs: []string{"s", "b0"}, Outputs: []string{"n"}},
				{Name: "unsq", Op: "Unsqueeze", Inputs: []string{"n", "ax0"}, Outputs: []string{"n1"}},
				{Name: "cat", Op: "Concat", Inputs: []string{"one", "n1", "hid"}, Outputs: []string{"st"}, Attrs: graph.Attrs{"axis": int64(0)}},
				{Name: "zeros", Op: "ConstantOfShape", Inputs: []string{"st"}, Outputs: []string{"h0"}},
			},
		}
		a := graph.Attrs{"hidden_size": int64(H)}
		for k, v := range attrs {
			a[k] = v
		}
		inputs := []string{"xt", "W", "R", "B", "", "h0"}
		if op == "LSTM" {
			inputs = append(inputs, "h0")
		}
		g.Nodes = append(g.Nodes, &graph.Node{Name: "rnn", Op: op, Inputs: inputs, Outputs: []string{"Y", "Yh"}, Attrs: a})
		if sequences {
			g.Nodes = append(g.Nodes,
				&graph.Node{Name: "sq", Op: "Squeeze", Inputs: []string{"Y", "ax1"}, Outputs: []string{"ys"}},
				&graph.Node{Name: "bm", Op: "Transpose", Inputs: []string{"ys"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"perm": []int64{1, 0, 2}}})
			g.Outputs = []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, seq, H)}}
		} else {
			g.Nodes = append(g.Nodes, &graph.Node{Name: "last", Op: "Gather", Inputs: []string{"Yh", "b0"}, Outputs: []string{"y"}})
			g.Outputs = []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, H)}}
		}
		return g
	}
	for _, c := range []struct {
		g    *graph.Graph
		want string
	}{
		{mk("LSTM", 4, nil, false), "LSTM"},
		{mk("LSTM", 4, nil, true), "LSTM"},
		{mk("GRU", 3, graph.Attrs{"linear_before_reset": int64(1)}, false), "GRU"},
		{mk("GRU", 3, nil, true), "GRU"},
	} {
		m, err := lift.Lift(c.g)
		if err != nil {
			t.Fatalf("%s: %v", c.g.Name, err)
		}
		found := false
		for _, l := range m.Layers() {
			found = found || l.Class() == c.want
		}
		if !found {
			t.Errorf("%s: no %s layer lifted", c.g.Name, c.want)
		}
		compareLifted(t, c.g, m, verify.Options{Seed: 11}, 1e-5)
	}
	bi := mk("LSTM", 4, graph.Attrs{"direction": "reverse"}, false)
	if _, err := lift.Lift(bi); !errors.Is(err, layer.ErrUnsupported) || !strings.Contains(err.Error(), `"rnn"`) {
		t.Errorf("reverse: %v, want an error naming node rnn", err)
	}
}

// A bidirectional LSTM or GRU whose sequence output PyTorch joins with
// Transpose(0, 2, 1, 3) and Reshape(0, 0, -1) lifts to Bidirectional,
// backward direction and time alignment included (sequences of 6).
func TestLiftBidirectional(t *testing.T) {
	const in, H, seq = 3, 4, 6
	vals := func(n int, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((i*seed)%17)/17 - 0.45
		}
		return v
	}
	for _, op := range []string{"LSTM", "GRU"} {
		G := 4
		attrs := graph.Attrs{"hidden_size": int64(H), "direction": "bidirectional"}
		if op == "GRU" {
			G = 3
			attrs["linear_before_reset"] = int64(1)
		}
		g := &graph.Graph{
			Name:    "bi" + op,
			Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, seq, in)}},
			Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, seq, 2*H)}},
			Params: []*graph.Param{
				{Name: "W", Tensor: tensor.From(tensor.Shape{2, G * H, in}, vals(2*G*H*in, 7))},
				{Name: "R", Tensor: tensor.From(tensor.Shape{2, G * H, H}, vals(2*G*H*H, 5))},
				{Name: "B", Tensor: tensor.From(tensor.Shape{2, 2 * G * H}, vals(4*G*H, 3))},
				{Name: "join", Tensor: tensor.From(tensor.Shape{3}, []int64{0, 0, -1})},
			},
			Nodes: []*graph.Node{
				{Name: "tm", Op: "Transpose", Inputs: []string{"x"}, Outputs: []string{"xt"}, Attrs: graph.Attrs{"perm": []int64{1, 0, 2}}},
				{Name: "rnn", Op: op, Inputs: []string{"xt", "W", "R", "B"}, Outputs: []string{"Y"}, Attrs: attrs},
				{Name: "dirs", Op: "Transpose", Inputs: []string{"Y"}, Outputs: []string{"yt"}, Attrs: graph.Attrs{"perm": []int64{0, 2, 1, 3}}},
				{Name: "joined", Op: "Reshape", Inputs: []string{"yt", "join"}, Outputs: []string{"yj"}},
				{Name: "bm", Op: "Transpose", Inputs: []string{"yj"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"perm": []int64{1, 0, 2}}},
			},
		}
		m, err := lift.Lift(g)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		compareLifted(t, g, m, verify.Options{Seed: 13}, 1e-5)
	}
}

// Sum of tensors lifts to Add, an unread node is skipped, and a Reshape
// that keeps a fixed batch of 1 as its leading dimension lifts when every
// input declares that batch (as model-zoo files do).
func TestLiftSumDeadAndFixedBatch(t *testing.T) {
	w := make([]float32, 6*4)
	for i := range w {
		w[i] = float32(i%7)/7 - 0.4
	}
	g := &graph.Graph{
		Name:    "fixed",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, 1, 4)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, 1, 2, 3)}},
		Params: []*graph.Param{
			{Name: "W", Tensor: tensor.From(tensor.Shape{4, 6}, w)},
			{Name: "shape", Tensor: tensor.From(tensor.Shape{3}, []int64{1, 2, 3})},
		},
		Nodes: []*graph.Node{
			{Name: "mm", Op: "MatMul", Inputs: []string{"x", "W"}, Outputs: []string{"h"}},
			{Name: "r", Op: "Relu", Inputs: []string{"h"}, Outputs: []string{"hr"}},
			{Name: "sum", Op: "Sum", Inputs: []string{"h", "hr", "h"}, Outputs: []string{"s"}},
			{Name: "unread", Op: "CastLike", Inputs: []string{"s", "x"}, Outputs: []string{"nobody"}},
			{Name: "rs", Op: "Reshape", Inputs: []string{"s", "shape"}, Outputs: []string{"y"}},
		},
	}
	m, err := lift.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	compareLifted(t, g, m, verify.Options{Seed: 2}, 1e-6)
}

// A per-channel scale and shift by constants (an inference batch norm as
// Caffe2-style exports write it) lifts to one BatchNormalization.
func TestLiftAffine(t *testing.T) {
	w := make([]float32, 3*2*3*3)
	for i := range w {
		w[i] = float32(i%9)/4 - 1
	}
	g := &graph.Graph{
		Name:    "affine",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 2, 6, 6)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, 3, 4, 4)}},
		Params: []*graph.Param{
			{Name: "W", Tensor: tensor.From(tensor.Shape{3, 2, 3, 3}, w)},
			{Name: "scale", Tensor: tensor.From(tensor.Shape{3, 1, 1}, []float32{0.5, -2, 1.5})},
			{Name: "shift", Tensor: tensor.From(tensor.Shape{1, 3, 1, 1}, []float32{0.1, 0.2, -0.3})},
		},
		Nodes: []*graph.Node{
			{Name: "conv", Op: "Conv", Inputs: []string{"x", "W"}, Outputs: []string{"c"}},
			{Name: "mul", Op: "Mul", Inputs: []string{"c", "scale"}, Outputs: []string{"m"}},
			{Name: "add", Op: "Add", Inputs: []string{"shift", "m"}, Outputs: []string{"a"}},
			{Name: "relu", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}},
		},
	}
	m, err := lift.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range m.Layers() {
		if l.Class() == "BatchNormalization" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d BatchNormalization layers, want 1 (scale and shift in one)", n)
	}
	compareLifted(t, g, m, verify.Options{Seed: 4}, 1e-5)
}

// Real exported models lift to Keras and compute what the ONNX graph does
// (sequences of 7 steps, so recurrent directions are exercised). Small
// corpus models always run; the bench models (../bench/bench-models) only
// without -short.
func TestLiftRealModels(t *testing.T) {
	type model struct {
		path  string
		heavy bool
	}
	var models []model
	for _, name := range []string{"mnist_8", "super_resolution_10", "keras_tf2_dense", "byte_sb_bidi_lstm"} {
		models = append(models, model{testpaths.Shared("corpus", "onnx", "models", name, "model.onnx"), false})
	}
	for _, name := range []string{"mlp", "cnn", "lstm", "gru", "resnet18", "mobilenet_v2"} {
		models = append(models, model{filepath.Join(testpaths.Shared(), "..", "bench", "bench-models", name, "model.onnx"), true})
	}
	ran := 0
	for _, m := range models {
		if m.heavy && testing.Short() {
			continue
		}
		om, err := onnx.Load(m.path)
		if err != nil {
			continue // not on this machine
		}
		ran++
		km, err := lift.Lift(om.Graph)
		if err != nil {
			t.Errorf("%s: %v", m.path, err)
			continue
		}
		compareLifted(t, om.Graph, km, verify.Options{Seed: 1, Dim: 7, IntHigh: 50}, 1e-4)
	}
	if ran == 0 {
		t.Skip("no ONNX corpus or bench models on this machine")
	}
}

// Stride-1 pooling with the pads Keras's "same" uses lifts to "same"
// pooling (average pooling that does not count the padding included), and
// a padded max pooling of a concatenation of ReLU outputs is known to read
// non-negative values.
func TestLiftSamePoolingAndNonNegativeJoins(t *testing.T) {
	w := make([]float32, 3*2*1*1)
	for i := range w {
		w[i] = float32(i)/3 - 0.8
	}
	g := &graph.Graph{
		Name:    "same",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, -1, 2, 7, 7)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1, 6, 4, 4)}},
		Params:  []*graph.Param{{Name: "W", Tensor: tensor.From(tensor.Shape{3, 2, 1, 1}, w)}},
		Nodes: []*graph.Node{
			{Name: "avg", Op: "AveragePool", Inputs: []string{"x"}, Outputs: []string{"a"}, Attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "pads": []int64{1, 1, 1, 1}}},
			{Name: "conv", Op: "Conv", Inputs: []string{"a", "W"}, Outputs: []string{"c"}},
			{Name: "relu", Op: "Relu", Inputs: []string{"c"}, Outputs: []string{"r"}},
			{Name: "relu2", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"r2"}},
			{Name: "cat", Op: "Concat", Inputs: []string{"r", "r2", "r2"}, Outputs: []string{"j"}, Attrs: graph.Attrs{"axis": int64(1)}},
			{Name: "max", Op: "MaxPool", Inputs: []string{"j"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}},
		},
	}
	g.Outputs[0].Type = graph.TensorType(tensor.Float32, -1, 7, 4, 4)
	m, err := lift.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	compareLifted(t, g, m, verify.Options{Seed: 6}, 1e-5)
}

// compareLifted checks that the lifted model m computes what g computes on
// random inputs, within tol (absolute).
func compareLifted(t *testing.T, g *graph.Graph, m *train.Model, opts verify.Options, tol float64) {
	t.Helper()
	lg, err := m.Graph()
	if err != nil {
		t.Fatalf("%s: %v", g.Name, err)
	}
	diffs, err := verify.Compare(g, lg, opts)
	if err != nil || len(diffs) == 0 {
		t.Fatalf("%s: compare: %v (%d outputs)", g.Name, err, len(diffs))
	}
	for _, d := range diffs {
		if !(d.MaxAbs <= tol) {
			t.Errorf("%s: output %s differs by %g", g.Name, d.Name, d.MaxAbs)
		}
	}
}
