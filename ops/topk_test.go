package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestSelectionOps(t *testing.T) {
	x12 := shpIota(tensor.Shape{3, 4})
	in5 := shpF(tensor.Shape{5}, 1, 2, 3, 4, 5)
	axis0 := shpI(nil, 0)
	shpRunCases(t, []shpCase{
		// ONNX TopK spec example.
		{"topk", TopK, nil, []*tensor.Tensor{x12, shpI(tensor.Shape{1}, 3)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 3}, 3, 2, 1, 7, 6, 5, 11, 10, 9), shpI(tensor.Shape{3, 3}, 3, 2, 1, 3, 2, 1, 3, 2, 1)}},
		{"topk smallest axis 0", TopK, graph.Attrs{"largest": int64(0), "axis": int64(0)}, []*tensor.Tensor{x12, shpI(tensor.Shape{1}, 1)},
			[]*tensor.Tensor{shpF(tensor.Shape{1, 4}, 0, 1, 2, 3), shpI(tensor.Shape{1, 4}, 0, 0, 0, 0)}},
		{"topk ties lower index first", TopK, nil, []*tensor.Tensor{shpF(tensor.Shape{4}, 1, 2, 1, 2), shpI(tensor.Shape{1}, 3)},
			[]*tensor.Tensor{shpF(tensor.Shape{3}, 2, 2, 1), shpI(tensor.Shape{3}, 1, 3, 0)}},
		{"topk uint64", TopK, nil, []*tensor.Tensor{tensor.From(tensor.Shape{3}, []uint64{1 << 63, 5, 1<<63 + 1}), shpI(tensor.Shape{1}, 2)},
			[]*tensor.Tensor{tensor.From(tensor.Shape{2}, []uint64{1<<63 + 1, 1 << 63}), shpI(tensor.Shape{2}, 2, 0)}},
		// ONNX ArgMax spec examples.
		{"argmax keepdims", ArgMax, nil, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 2, 1, 3, 10)}, []*tensor.Tensor{shpI(tensor.Shape{1, 2}, 1, 1)}},
		{"argmax no keepdims", ArgMax, graph.Attrs{"axis": int64(1), "keepdims": int64(0)}, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 2, 1, 3, 10)}, []*tensor.Tensor{shpI(tensor.Shape{2}, 0, 1)}},
		{"argmax first tie", ArgMax, graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 2, 2, 3, 10)}, []*tensor.Tensor{shpI(tensor.Shape{2, 1}, 0, 1)}},
		{"argmax last tie", ArgMax, graph.Attrs{"axis": int64(1), "select_last_index": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 2, 2, 3, 10)}, []*tensor.Tensor{shpI(tensor.Shape{2, 1}, 1, 1)}},
		{"argmin", ArgMin, graph.Attrs{"axis": int64(-1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 2, 1, 3, 10)}, []*tensor.Tensor{shpI(tensor.Shape{2, 1}, 1, 0)}},
		{"argmin last tie", ArgMin, graph.Attrs{"select_last_index": int64(1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 2}, 1, 1, 1, 10)}, []*tensor.Tensor{shpI(tensor.Shape{1, 2}, 1, 0)}},
		// ONNX CumSum spec examples.
		{"cumsum", CumSum, nil, []*tensor.Tensor{in5, axis0}, []*tensor.Tensor{shpF(tensor.Shape{5}, 1, 3, 6, 10, 15)}},
		{"cumsum exclusive", CumSum, graph.Attrs{"exclusive": int64(1)}, []*tensor.Tensor{in5, axis0}, []*tensor.Tensor{shpF(tensor.Shape{5}, 0, 1, 3, 6, 10)}},
		{"cumsum reverse", CumSum, graph.Attrs{"reverse": int64(1)}, []*tensor.Tensor{in5, axis0}, []*tensor.Tensor{shpF(tensor.Shape{5}, 15, 14, 12, 9, 5)}},
		{"cumsum reverse exclusive", CumSum, graph.Attrs{"reverse": int64(1), "exclusive": int64(1)}, []*tensor.Tensor{in5, axis0}, []*tensor.Tensor{shpF(tensor.Shape{5}, 14, 12, 9, 5, 0)}},
		{"cumsum axis 1 int32", CumSum, nil, []*tensor.Tensor{tensor.From(tensor.Shape{2, 3}, []int32{1, 2, 3, 4, 5, 6}), tensor.From(nil, []int32{1})},
			[]*tensor.Tensor{tensor.From(tensor.Shape{2, 3}, []int32{1, 3, 6, 4, 9, 15})}},
		{"cumprod", CumProd, nil, []*tensor.Tensor{in5, axis0}, []*tensor.Tensor{shpF(tensor.Shape{5}, 1, 2, 6, 24, 120)}},
		{"cumprod exclusive reverse", CumProd, graph.Attrs{"reverse": int64(1), "exclusive": int64(1)}, []*tensor.Tensor{in5, axis0}, []*tensor.Tensor{shpF(tensor.Shape{5}, 120, 60, 20, 5, 1)}},
		// ONNX NonZero and Compress spec examples.
		{"nonzero", NonZero, nil, []*tensor.Tensor{tensor.From(tensor.Shape{2, 2}, []bool{true, false, true, true})}, []*tensor.Tensor{shpI(tensor.Shape{2, 3}, 0, 1, 1, 0, 0, 1)}},
		{"compress axis 0", Compress, graph.Attrs{"axis": int64(0)}, []*tensor.Tensor{shpF(tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6), tensor.From(tensor.Shape{3}, []bool{false, true, true})},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2}, 3, 4, 5, 6)}},
		{"compress flat short condition", Compress, nil, []*tensor.Tensor{shpF(tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6), tensor.From(tensor.Shape{5}, []bool{false, true, false, false, true})},
			[]*tensor.Tensor{shpF(tensor.Shape{2}, 2, 5)}},
		// ONNX Unique spec examples.
		{"unique unsorted", Unique, graph.Attrs{"sorted": int64(0)}, []*tensor.Tensor{shpF(tensor.Shape{6}, 2, 1, 1, 3, 4, 3)},
			[]*tensor.Tensor{shpF(tensor.Shape{4}, 2, 1, 3, 4), shpI(tensor.Shape{4}, 0, 1, 3, 4), shpI(tensor.Shape{6}, 0, 1, 1, 2, 3, 2), shpI(tensor.Shape{4}, 1, 2, 2, 1)}},
		{"unique sorted", Unique, nil, []*tensor.Tensor{shpF(tensor.Shape{6}, 2, 1, 1, 3, 4, 3)},
			[]*tensor.Tensor{shpF(tensor.Shape{4}, 1, 2, 3, 4), shpI(tensor.Shape{4}, 1, 0, 3, 4), shpI(tensor.Shape{6}, 1, 0, 0, 2, 3, 2), shpI(tensor.Shape{4}, 2, 1, 2, 1)}},
		{"unique axis", Unique, graph.Attrs{"axis": int64(0)}, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 1, 0, 0, 1, 0, 0, 2, 3, 4)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 3}, 1, 0, 0, 2, 3, 4), shpI(tensor.Shape{2}, 0, 2), shpI(tensor.Shape{3}, 0, 0, 1), shpI(tensor.Shape{2}, 2, 1)}},
		{"unique strings", Unique, nil, []*tensor.Tensor{shpS(tensor.Shape{3}, "b", "a", "b")},
			[]*tensor.Tensor{shpS(tensor.Shape{2}, "a", "b")}},
	})
}
