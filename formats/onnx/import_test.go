package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

func corpusDir(t testing.TB) string {
	if d := os.Getenv("KILN_CORPUS"); d != "" {
		return d
	}
	d := filepath.Join("..", "..", "..", "shared", "corpus", "onnx")
	if _, err := os.Stat(d); err != nil {
		t.Skip("ONNX corpus not found (set KILN_CORPUS)")
	}
	return d
}

func init() {
	// A test-only op so the importer can be exercised without the op set.
	if ops.Lookup("kiln.test", "Twice") == nil {
		ops.Register(&ops.Def{Name: "Twice", Domain: "kiln.test", Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return in, nil
		}})
		RegisterOp(OpMapping{Domain: "kiln.test", OpType: "Twice", MinOpset: 1})
	}
}

func model(nodes ...*onnxpb.NodeProto) *onnxpb.ModelProto {
	f := int32(onnxpb.TensorProto_FLOAT)
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f}}}}
	}
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}, {Domain: proto.String("kiln.test"), Version: proto.Int64(1)}},
		Graph: &onnxpb.GraphProto{
			Name:   proto.String("g"),
			Node:   nodes,
			Input:  []*onnxpb.ValueInfoProto{vi("x")},
			Output: []*onnxpb.ValueInfoProto{vi("y")},
		},
	}
}

func TestUnsupportedListsEveryNode(t *testing.T) {
	m := model(
		&onnxpb.NodeProto{Name: proto.String("attn_1"), OpType: proto.String("NoSuchOp"), Input: []string{"x"}, Output: []string{"a"}},
		&onnxpb.NodeProto{Name: proto.String("attn_2"), OpType: proto.String("AlsoMissing"), Input: []string{"a"}, Output: []string{"y"}},
	)
	b, _ := proto.Marshal(m)
	_, err := Decode(b, "model.onnx", "")
	if err == nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("want ErrUnsupported, got %v", err)
	}
	for _, want := range []string{"model.onnx: 2 nodes use unsupported operators", `"attn_1" (NoSuchOp, opset 17)`, `"attn_2" (AlsoMissing, opset 17)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLocalFunctionInlined(t *testing.T) {
	m := model(&onnxpb.NodeProto{OpType: proto.String("Wrap"), Domain: proto.String("local"), Input: []string{"x"}, Output: []string{"y"}})
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("local"), Version: proto.Int64(1)})
	m.Functions = []*onnxpb.FunctionProto{{
		Name: proto.String("Wrap"), Domain: proto.String("local"), Input: []string{"a"}, Output: []string{"b"},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String("kiln.test"), Version: proto.Int64(1)}},
		Node: []*onnxpb.NodeProto{
			{OpType: proto.String("Twice"), Domain: proto.String("kiln.test"), Input: []string{"a"}, Output: []string{"t"}},
			{OpType: proto.String("Twice"), Domain: proto.String("kiln.test"), Input: []string{"t"}, Output: []string{"b"}},
		},
	}}
	b, _ := proto.Marshal(m)
	got, err := Decode(b, "model.onnx", "")
	if err != nil {
		t.Fatal(err)
	}
	g := got.Graph
	if len(g.Nodes) != 2 || g.Nodes[0].Inputs[0] != "x" || g.Nodes[1].Outputs[0] != "y" || g.Nodes[0].Outputs[0] != g.Nodes[1].Inputs[0] {
		t.Fatalf("bad inlining: %+v %+v", g.Nodes[0], g.Nodes[1])
	}
}

func TestTensorStorageForms(t *testing.T) {
	f := int32(onnxpb.TensorProto_FLOAT)
	i8 := int32(onnxpb.TensorProto_INT8)
	h := int32(onnxpb.TensorProto_FLOAT16)
	cases := []struct {
		tp   *onnxpb.TensorProto
		want string
	}{
		{&onnxpb.TensorProto{DataType: &f, Dims: []int64{2}, FloatData: []float32{1.5, -2}}, "float32(2,) [1.5 -2]"},
		{&onnxpb.TensorProto{DataType: &f, Dims: []int64{1}, RawData: []byte{0, 0, 0x80, 0x3f}}, "float32(1,) [1]"},
		{&onnxpb.TensorProto{DataType: &i8, Dims: []int64{2}, Int32Data: []int32{-3, 4}}, "int8(2,) [-3 4]"},
		{&onnxpb.TensorProto{DataType: &h, Dims: []int64{1}, Int32Data: []int32{0x3c00}}, "float16(1,) [1]"},
	}
	for _, c := range cases {
		got, err := DecodeTensor(c.tp, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != c.want {
			t.Errorf("got %v, want %s", got, c.want)
		}
	}
	// Short data is an error, not a panic.
	if _, err := DecodeTensor(&onnxpb.TensorProto{DataType: &f, Dims: []int64{3}, RawData: []byte{1, 2}}, ""); err == nil {
		t.Error("short raw_data accepted")
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "w.bin"), []byte{9, 9, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}, 0o644)
	f := int32(onnxpb.TensorProto_FLOAT)
	ext := onnxpb.TensorProto_EXTERNAL
	tp := &onnxpb.TensorProto{DataType: &f, Dims: []int64{2}, DataLocation: &ext, ExternalData: []*onnxpb.StringStringEntryProto{
		{Key: proto.String("location"), Value: proto.String("w.bin")}, {Key: proto.String("offset"), Value: proto.String("2")}, {Key: proto.String("length"), Value: proto.String("8")}}}
	got, err := DecodeTensor(tp, dir)
	if err != nil || got.String() != "float32(2,) [1 2]" {
		t.Fatal(got, err)
	}
	tp.ExternalData[0].Value = proto.String("../etc/passwd")
	if _, err := DecodeTensor(tp, dir); err == nil {
		t.Fatal("path escaping the model directory accepted")
	}
}

func TestCorpusModelsDecode(t *testing.T) {
	dir := corpusDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "models", "*", "model.onnx"))
	for _, p := range paths {
		if _, err := LoadWith(p, Options{AllowUnsupported: true}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := proto.Marshal(model(&onnxpb.NodeProto{OpType: proto.String("Twice"), Domain: proto.String("kiln.test"), Input: []string{"x"}, Output: []string{"y"}}))
	f.Add(b)
	if dir := os.Getenv("KILN_CORPUS"); dir != "" {
		if data, err := os.ReadFile(filepath.Join(dir, "node", "test_abs", "model.onnx")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Decode(data, "fuzz.onnx", "")
		DecodeValue(data, nil)
	})
}
