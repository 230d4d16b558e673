package onnxpb_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
)

// corpusDir returns the ONNX conformance corpus directory: $KILN_CORPUS if
// set, else ../shared/corpus/onnx relative to the repository root. It skips
// the test if the corpus is not present.
func corpusDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KILN_CORPUS"); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("KILN_CORPUS=%q is not usable: %v", dir, err)
		}
		return dir
	}
	// This package is formats/onnx/onnxpb, three levels below the repo root.
	dir := filepath.Join("..", "..", "..", "..", "shared", "corpus", "onnx")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("ONNX corpus not found at %s (set KILN_CORPUS to the onnx corpus dir)", dir)
	}
	return dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("corpus file %s is absent", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestAbsModel(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "node", "test_abs")

	var m onnxpb.ModelProto
	if err := proto.Unmarshal(readFile(t, filepath.Join(dir, "model.onnx")), &m); err != nil {
		t.Fatalf("unmarshal model: %v", err)
	}
	if m.IrVersion == nil || m.GetIrVersion() <= 0 {
		t.Errorf("ir_version = %d (present %v), want > 0", m.GetIrVersion(), m.IrVersion != nil)
	}
	if len(m.GetOpsetImport()) == 0 {
		t.Errorf("no opset_import entries")
	}
	g := m.GetGraph()
	if g == nil {
		t.Fatal("model has no graph")
	}
	nodes := g.GetNode()
	if len(nodes) != 1 {
		t.Fatalf("graph has %d nodes, want 1", len(nodes))
	}
	if got := nodes[0].GetOpType(); got != "Abs" {
		t.Errorf("op_type = %q, want %q", got, "Abs")
	}
	if len(g.GetInput()) != 1 {
		t.Fatalf("graph has %d inputs, want 1", len(g.GetInput()))
	}
	tt := g.GetInput()[0].GetType().GetTensorType()
	if tt == nil {
		t.Fatal("graph input is not a tensor type")
	}
	if got := onnxpb.TensorProto_DataType(tt.GetElemType()); got != onnxpb.TensorProto_FLOAT {
		t.Errorf("input elem_type = %v, want FLOAT", got)
	}
	var shape []int64
	for _, d := range tt.GetShape().GetDim() {
		v, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
		if !ok {
			t.Fatalf("input dim %v is not a fixed value", d)
		}
		shape = append(shape, v.DimValue)
	}
	want := []int64{3, 4, 5}
	if !slices.Equal(shape, want) {
		t.Errorf("input shape = %v, want %v", shape, want)
	}

	var in onnxpb.TensorProto
	if err := proto.Unmarshal(readFile(t, filepath.Join(dir, "test_data_set_0", "input_0.pb")), &in); err != nil {
		t.Fatalf("unmarshal input_0.pb: %v", err)
	}
	if !slices.Equal(in.GetDims(), want) {
		t.Errorf("input_0 dims = %v, want %v", in.GetDims(), want)
	}
	if got := onnxpb.TensorProto_DataType(in.GetDataType()); got != onnxpb.TensorProto_FLOAT {
		t.Errorf("input_0 data_type = %v, want FLOAT", got)
	}
	n := int64(1)
	for _, d := range want {
		n *= d
	}
	if got := int64(len(in.GetRawData())) + 4*int64(len(in.GetFloatData())); got != 4*n {
		t.Errorf("input_0 payload = %d bytes, want %d", got, 4*n)
	}
}
