package onnx_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/internal/verify"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

// one builds a graph with one float input x of the given shape, the nodes,
// and the named output y.
func one(shape []int, params []*graph.Param, nodes ...*graph.Node) *graph.Graph {
	return &graph.Graph{
		Name:    "t",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, shape...)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}},
		Params:  params,
		Nodes:   nodes,
	}
}

func node(op string, attrs graph.Attrs, in []string, out ...string) *graph.Node {
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	if len(out) == 0 {
		out = []string{"y"}
	}
	return &graph.Node{Name: op + "_node", Op: op, Inputs: in, Outputs: out, Attrs: attrs}
}

func ints(name string, v ...int64) *graph.Param {
	return &graph.Param{Name: name, Tensor: tensor.FromInt64s(tensor.Shape{len(v)}, v)}
}

func floats(name string, shape tensor.Shape, v ...float32) *graph.Param {
	return &graph.Param{Name: name, Tensor: tensor.From(shape, v)}
}

func opsetOf(mp *onnxpb.ModelProto) int64 {
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" {
			return o.GetVersion()
		}
	}
	return 0
}

func opTypes(mp *onnxpb.ModelProto) string {
	var s []string
	for _, n := range mp.GetGraph().GetNode() {
		s = append(s, n.GetOpType())
	}
	return strings.Join(s, ",")
}

// reimport encodes and decodes an exported model.
func reimport(t *testing.T, mp *onnxpb.ModelProto) *graph.Graph {
	t.Helper()
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(data, "exported", "")
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	return m.Graph
}

// TestExportOpset checks the chosen opset and the written node forms, and
// that the exported model computes what the graph computes (the same
// kiln kernels on both sides, on seeded random inputs).
func TestExportOpset(t *testing.T) {
	cases := []struct {
		name  string
		g     *graph.Graph
		opset int64
		ops   string // the written op types, when checked
	}{
		{"relu", one([]int{2, 3}, nil, node("Relu", nil, []string{"x"})), 13, "Relu"},
		{"reduce mean, constant axes", one([]int{2, 3, 4}, []*graph.Param{ints("axes", 1, -1)},
			node("ReduceMean", graph.Attrs{"keepdims": int64(0)}, []string{"x", "axes"})), 13, "ReduceMean"},
		{"reduce max, no axes", one([]int{2, 3}, nil, node("ReduceMax", nil, []string{"x"})), 13, "ReduceMax"},
		{"reduce max, noop with empty axes", one([]int{2, 3}, nil, node("ReduceMax", graph.Attrs{"noop_with_empty_axes": int64(1)}, []string{"x"})), 13, "Identity"},
		{"layer norm", one([]int{2, 4}, []*graph.Param{floats("s", tensor.Shape{4}, 1, 2, 3, 4), floats("b", tensor.Shape{4}, 0, 1, 0, 1)},
			node("LayerNormalization", graph.Attrs{"axis": int64(-1)}, []string{"x", "s", "b"})), 17, "LayerNormalization"},
		{"gelu", one([]int{2, 5}, nil, node("Gelu", nil, []string{"x"})), 13, ""},
		{"gelu tanh", one([]int{2, 5}, nil, node("Gelu", graph.Attrs{"approximate": "tanh"}, []string{"x"})), 13, ""},
		{"mish", one([]int{2, 5}, nil, node("Mish", nil, []string{"x"})), 13, "Softplus,Tanh,Mul"},
		{"hard swish", one([]int{2, 5}, nil, node("HardSwish", nil, []string{"x"})), 13, "HardSigmoid,Mul"},
		{"swish alpha", one([]int{2, 5}, nil, node("Swish", graph.Attrs{"alpha": float32(1.5)}, []string{"x"})), 13, "Mul,Sigmoid,Mul"},
		{"trilu", one([]int{3, 3}, nil, node("Trilu", nil, []string{"x"})), 14, "Trilu"},
		{"reshape allowzero", one([]int{2, 3}, []*graph.Param{ints("s", 3, 2)}, node("Reshape", graph.Attrs{"allowzero": int64(1)}, []string{"x", "s"})), 14, "Reshape"},
		{"reshape allowzero 0", one([]int{2, 3}, []*graph.Param{ints("s", 3, 2)}, node("Reshape", graph.Attrs{"allowzero": int64(0)}, []string{"x", "s"})), 13, "Reshape"},
		{"softmax coerced to 2-D", one([]int{2, 3, 4}, nil, node("Softmax", graph.Attrs{"axis": int64(1), "kiln_coerce_2d": int64(1)}, []string{"x"})), 13, "Flatten,Shape,Softmax,Reshape"},
		{"group norm", one([]int{2, 4, 3}, []*graph.Param{floats("s", tensor.Shape{4}, 1, 2, 3, 4), floats("b", tensor.Shape{4}, 0, 1, 0, 1)},
			node("GroupNormalization", graph.Attrs{"num_groups": int64(2)}, []string{"x", "s", "b"})), 13, ""},
		{"group norm per group", one([]int{2, 4, 3}, []*graph.Param{floats("s", tensor.Shape{2}, 1, 2), floats("b", tensor.Shape{2}, 0, 1)},
			node("GroupNormalization", graph.Attrs{"num_groups": int64(2), "kiln_per_group": int64(1)}, []string{"x", "s", "b"})), 13, ""},
		{"pad with axes", one([]int{2, 3}, []*graph.Param{ints("p", 1, 2), ints("ax", 1)},
			node("Pad", graph.Attrs{"mode": "reflect"}, []string{"x", "p", "", "ax"})), 13, "Pad"},
		{"resize with axes", one([]int{1, 1, 2, 2}, []*graph.Param{floats("sc", tensor.Shape{2}, 2, 3)},
			node("Resize", graph.Attrs{"axes": []int64{2, 3}, "mode": "nearest"}, []string{"x", "", "sc"})), 13, "Resize"},
		{"broadcast axis", &graph.Graph{
			Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, 2, 3, 4)}, {Name: "b", Type: graph.TensorType(tensor.Float32, 3)}},
			Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Float32)}},
			Nodes: []*graph.Node{
				{Name: "ba", Op: "BroadcastAxis", Domain: "kiln", Inputs: []string{"x", "b"}, Outputs: []string{"bb"}, Attrs: graph.Attrs{"axis": int64(1)}},
				node("Add", nil, []string{"x", "bb"}),
			}}, 13, "Unsqueeze,Add"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mp, err := onnx.Export(c.g, onnx.ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := opsetOf(mp); got != c.opset {
				t.Errorf("opset %d, want %d", got, c.opset)
			}
			if c.ops != "" {
				if got := opTypes(mp); got != c.ops {
					t.Errorf("ops %s, want %s", got, c.ops)
				}
			}
			for _, n := range mp.GetGraph().GetNode() {
				for _, a := range n.GetAttribute() {
					if strings.HasPrefix(a.GetName(), "kiln_") {
						t.Errorf("node %s keeps private attribute %s", n.GetName(), a.GetName())
					}
				}
				if n.GetOpType() == "ReduceMean" && len(n.GetInput()) != 1 {
					t.Errorf("ReduceMean at opset 13 has %d inputs, want the axes attribute", len(n.GetInput()))
				}
			}
			g2 := reimport(t, mp)
			diffs, err := verify.Compare(c.g, g2, verify.Options{Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				if !(d.MaxAbs <= 1e-6) {
					t.Errorf("output %s differs by %g after export", d.Name, d.MaxAbs)
				}
			}
		})
	}
}

