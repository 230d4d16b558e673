package onnx

import (
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestReduceAxesAttribute checks that a reduction written for an opset
// where axes was an attribute is imported with axes as input 1.
func TestReduceAxesAttribute(t *testing.T) {
	for _, c := range []struct {
		op    string
		opset int64
	}{{"ReduceSum", 11}, {"ReduceMean", 13}, {"ReduceMax", 17}} {
		at := onnxpb.AttributeProto_INTS
		fl := onnxpb.TensorProto_FLOAT
		vi := func(name string) *onnxpb.ValueInfoProto {
			return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
				TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(fl))}}}}
		}
		mp := &onnxpb.ModelProto{
			IrVersion:   proto.Int64(8),
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(c.opset)}},
			Graph: &onnxpb.GraphProto{
				Name: proto.String("g"),
				Node: []*onnxpb.NodeProto{{OpType: proto.String(c.op), Input: []string{"x"}, Output: []string{"y"},
					Attribute: []*onnxpb.AttributeProto{{Name: proto.String("axes"), Type: &at, Ints: []int64{1}}}}},
				Input:  []*onnxpb.ValueInfoProto{vi("x")},
				Output: []*onnxpb.ValueInfoProto{vi("y")},
			},
		}
		b, err := proto.Marshal(mp)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b, "test", "")
		if err != nil {
			t.Fatalf("%s-%d: %v", c.op, c.opset, err)
		}
		var found bool
		for _, n := range m.Graph.Nodes {
			if n.Op != c.op {
				continue
			}
			found = true
			if n.Attrs.Has("axes") || len(n.Inputs) != 2 {
				t.Fatalf("%s-%d: node %v still has the axes attribute or lacks input 1", c.op, c.opset, n)
			}
			p := m.Graph.Param(n.Inputs[1])
			if p == nil || p.Tensor.Len() != 1 || p.Tensor.Int64s()[0] != 1 {
				t.Fatalf("%s-%d: axes input is not the constant [1]", c.op, c.opset)
			}
		}
		if !found {
			t.Fatalf("%s-%d: node not imported", c.op, c.opset)
		}
	}
}
