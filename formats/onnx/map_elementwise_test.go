package onnx

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func ewConverter(opset int) *Converter {
	return &Converter{Opset: opset, g: &graph.Graph{}, seq: new(int)}
}

func TestEwLegacyBroadcast(t *testing.T) {
	c := ewConverter(6)
	n := &graph.Node{Name: "add", Op: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"y"},
		Attrs: graph.Attrs{"broadcast": int64(1), "axis": int64(1)}}
	if err := ewLegacyBroadcast(c, n); err != nil {
		t.Fatal(err)
	}
	if len(c.pre) != 1 || c.pre[0].Op != "BroadcastAxis" || c.pre[0].Domain != "kiln" {
		t.Fatalf("emitted %v, want one kiln:BroadcastAxis node", c.pre)
	}
	if n.Inputs[1] != c.pre[0].Outputs[0] || n.Attrs.Has("axis") || n.Attrs.Has("broadcast") {
		t.Errorf("node after conversion: %+v", n)
	}

	// Without axis, trailing alignment is numpy broadcasting: no new node.
	c = ewConverter(6)
	n = &graph.Node{Name: "mul", Op: "Mul", Inputs: []string{"a", "b"}, Outputs: []string{"y"},
		Attrs: graph.Attrs{"broadcast": int64(1), "consumed_inputs": []int64{0}}}
	if err := ewLegacyBroadcast(c, n); err != nil {
		t.Fatal(err)
	}
	if len(c.pre) != 0 || len(n.Attrs) != 0 {
		t.Errorf("emitted %v, attrs %v; want none", c.pre, n.Attrs)
	}
}

func TestEwClipAttrs(t *testing.T) {
	c := ewConverter(6)
	n := &graph.Node{Name: "clip", Op: "Clip", Inputs: []string{"x"}, Outputs: []string{"y"},
		Attrs: graph.Attrs{"max": float32(6)}}
	if err := ewClipAttrs(c, n); err != nil {
		t.Fatal(err)
	}
	if len(n.Inputs) != 3 || n.Inputs[1] != "" || n.Inputs[2] == "" {
		t.Fatalf("inputs %q, want x, absent min, constant max", n.Inputs)
	}
	if p := c.g.Param(n.Inputs[2]); p == nil || p.Tensor.At(0) != 6 {
		t.Errorf("max param %v, want 6", p)
	}
}

func TestEwCastString(t *testing.T) {
	n := &graph.Node{Name: "cast", Op: "Cast", Attrs: graph.Attrs{"to": "float16"}}
	if err := ewCastString(ewConverter(1), n); err != nil {
		t.Fatal(err)
	}
	if got := n.Attrs.Int("to", 0); got != int64(tensor.Float16) {
		t.Errorf("to = %d, want %d", got, tensor.Float16)
	}
	n.Attrs["to"] = "COMPLEX64"
	if err := ewCastString(ewConverter(1), n); err == nil {
		t.Error("Cast to COMPLEX64: no error")
	}
}

func TestEwLegacyDropout(t *testing.T) {
	// Opset 7: the mask has the data's type, so a CastLike follows.
	c := ewConverter(7)
	n := &graph.Node{Name: "d", Op: "Dropout", Inputs: []string{"x"}, Outputs: []string{"y", "m"},
		Attrs: graph.Attrs{"ratio": float32(0.3)}}
	if err := ewLegacyDropout(c, n); err != nil {
		t.Fatal(err)
	}
	if len(c.pre) != 1 || c.pre[0].Op != "Dropout" || c.pre[0].Outputs[0] != "y" {
		t.Fatalf("emitted %+v, want a Dropout producing y", c.pre)
	}
	if n.Op != "CastLike" || n.Inputs[0] != c.pre[0].Outputs[1] || n.Inputs[1] != "x" || n.Outputs[0] != "m" {
		t.Errorf("node after conversion: %+v", n)
	}
	// Opset 10: bool mask, attributes dropped only.
	c = ewConverter(10)
	n = &graph.Node{Name: "d", Op: "Dropout", Inputs: []string{"x"}, Outputs: []string{"y", "m"},
		Attrs: graph.Attrs{"ratio": float32(0.3)}}
	if err := ewLegacyDropout(c, n); err != nil {
		t.Fatal(err)
	}
	if len(c.pre) != 0 || n.Op != "Dropout" || len(n.Attrs) != 0 {
		t.Errorf("node after conversion: %+v (emitted %v)", n, c.pre)
	}
}

func TestEwMappingsCover(t *testing.T) {
	for _, c := range []struct {
		op    string
		opset int
	}{
		{"Add", 1}, {"Add", 6}, {"Add", 7}, {"Add", 25}, {"Clip", 6}, {"Clip", 13}, {"Cast", 1}, {"Cast", 25},
		{"Dropout", 7}, {"Dropout", 22}, {"Relu", 1}, {"Relu", 14}, {"Celu", 28}, {"Swish", 24}, {"Gelu", 20},
		{"BitShift", 11}, {"Mod", 10}, {"Where", 9}, {"Round", 11}, {"IsInf", 20}, {"Constant", 25}, {"Identity", 25},
	} {
		if _, ok := lookupMapping("", c.op, c.opset); !ok {
			t.Errorf("%s at opset %d is not mapped", c.op, c.opset)
		}
	}
	for _, c := range []struct {
		op    string
		opset int
	}{{"Swish", 23}, {"Gelu", 19}, {"Mish", 17}} {
		if _, ok := lookupMapping("", c.op, c.opset); ok {
			t.Errorf("%s at opset %d is mapped, but ONNX defines it only later", c.op, c.opset)
		}
	}
}
