package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestTransposeSlice(t *testing.T) {
	x := shpF(tensor.Shape{2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)
	ten := shpIota(tensor.Shape{10})
	shpRunCases(t, []shpCase{
		{"transpose default", Transpose, nil, []*tensor.Tensor{shpF(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 2}, 1, 4, 2, 5, 3, 6)}},
		{"transpose perm", Transpose, graph.Attrs{"perm": []int64{1, 0, 2}}, []*tensor.Tensor{shpIota(tensor.Shape{2, 2, 2})},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2, 2}, 0, 1, 4, 5, 2, 3, 6, 7)}},
		{"transpose strings", Transpose, nil, []*tensor.Tensor{shpS(tensor.Shape{2, 2}, "a", "b", "c", "d")},
			[]*tensor.Tensor{shpS(tensor.Shape{2, 2}, "a", "c", "b", "d")}},
		// ONNX Slice spec, example 1.
		{"slice steps", Slice, nil, []*tensor.Tensor{x, shpI(tensor.Shape{2}, 1, 0), shpI(tensor.Shape{2}, 2, 3),
			shpI(tensor.Shape{2}, 0, 1), shpI(tensor.Shape{2}, 1, 2)}, []*tensor.Tensor{shpF(tensor.Shape{1, 2}, 5, 7)}},
		// ONNX Slice spec, example 2: ends past the end are clamped.
		{"slice clamp", Slice, nil, []*tensor.Tensor{x, shpI(tensor.Shape{2}, 0, 1), shpI(tensor.Shape{2}, -1, 1000)},
			[]*tensor.Tensor{shpF(tensor.Shape{1, 3}, 2, 3, 4)}},
		{"slice reverse all", Slice, nil, []*tensor.Tensor{ten, shpI(tensor.Shape{1}, -1), shpI(tensor.Shape{1}, -1000), nil, shpI(tensor.Shape{1}, -1)},
			[]*tensor.Tensor{shpF(tensor.Shape{10}, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)}},
		{"slice step -3 from past end", Slice, nil, []*tensor.Tensor{ten, shpI(tensor.Shape{1}, 20), shpI(tensor.Shape{1}, 0), shpI(tensor.Shape{1}, 0), shpI(tensor.Shape{1}, -3)},
			[]*tensor.Tensor{shpF(tensor.Shape{3}, 9, 6, 3)}},
		{"slice start past end", Slice, nil, []*tensor.Tensor{ten, shpI(tensor.Shape{1}, 1000), shpI(tensor.Shape{1}, 1001)},
			[]*tensor.Tensor{shpF(tensor.Shape{0})}},
		{"slice negative axis", Slice, nil, []*tensor.Tensor{x, shpI(tensor.Shape{1}, 2), shpI(tensor.Shape{1}, 4), shpI(tensor.Shape{1}, -1)},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2}, 3, 4, 7, 8)}},
	})
}