// TestExportGeluValues holds the opset-13 expansion of Gelu to values
// computed by hand from its definition 0.5 x (1 + erf(x / sqrt 2)).
func TestExportGeluValues(t *testing.T) {
	g := one([]int{3}, nil, node("Gelu", nil, []string{"x"}))
	mp, err := onnx.Export(g, onnx.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := verify.Run(reimport(t, mp), map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{3}, []float32{-1, 0, 2})})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{-0.15865525, 0, 1.95449974}
	for i, v := range out[0].Float64s() {
		if math.Abs(v-want[i]) > 1e-6 {
			t.Errorf("gelu[%d] = %g, want %g", i, v, want[i])
		}
	}
}

func TestExportRequestedOpset(t *testing.T) {
	g := one([]int{3, 3}, nil, node("Trilu", nil, []string{"x"}))
	_, err := onnx.Export(g, onnx.ExportOptions{Opset: 13})
	if !errors.Is(err, onnx.ErrUnsupported) || !strings.Contains(err.Error(), "Trilu_node") {
		t.Errorf("Trilu at opset 13: err %v, want ErrUnsupported naming the node", err)
	}
	mp, err := onnx.Export(g, onnx.ExportOptions{Opset: 17})
	if err != nil || opsetOf(mp) != 17 || mp.GetIrVersion() != 8 {
		t.Errorf("opset 17: err %v, opset %d, IR %d", err, opsetOf(mp), mp.GetIrVersion())
	}
	// A reduction written for opset 18 keeps its axes input.
	g = one([]int{2, 3}, []*graph.Param{ints("axes", 1)}, node("ReduceMean", nil, []string{"x", "axes"}))
	mp, err = onnx.Export(g, onnx.ExportOptions{Opset: 18})
	if err != nil || len(mp.GetGraph().GetNode()[0].GetInput()) != 2 {
		t.Errorf("ReduceMean at opset 18: err %v, inputs %v", err, mp.GetGraph().GetNode()[0].GetInput())
	}
}

