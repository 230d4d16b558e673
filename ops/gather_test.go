package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestGatherScatter(t *testing.T) {
	shpRunCases(t, []shpCase{
		// ONNX Gather spec, examples 1 and 2.
		{"gather axis 0", Gather, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 2}, 1.0, 1.2, 2.3, 3.4, 4.5, 5.7), shpI(tensor.Shape{2, 2}, 0, 1, 1, 2)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2, 2}, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7)}},
		{"gather axis 1", Gather, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 1.0, 1.2, 1.9, 2.3, 3.4, 3.9, 4.5, 5.7, 5.9), shpI(tensor.Shape{1, 2}, 0, 2)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 1, 2}, 1.0, 1.9, 2.3, 3.9, 4.5, 5.9)}},
		{"gather negative strings", Gather, nil, []*tensor.Tensor{shpS(tensor.Shape{3}, "a", "b", "c"), tensor.From(tensor.Shape{2}, []int32{-1, 0})},
			[]*tensor.Tensor{shpS(tensor.Shape{2}, "c", "a")}},
		{"gather scalar index", Gather, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6), shpI(nil, 1)},
			[]*tensor.Tensor{shpF(tensor.Shape{2}, 3, 4)}},
		// ONNX GatherElements spec, examples 1 and 2.
		{"gather elements axis 1", GatherElements, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 1, 2, 3, 4), shpI(tensor.Shape{2, 2}, 0, 0, 1, 0)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2}, 1, 1, 4, 3)}},
		{"gather elements axis 0", GatherElements, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9), shpI(tensor.Shape{2, 3}, 1, 2, 0, 2, 0, 0)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 3}, 4, 8, 3, 7, 2, 3)}},
		{"gather elements negative", GatherElements, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6), shpI(tensor.Shape{2, 1}, -1, -3)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 1}, 3, 4)}},
		// ONNX GatherND spec, examples 1, 2 and 5 (batch_dims=1).
		{"gathernd elements", GatherND, nil, []*tensor.Tensor{shpI(tensor.Shape{2, 2}, 0, 1, 2, 3), shpI(tensor.Shape{2, 2}, 0, 0, 1, 1)},
			[]*tensor.Tensor{shpI(tensor.Shape{2}, 0, 3)}},
		{"gathernd slices", GatherND, nil, []*tensor.Tensor{shpI(tensor.Shape{2, 2}, 0, 1, 2, 3), shpI(tensor.Shape{2, 1}, 1, 0)},
			[]*tensor.Tensor{shpI(tensor.Shape{2, 2}, 2, 3, 0, 1)}},
		{"gathernd batch", GatherND, graph.Attrs{"batch_dims": int64(1)}, []*tensor.Tensor{shpI(tensor.Shape{2, 2, 2}, 0, 1, 2, 3, 4, 5, 6, 7), shpI(tensor.Shape{2, 1}, 1, 0)},
			[]*tensor.Tensor{shpI(tensor.Shape{2, 2}, 2, 3, 4, 5)}},
		// ONNX ScatterElements spec example 2 and its reduction form.
		{"scatter elements", ScatterElements, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{1, 5}, 1, 2, 3, 4, 5), shpI(tensor.Shape{1, 2}, 1, 3), shpF(tensor.Shape{1, 2}, 1.1, 2.1)},
			[]*tensor.Tensor{shpF(tensor.Shape{1, 5}, 1, 1.1, 3, 2.1, 5)}},
		{"scatter elements add duplicates", ScatterElements, graph.Attrs{"axis": int64(1), "reduction": "add"}, []*tensor.Tensor{shpF(tensor.Shape{1, 5}, 1, 2, 3, 4, 5), shpI(tensor.Shape{1, 2}, 1, 1), shpF(tensor.Shape{1, 2}, 1.1, 2.1)},
			[]*tensor.Tensor{shpF(tensor.Shape{1, 5}, 1, 5.2, 3, 4, 5)}},
		{"scatter elements max", ScatterElements, graph.Attrs{"axis": int64(1), "reduction": "max"}, []*tensor.Tensor{shpF(tensor.Shape{1, 5}, 1, 2, 3, 4, 5), shpI(tensor.Shape{1, 2}, 1, 1), shpF(tensor.Shape{1, 2}, 1.1, 2.1)},
			[]*tensor.Tensor{shpF(tensor.Shape{1, 5}, 1, 2.1, 3, 4, 5)}},
		{"scatter elements default axis", ScatterElements, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 0, 0, 0, 0, 0, 0, 0, 0, 0), shpI(tensor.Shape{2, 3}, 1, 0, 2, 0, 2, 1), shpF(tensor.Shape{2, 3}, 1, 1.1, 1.2, 2, 2.1, 2.2)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 3}, 2, 1.1, 0, 1, 0, 2.2, 0, 2.1, 1.2)}},
		// ONNX ScatterND spec, example 1, and a mul reduction.
		{"scatternd", ScatterND, nil, []*tensor.Tensor{shpF(tensor.Shape{8}, 1, 2, 3, 4, 5, 6, 7, 8), shpI(tensor.Shape{4, 1}, 4, 3, 1, 7), shpF(tensor.Shape{4}, 9, 10, 11, 12)},
			[]*tensor.Tensor{shpF(tensor.Shape{8}, 1, 11, 3, 10, 9, 6, 7, 12)}},
		{"scatternd mul", ScatterND, graph.Attrs{"reduction": "mul"}, []*tensor.Tensor{shpI(tensor.Shape{2, 2}, 1, 2, 3, 4), shpI(tensor.Shape{2, 1}, 1, 1), shpI(tensor.Shape{2, 2}, 2, 3, 4, 5)},
			[]*tensor.Tensor{shpI(tensor.Shape{2, 2}, 1, 2, 24, 60)}},
		{"scatternd strings", ScatterND, nil, []*tensor.Tensor{shpS(tensor.Shape{3}, "a", "b", "c"), shpI(tensor.Shape{1, 1}, 1), shpS(tensor.Shape{1}, "z")},
			[]*tensor.Tensor{shpS(tensor.Shape{3}, "a", "z", "c")}},
	})
}

func TestGatherOutOfRange(t *testing.T) {
	x := shpF(tensor.Shape{3}, 1, 2, 3)
	for _, c := range []struct {
		d  *Def
		in []*tensor.Tensor
	}{
		{Gather, []*tensor.Tensor{x, shpI(tensor.Shape{1}, 3)}},
		{Gather, []*tensor.Tensor{x, shpI(tensor.Shape{1}, -4)}},
		{GatherElements, []*tensor.Tensor{x, shpI(tensor.Shape{1}, 5)}},
		{GatherND, []*tensor.Tensor{x, shpI(tensor.Shape{1, 1}, 9)}},
		{ScatterElements, []*tensor.Tensor{x, shpI(tensor.Shape{1}, 5), shpF(tensor.Shape{1}, 0)}},
		{ScatterND, []*tensor.Tensor{x, shpI(tensor.Shape{1, 1}, 5), shpF(tensor.Shape{1}, 0)}},
	} {
		if _, err := c.d.Kernel(shpNode(c.d, nil, len(c.in), 1), c.in); err == nil {
			t.Errorf("%s: no error for an out-of-range index", c.d.Name)
		}
	}
}
