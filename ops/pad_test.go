package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestConcatSplitPad(t *testing.T) {
	x := shpF(tensor.Shape{3, 2}, 1.0, 1.2, 2.3, 3.4, 4.5, 5.7)
	pads := shpI(tensor.Shape{4}, 0, 2, 0, 0)
	seven := shpIota(tensor.Shape{7})
	shpRunCases(t, []shpCase{
		{"concat axis 1", Concat, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 1}, 1, 2), shpF(tensor.Shape{2, 2}, 3, 4, 5, 6)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 3}, 1, 3, 4, 2, 5, 6)}},
		{"concat axis -2", Concat, graph.Attrs{"axis": int64(-2)}, []*tensor.Tensor{shpF(tensor.Shape{1, 2}, 1, 2), shpF(tensor.Shape{0, 2}), shpF(tensor.Shape{1, 2}, 3, 4)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2}, 1, 2, 3, 4)}},
		{"concat bools", Concat, nil, []*tensor.Tensor{tensor.From(tensor.Shape{1}, []bool{true}), tensor.From(tensor.Shape{2}, []bool{false, true})},
			[]*tensor.Tensor{tensor.From(tensor.Shape{3}, []bool{true, false, true})}},
		{"split equal", Split, nil, []*tensor.Tensor{shpIota(tensor.Shape{6})},
			[]*tensor.Tensor{shpF(tensor.Shape{2}, 0, 1), shpF(tensor.Shape{2}, 2, 3), shpF(tensor.Shape{2}, 4, 5)}},
		// ONNX split_1d_uneven_split_opset18: the last chunk is smaller.
		{"split uneven", Split, graph.Attrs{"num_outputs": int64(4)}, []*tensor.Tensor{seven},
			[]*tensor.Tensor{shpF(tensor.Shape{2}, 0, 1), shpF(tensor.Shape{2}, 2, 3), shpF(tensor.Shape{2}, 4, 5), shpF(tensor.Shape{1}, 6)}},
		{"split sizes axis 1", Split, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpIota(tensor.Shape{2, 3}), shpI(tensor.Shape{2}, 1, 2)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 1}, 0, 3), shpF(tensor.Shape{2, 2}, 1, 2, 4, 5)}},
		{"split zero size", Split, nil, []*tensor.Tensor{shpIota(tensor.Shape{2}), shpI(tensor.Shape{3}, 0, 2, 0)},
			[]*tensor.Tensor{shpF(tensor.Shape{0}), shpF(tensor.Shape{2}, 0, 1), shpF(tensor.Shape{0})}},
		// ONNX Pad spec examples (constant, reflect, edge, wrap).
		{"pad constant", Pad, nil, []*tensor.Tensor{x, pads, shpF(nil, 0)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 4}, 0, 0, 1.0, 1.2, 0, 0, 2.3, 3.4, 0, 0, 4.5, 5.7)}},
		{"pad reflect", Pad, graph.Attrs{"mode": "reflect"}, []*tensor.Tensor{x, pads},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 4}, 1.0, 1.2, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7)}},
		{"pad edge", Pad, graph.Attrs{"mode": "edge"}, []*tensor.Tensor{x, pads},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 4}, 1.0, 1.0, 1.0, 1.2, 2.3, 2.3, 2.3, 3.4, 4.5, 4.5, 4.5, 5.7)}},
		{"pad wrap", Pad, graph.Attrs{"mode": "wrap"}, []*tensor.Tensor{x, shpI(tensor.Shape{4}, 2, 1, 1, 1)},
			[]*tensor.Tensor{shpF(tensor.Shape{6, 4},
				3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5, 1.2, 1.0, 1.2, 1.0,
				3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5, 1.2, 1.0, 1.2, 1.0)}},
		{"pad axes and crop", Pad, nil, []*tensor.Tensor{shpIota(tensor.Shape{2, 3}), shpI(tensor.Shape{2}, -1, 1), shpF(nil, 9), shpI(tensor.Shape{1}, -1)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 3}, 1, 2, 9, 4, 5, 9)}},
		{"pad reflect wide", Pad, graph.Attrs{"mode": "reflect"}, []*tensor.Tensor{shpF(tensor.Shape{3}, 1, 2, 3), shpI(tensor.Shape{2}, 4, 0)},
			[]*tensor.Tensor{shpF(tensor.Shape{7}, 1, 2, 3, 2, 1, 2, 3)}},
		{"pad strings", Pad, nil, []*tensor.Tensor{shpS(tensor.Shape{1}, "a"), shpI(tensor.Shape{2}, 1, 1), shpS(nil, "-")},
			[]*tensor.Tensor{shpS(tensor.Shape{3}, "-", "a", "-")}},
		{"center crop", CenterCropPad, nil, []*tensor.Tensor{shpF(tensor.Shape{5}, 1, 2, 3, 4, 5), shpI(tensor.Shape{1}, 3)},
			[]*tensor.Tensor{shpF(tensor.Shape{3}, 2, 3, 4)}},
		{"center pad", CenterCropPad, nil, []*tensor.Tensor{shpF(tensor.Shape{2}, 1, 2), shpI(tensor.Shape{1}, 5)},
			[]*tensor.Tensor{shpF(tensor.Shape{5}, 0, 1, 2, 0, 0)}},
		{"center crop axes", CenterCropPad, graph.Attrs{"axes": []int64{-1}}, []*tensor.Tensor{shpIota(tensor.Shape{2, 4}), shpI(tensor.Shape{1}, 2)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2}, 1, 2, 5, 6)}},
		// ONNX Expand spec, dim_changed.
		{"expand", Expand, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 1}, 1, 2, 3), shpI(tensor.Shape{3}, 2, 1, 2)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 3, 2}, 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3)}},
		{"expand lower rank", Expand, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 1}, 1, 2, 3), shpI(tensor.Shape{1}, 1)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 1}, 1, 2, 3)}},
		{"tile", Tile, nil, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 0, 1, 2, 3), shpI(tensor.Shape{2}, 2, 2)},
			[]*tensor.Tensor{shpF(tensor.Shape{4, 4}, 0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3)}},
	})
}

func TestSplitPadErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		d     *Def
		attrs graph.Attrs
		in    []*tensor.Tensor
	}{
		{"split sum", Split, nil, []*tensor.Tensor{shpIota(tensor.Shape{4}), shpI(tensor.Shape{1}, 3)}},
		{"pad mode", Pad, graph.Attrs{"mode": "mirror"}, []*tensor.Tensor{shpIota(tensor.Shape{4}), shpI(tensor.Shape{2}, 1, 1)}},
		{"pad count", Pad, nil, []*tensor.Tensor{shpIota(tensor.Shape{4}), shpI(tensor.Shape{1}, 1)}},
		{"concat dtype", Concat, nil, []*tensor.Tensor{shpIota(tensor.Shape{1}), shpI(tensor.Shape{1}, 1)}},
		{"expand incompatible", Expand, nil, []*tensor.Tensor{shpIota(tensor.Shape{3}), shpI(tensor.Shape{1}, 2)}},
	} {
		if _, err := c.d.Kernel(shpNode(c.d, c.attrs, len(c.in), 1), c.in); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