func TestExportPrivateOpFails(t *testing.T) {
	g := one([]int{2}, nil, &graph.Node{Name: "mystery", Op: "Frobnicate", Domain: "kiln", Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{}})
	_, err := onnx.Export(g, onnx.ExportOptions{})
	if !errors.Is(err, onnx.ErrUnsupported) || !strings.Contains(err.Error(), `"mystery"`) {
		t.Errorf("err %v, want ErrUnsupported naming node mystery", err)
	}
	g = one([]int{2}, nil, &graph.Node{Name: "odd", Op: "NotAnOnnxOp", Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{}})
	if _, err := onnx.Export(g, onnx.ExportOptions{}); !errors.Is(err, onnx.ErrUnsupported) || !strings.Contains(err.Error(), `"odd"`) {
		t.Errorf("err %v, want ErrUnsupported naming node odd", err)
	}
}

// TestExportSignatureAndProvenance checks that inputs and outputs keep
// their names, types and symbolic dimensions, params become raw_data
// initializers, and Keras provenance reaches the node's doc string and
// metadata (and comes back on import).
func TestExportSignatureAndProvenance(t *testing.T) {
	g := &graph.Graph{
		Name: "m",
		Inputs: []*graph.Value{{Name: "input_1", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32,
			Shape: []int{-1, 4}, DimNames: []string{"batch", ""}}}},
		Outputs: []*graph.Value{{Name: "dense/out", Type: graph.TensorType(tensor.Float32, -1, 2)}},
		Params:  []*graph.Param{floats("dense/kernel", tensor.Shape{4, 2}, 1, 2, 3, 4, 5, 6, 7, 8)},
		Nodes: []*graph.Node{{Name: "dense/MatMul", Op: "MatMul", Inputs: []string{"input_1", "dense/kernel"}, Outputs: []string{"dense/out"},
			Attrs: graph.Attrs{}, Meta: graph.Meta{Source: "keras", KerasLayer: "dense", KerasClass: "Dense"}}},
	}
	mp, err := onnx.Export(g, onnx.ExportOptions{Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	gp := mp.GetGraph()
	in := gp.GetInput()[0]
	dims := in.GetType().GetTensorType().GetShape().GetDim()
	if in.GetName() != "input_1" || len(dims) != 2 || dims[0].GetDimParam() != "batch" || dims[1].GetDimValue() != 4 {
		t.Errorf("input written as %v", in)
	}
	if len(gp.GetInput()) != 1 {
		t.Errorf("initializers listed as inputs: %d inputs", len(gp.GetInput()))
	}
	if init := gp.GetInitializer()[0]; init.GetName() != "dense/kernel" || len(init.GetRawData()) != 32 {
		t.Errorf("initializer %v", init)
	}
	n := gp.GetNode()[0]
	if !strings.Contains(n.GetDocString(), `"dense" (Dense)`) {
		t.Errorf("doc string %q", n.GetDocString())
	}
	if mp.GetMetadataProps()[0].GetKey() != "k" {
		t.Errorf("metadata %v", mp.GetMetadataProps())
	}
	g2 := reimport(t, mp)
	if got := g2.Nodes[0].Meta; got.KerasLayer != "dense" || got.KerasClass != "Dense" {
		t.Errorf("re-imported provenance %+v", got)
	}
	if g2.Inputs[0].Type.String() != "float32[batch,4]" {
		t.Errorf("re-imported input type %s", g2.Inputs[0].Type)
	}
}

// TestExportBoolReduce: ReduceMax over bool (opset 20) is written for
// opset 13 through uint8, and computes any().
func TestExportBoolReduce(t *testing.T) {
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Bool, 2, 3)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(tensor.Bool)}},
		Params:  []*graph.Param{ints("axes", 1)},
		Nodes:   []*graph.Node{node("ReduceMax", graph.Attrs{"keepdims": int64(0)}, []string{"x", "axes"})},
	}
	mp, err := onnx.Export(g, onnx.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if opsetOf(mp) != 13 || opTypes(mp) != "Cast,ReduceMax,Cast" {
		t.Errorf("opset %d, ops %s", opsetOf(mp), opTypes(mp))
	}
	out, err := verify.Run(reimport(t, mp), map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{2, 3}, []bool{false, true, false, false, false, false})})
	if err != nil {
		t.Fatal(err)
	}
	if b := out[0].Bools(); len(b) != 2 || !b[0] || b[1] {
		t.Errorf("any = %v, want [true false]", b)
	}
	if mp, err := onnx.Export(g, onnx.ExportOptions{Opset: 18}); err != nil || opTypes(mp) != "Cast,ReduceMax,Cast" || len(mp.GetGraph().GetNode()[1].GetInput()) != 2 {
		t.Errorf("opset 18: err %v ops %s", err, opTypes(mp))
	}
}
