package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestConvertFlags(t *testing.T) {
	var got *convertOptions
	cmd := newConvertCmd(func(o *convertOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"in.h5", "out.onnx", "--arch", "model.json", "--no-verify", "--opset", "17"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.In != "in.h5" || got.Output != "out.onnx" || got.Arch != "model.json" || !got.NoVerify || got.Opset != 17 || got.Batch != 2 || got.Dim != 1 {
		t.Errorf("options %+v", got)
	}
}

// TestConvertVerifies converts an ONNX model (one with an opset-18 form
// that the exporter writes at opset 13) and checks the verification report.
func TestConvertVerifies(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.onnx")
	g := &graph.Graph{
		Name:    "m",
		Inputs:  []*graph.Value{{Name: "x", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: []int{-1, 3}, DimNames: []string{"N", ""}}}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, -1)}},
		Params:  []*graph.Param{{Name: "axes", Tensor: tensor.FromInt64s(tensor.Shape{1}, []int64{1})}},
		Nodes:   []*graph.Node{{Name: "mean", Op: "ReduceMean", Inputs: []string{"x", "axes"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"keepdims": int64(0)}}},
	}
	if err := onnx.Save(in, g, onnx.ExportOptions{Opset: 18}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := &convertOptions{In: in, Output: filepath.Join(dir, "out.onnx"), Batch: 2, Dim: 1, Seed: 1, Tol: 1e-5, Out: &out}
	if err := runConvert(o); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "ONNX opset 13") || !strings.Contains(s, "y ") || !strings.Contains(s, "max abs diff 0") {
		t.Errorf("output:\n%s", s)
	}
	o.Output = filepath.Join(dir, "out.pb")
	if err := runConvert(o); err == nil || !strings.Contains(err.Error(), "unknown output format") {
		t.Errorf("writing .pb: err %v", err)
	}
}
