package onnx

import (
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Every version ONNX defines of the random ops is mapped, and no opset
// before the first.
func TestRandomMappingsCover(t *testing.T) {
	for _, c := range []struct {
		op          string
		first, last int
	}{
		{"RandomUniform", 1, 22}, {"RandomNormal", 1, 22}, {"RandomUniformLike", 1, 22},
		{"RandomNormalLike", 1, 22}, {"Bernoulli", 15, 22}, {"Multinomial", 7, 22},
	} {
		for _, v := range []int{c.first, c.first + 1, c.last, c.last + 3} {
			if _, ok := lookupMapping("", c.op, v); !ok {
				t.Errorf("%s at opset %d is not mapped", c.op, v)
			}
		}
		if _, ok := lookupMapping("", c.op, c.first-1); ok && c.first > 1 {
			t.Errorf("%s at opset %d is mapped, but ONNX defines it only from %d", c.op, c.first-1, c.first)
		}
	}
}

// The importer reads the attributes as ONNX writes them (seed, low, high
// and mean as floats, dtype and sample_size as ints, shape as ints).
func TestRandomImport(t *testing.T) {
	y := shpImportRun(t, "RandomUniform", 1, 1, []*onnxpb.AttributeProto{
		shpInts("shape", 2, 50), shpInt("dtype", int64(tensor.Float64)), shpFloat("low", 5), shpFloat("high", 6), shpFloat("seed", 2),
	})[0]
	if y.DType() != tensor.Float64 || !y.Shape().Equal(tensor.Shape{2, 50}) {
		t.Fatalf("RandomUniform-1 gave %v%v", y.DType(), y.Shape())
	}
	for _, v := range y.F64() {
		if v < 5 || v >= 6 {
			t.Fatalf("RandomUniform-1 value %g outside [5, 6)", v)
		}
	}
	y2 := shpImportRun(t, "RandomUniform", 22, 1, []*onnxpb.AttributeProto{
		shpInts("shape", 2, 50), shpInt("dtype", int64(tensor.Float64)), shpFloat("low", 5), shpFloat("high", 6), shpFloat("seed", 2),
	})[0]
	for i, v := range y2.F64() {
		if v != y.F64()[i] {
			t.Fatal("the same seed gave different values in two imports")
		}
	}
	y = shpImportRun(t, "RandomNormalLike", 1, 1, []*onnxpb.AttributeProto{shpFloat("mean", 3), shpFloat("scale", 0)},
		tensor.From(tensor.Shape{4}, []float32{0, 0, 0, 0}))[0]
	if y.DType() != tensor.Float32 || y.F32()[3] != 3 {
		t.Fatalf("RandomNormalLike-1 gave %v", y)
	}
	y = shpImportRun(t, "Bernoulli", 15, 1, []*onnxpb.AttributeProto{shpInt("dtype", int64(tensor.Bool))},
		tensor.From(tensor.Shape{3}, []float32{1, 0, 1}))[0]
	if b := y.Bools(); !b[0] || b[1] || !b[2] {
		t.Fatalf("Bernoulli-15 of [1 0 1] gave %v", b)
	}
	y = shpImportRun(t, "Multinomial", 7, 1, []*onnxpb.AttributeProto{shpInt("sample_size", 5), shpInt("dtype", int64(tensor.Int64))},
		tensor.From(tensor.Shape{2, 3}, []float32{0, 0, 0, 0, 0, 0}))[0]
	if y.DType() != tensor.Int64 || !y.Shape().Equal(tensor.Shape{2, 5}) {
		t.Fatalf("Multinomial-7 gave %v%v", y.DType(), y.Shape())
	}
}

// Export writes the random ops at the lowest opset that allows their
// element types: bfloat16 needs version 22.
func TestRandomExportOpset(t *testing.T) {
	build := func(in tensor.DType, n *graph.Node, out tensor.DType) *graph.Graph {
		g := &graph.Graph{Name: "t", Outputs: []*graph.Value{{Name: "y", Type: graph.UnrankedType(out)}}, Nodes: []*graph.Node{n}}
		n.Name, n.Outputs = "r", []string{"y"}
		if in != tensor.Undefined {
			g.Inputs = []*graph.Value{{Name: "x", Type: graph.TensorType(in, 2, 3)}}
			n.Inputs = []string{"x"}
		}
		return g
	}
	f32, bf16 := int64(tensor.Float32), int64(tensor.BFloat16)
	for _, c := range []struct {
		name string
		g    *graph.Graph
		want int64
	}{
		{"uniform float32", build(0, &graph.Node{Op: "RandomUniform", Attrs: graph.Attrs{"shape": []int64{2}, "dtype": f32}}, tensor.Float32), MinExportOpset},
		{"normal bfloat16", build(0, &graph.Node{Op: "RandomNormal", Attrs: graph.Attrs{"shape": []int64{2}, "dtype": bf16}}, tensor.BFloat16), 22},
		{"uniform like bfloat16 input", build(tensor.BFloat16, &graph.Node{Op: "RandomUniformLike", Attrs: graph.Attrs{"dtype": f32}}, tensor.Float32), 22},
		{"bernoulli float32", build(tensor.Float32, &graph.Node{Op: "Bernoulli", Attrs: graph.Attrs{}}, tensor.Float32), 15},
		{"bernoulli to bfloat16", build(tensor.Float32, &graph.Node{Op: "Bernoulli", Attrs: graph.Attrs{"dtype": bf16}}, tensor.BFloat16), 22},
		{"multinomial float32", build(tensor.Float32, &graph.Node{Op: "Multinomial", Attrs: graph.Attrs{}}, tensor.Int32), MinExportOpset},
		{"multinomial bfloat16", build(tensor.BFloat16, &graph.Node{Op: "Multinomial", Attrs: graph.Attrs{}}, tensor.Int32), 22},
	} {
		mp, err := Export(c.g, ExportOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got int64
		for _, o := range mp.GetOpsetImport() {
			if o.GetDomain() == "" {
				got = o.GetVersion()
			}
		}
		if got != c.want {
			t.Errorf("%s: exported at opset %d, want %d", c.name, got, c.want)
		}
	}
}
