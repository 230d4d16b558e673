package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestLayoutAndGenerators(t *testing.T) {
	x48 := shpIota(tensor.Shape{1, 8, 2, 3})
	dcr := shpF(tensor.Shape{1, 2, 4, 6},
		0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38, 3, 15, 4, 16, 5, 17, 27, 39, 28, 40, 29, 41,
		6, 18, 7, 19, 8, 20, 30, 42, 31, 43, 32, 44, 9, 21, 10, 22, 11, 23, 33, 45, 34, 46, 35, 47)
	m3 := shpF(tensor.Shape{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	shpRunCases(t, []shpCase{
		// ONNX DepthToSpace spec examples (DCR and CRD).
		{"depthtospace DCR", DepthToSpace, graph.Attrs{"blocksize": int64(2)}, []*tensor.Tensor{x48}, []*tensor.Tensor{dcr}},
		{"depthtospace CRD", DepthToSpace, graph.Attrs{"blocksize": int64(2), "mode": "CRD"}, []*tensor.Tensor{x48},
			[]*tensor.Tensor{shpF(tensor.Shape{1, 2, 4, 6},
				0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20, 3, 9, 4, 10, 5, 11, 15, 21, 16, 22, 17, 23,
				24, 30, 25, 31, 26, 32, 36, 42, 37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47)}},
		// SpaceToDepth inverts DCR DepthToSpace.
		{"spacetodepth", SpaceToDepth, graph.Attrs{"blocksize": int64(2)}, []*tensor.Tensor{dcr}, []*tensor.Tensor{x48}},
		{"triu", Trilu, nil, []*tensor.Tensor{m3}, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 1, 2, 3, 0, 5, 6, 0, 0, 9)}},
		{"triu k=1", Trilu, nil, []*tensor.Tensor{m3, shpI(nil, 1)}, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 0, 2, 3, 0, 0, 6, 0, 0, 0)}},
		{"tril k=-1", Trilu, graph.Attrs{"upper": int64(0)}, []*tensor.Tensor{m3, shpI(nil, -1)}, []*tensor.Tensor{shpF(tensor.Shape{3, 3}, 0, 0, 0, 4, 0, 0, 7, 8, 0)}},
		{"tril batched rectangular", Trilu, graph.Attrs{"upper": int64(0)}, []*tensor.Tensor{shpIota(tensor.Shape{2, 2, 3})},
			[]*tensor.Tensor{shpF(tensor.Shape{2, 2, 3}, 0, 0, 0, 3, 4, 0, 6, 0, 0, 9, 10, 0)}},
		{"constantofshape default", ConstantOfShape, nil, []*tensor.Tensor{shpI(tensor.Shape{2}, 2, 1)}, []*tensor.Tensor{shpF(tensor.Shape{2, 1}, 0, 0)}},
		{"constantofshape int32", ConstantOfShape, graph.Attrs{"value": tensor.From(tensor.Shape{1}, []int32{7})}, []*tensor.Tensor{shpI(tensor.Shape{2}, 1, 2)},
			[]*tensor.Tensor{tensor.From(tensor.Shape{1, 2}, []int32{7, 7})}},
		{"constantofshape empty", ConstantOfShape, nil, []*tensor.Tensor{shpI(tensor.Shape{1}, 0)}, []*tensor.Tensor{shpF(tensor.Shape{0})}},
		// ONNX Range spec examples.
		{"range float", Range, nil, []*tensor.Tensor{shpF(nil, 3), shpF(nil, 9), shpF(nil, 3)}, []*tensor.Tensor{shpF(tensor.Shape{2}, 3, 6)}},
		{"range int32 negative", Range, nil, []*tensor.Tensor{tensor.From(nil, []int32{10}), tensor.From(nil, []int32{4}), tensor.From(nil, []int32{-2})},
			[]*tensor.Tensor{tensor.From(tensor.Shape{3}, []int32{10, 8, 6})}},
		{"range empty", Range, nil, []*tensor.Tensor{shpI(nil, 5), shpI(nil, 1), shpI(nil, 1)}, []*tensor.Tensor{shpI(tensor.Shape{0})}},
		{"eyelike k=1", EyeLike, graph.Attrs{"k": int64(1)}, []*tensor.Tensor{shpIota(tensor.Shape{3, 4})},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 4}, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)}},
		{"eyelike dtype", EyeLike, graph.Attrs{"dtype": int64(tensor.Int32), "k": int64(-1)}, []*tensor.Tensor{shpIota(tensor.Shape{2, 2})},
			[]*tensor.Tensor{tensor.From(tensor.Shape{2, 2}, []int32{0, 0, 1, 0})}},
		{"onehot", OneHot, nil, []*tensor.Tensor{shpI(tensor.Shape{3}, 0, -1, 5), shpF(nil, 3), shpF(tensor.Shape{2}, 0, 1)},
			[]*tensor.Tensor{shpF(tensor.Shape{3, 3}, 1, 0, 0, 0, 0, 1, 0, 0, 0)}},
		{"onehot axis 0", OneHot, graph.Attrs{"axis": int64(0)}, []*tensor.Tensor{shpF(tensor.Shape{2}, 1, 0), shpI(tensor.Shape{1}, 2), shpI(tensor.Shape{2}, 5, 9)},
			[]*tensor.Tensor{shpI(tensor.Shape{2, 2}, 5, 9, 9, 5)}},
		// ONNX ReverseSequence spec examples.
		{"reversesequence time", ReverseSequence, nil, []*tensor.Tensor{shpIota(tensor.Shape{4, 4}), shpI(tensor.Shape{4}, 4, 3, 2, 1)},
			[]*tensor.Tensor{shpF(tensor.Shape{4, 4}, 12, 9, 6, 3, 8, 5, 2, 7, 4, 1, 10, 11, 0, 13, 14, 15)}},
		{"reversesequence batch", ReverseSequence, graph.Attrs{"time_axis": int64(1), "batch_axis": int64(0)}, []*tensor.Tensor{shpIota(tensor.Shape{4, 4}), shpI(tensor.Shape{4}, 1, 2, 3, 4)},
			[]*tensor.Tensor{shpF(tensor.Shape{4, 4}, 0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12)}},
	})
}
