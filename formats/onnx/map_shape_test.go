package onnx

import (
	"fmt"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

func shpInts(name string, v ...int64) *onnxpb.AttributeProto {
	at := onnxpb.AttributeProto_INTS
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &at, Ints: v}
}

func shpInt(name string, v int64) *onnxpb.AttributeProto {
	at := onnxpb.AttributeProto_INT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &at, I: proto.Int64(v)}
}

func shpFloat(name string, v float32) *onnxpb.AttributeProto {
	at := onnxpb.AttributeProto_FLOAT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &at, F: proto.Float32(v)}
}

func shpStr(name, v string) *onnxpb.AttributeProto {
	at := onnxpb.AttributeProto_STRING
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &at, S: []byte(v)}
}

// shpImportRun imports a one-node model of op at opset with float inputs
// x0, x1, ... and runs the imported node (with any constants the mapping
// added) on the given inputs.
func shpImportRun(t *testing.T, op string, opset int64, nout int, attrs []*onnxpb.AttributeProto, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}}}}
	}
	np := &onnxpb.NodeProto{OpType: proto.String(op), Attribute: attrs}
	g := &onnxpb.GraphProto{Name: proto.String("g"), Node: []*onnxpb.NodeProto{np}}
	feed := map[string]*tensor.Tensor{}
	for i, x := range in {
		name := fmt.Sprint("x", i)
		np.Input = append(np.Input, name)
		g.Input = append(g.Input, vi(name))
		feed[name] = x
	}
	for i := 0; i < nout; i++ {
		name := fmt.Sprint("y", i)
		np.Output = append(np.Output, name)
		g.Output = append(g.Output, vi(name))
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph:       g,
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b, "test", "")
	if err != nil {
		t.Fatalf("%s-%d: %v", op, opset, err)
	}
	for _, p := range m.Graph.Params {
		feed[p.Name] = p.Tensor
	}
	var n *graph.Node
	for _, x := range m.Graph.Nodes {
		if x.Meta.ONNXOp == op {
			n = x
		}
	}
	if n == nil {
		t.Fatalf("%s-%d: node not imported", op, opset)
	}
	d := ops.Lookup(n.Domain, n.Op)
	args := make([]*tensor.Tensor, len(n.Inputs))
	for i, name := range n.Inputs {
		if name != "" {
			if args[i] = feed[name]; args[i] == nil {
				t.Fatalf("%s-%d: input %q has no value", op, opset, name)
			}
		}
	}
	out, err := d.Kernel(n, args)
	if err != nil {
		t.Fatalf("%s-%d: %v", op, opset, err)
	}
	return out
}

func shpWant(t *testing.T, what string, got *tensor.Tensor, shape tensor.Shape, want ...float64) {
	t.Helper()
	if !got.Shape().Equal(shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), shape)
	}
	for i, v := range got.Float64s() {
		if v != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

// TestShapeOldOpsets checks that operators written for opsets where inputs
// were still attributes (or defaults differed) import into the current form.
func TestShapeOldOpsets(t *testing.T) {
	x := tensor.From(tensor.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	out := shpImportRun(t, "Slice", 9, 1, []*onnxpb.AttributeProto{shpInts("starts", 1), shpInts("ends", 100), shpInts("axes", 1)}, x)
	shpWant(t, "Slice-9", out[0], tensor.Shape{2, 2}, 2, 3, 5, 6)
	out = shpImportRun(t, "Slice", 1, 1, []*onnxpb.AttributeProto{shpInts("starts", 1), shpInts("ends", 2)}, x)
	shpWant(t, "Slice-1 default axes", out[0], tensor.Shape{1, 3}, 4, 5, 6)

	out = shpImportRun(t, "Pad", 2, 1, []*onnxpb.AttributeProto{shpInts("pads", 0, 1, 0, 0), shpFloat("value", 7)}, x)
	shpWant(t, "Pad-2", out[0], tensor.Shape{2, 4}, 7, 1, 2, 3, 7, 4, 5, 6)
	out = shpImportRun(t, "Pad", 1, 1, []*onnxpb.AttributeProto{shpInts("paddings", 0, 0, 0, 1), shpStr("mode", "edge")}, x)
	shpWant(t, "Pad-1", out[0], tensor.Shape{2, 4}, 1, 2, 3, 3, 4, 5, 6, 6)

	out = shpImportRun(t, "Reshape", 1, 1, []*onnxpb.AttributeProto{shpInts("shape", 3, -1)}, x)
	shpWant(t, "Reshape-1", out[0], tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6)

	out = shpImportRun(t, "Unsqueeze", 11, 1, []*onnxpb.AttributeProto{shpInts("axes", 0)}, x)
	shpWant(t, "Unsqueeze-11", out[0], tensor.Shape{1, 2, 3}, 1, 2, 3, 4, 5, 6)
	y := tensor.From(tensor.Shape{1, 3, 1}, []float32{1, 2, 3})
	out = shpImportRun(t, "Squeeze", 11, 1, []*onnxpb.AttributeProto{shpInts("axes", -1)}, y)
	shpWant(t, "Squeeze-11", out[0], tensor.Shape{1, 3}, 1, 2, 3)

	out = shpImportRun(t, "Split", 11, 2, []*onnxpb.AttributeProto{shpInt("axis", 1), shpInts("split", 1, 2)}, x)
	shpWant(t, "Split-11 part 0", out[0], tensor.Shape{2, 1}, 1, 4)
	shpWant(t, "Split-11 part 1", out[1], tensor.Shape{2, 2}, 2, 3, 5, 6)

	out = shpImportRun(t, "TopK", 1, 2, []*onnxpb.AttributeProto{shpInt("k", 2)}, x)
	shpWant(t, "TopK-1 values", out[0], tensor.Shape{2, 2}, 3, 2, 6, 5)
	shpWant(t, "TopK-1 indices", out[1], tensor.Shape{2, 2}, 2, 1, 2, 1)

	out = shpImportRun(t, "Concat", 1, 1, nil, x, x)
	shpWant(t, "Concat-1 default axis", out[0], tensor.Shape{2, 6}, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6)

	out = shpImportRun(t, "Scatter", 9, 1, []*onnxpb.AttributeProto{shpInt("axis", 1)}, x,
		tensor.From(tensor.Shape{1, 1}, []int64{2}), tensor.From(tensor.Shape{1, 1}, []float32{9}))
	shpWant(t, "Scatter-9", out[0], tensor.Shape{2, 3}, 1, 2, 9, 4, 5, 6)
}
