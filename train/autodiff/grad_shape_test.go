package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

func TestGradShape(t *testing.T) {
	runCases(t, []opCase{
		{name: "Reshape", op: "Reshape", ins: []in{f(2, 3, 4), ints(6, -1)}},
		{name: "Flatten", op: "Flatten", attrs: graph.Attrs{"axis": int64(2)}, ins: []in{f(2, 3, 4)}},
		{name: "Squeeze", op: "Squeeze", ins: []in{f(2, 1, 3), ints(1)}},
		{name: "Unsqueeze", op: "Unsqueeze", ins: []in{f(2, 3), ints(-1, 0)}},
		{name: "Transpose", op: "Transpose", attrs: graph.Attrs{"perm": []int64{2, 0, 1}}, ins: []in{f(2, 3, 4)}},
		{name: "TransposeDefault", op: "Transpose", ins: []in{f(2, 3, 4)}},
		{name: "Expand", op: "Expand", ins: []in{f(3, 1), ints(2, 3, 4)}},
		{name: "Concat", op: "Concat", attrs: graph.Attrs{"axis": int64(-1)}, ins: []in{f(2, 3), f(2, 1), f(2, 2)}},
		{name: "Split", op: "Split", attrs: graph.Attrs{"axis": int64(1)}, nOut: 2, out: 1, ins: []in{f(2, 5), ints(2, 3)}},
		{name: "SliceSteps", op: "Slice", ins: []in{f(4, 6), ints(1, -1), ints(4, 0), ints(0, 1), ints(2, -2)}},
		{name: "Slice", op: "Slice", ins: []in{f(4, 6), ints(1), ints(3)}},
		{name: "Gather", op: "Gather", attrs: graph.Attrs{"axis": int64(1)}, ins: []in{f(2, 4, 3), {ints: []int64{0, 3, 3, -1, 1, 0}, shape: []int{2, 3}}}},
		{name: "GatherEmbedding", op: "Gather", ins: []in{f(5, 3), {ints: []int64{4, 0, 4}, shape: []int{3}}}},
		{name: "Tile", op: "Tile", ins: []in{f(2, 3), ints(2, 3)}},
		{name: "Pad", op: "Pad", ins: []in{f(2, 3), ints(0, 1, 2, 0)}},
		{name: "PadAxesValue", op: "Pad", ins: []in{f(2, 3), ints(1, 2), {vals: []float64{0.5}, shape: []int{}}, ints(1)}},
		{name: "Trilu", op: "Trilu", attrs: graph.Attrs{"upper": int64(0)}, ins: []in{f(3, 4)}},
	})
}

func TestGradReduce(t *testing.T) {
	kd0 := graph.Attrs{"keepdims": int64(0)}
	runCases(t, []opCase{
		{name: "SumAxes", op: "ReduceSum", attrs: kd0, ins: []in{f(2, 3, 4), ints(-1, 0)}},
		{name: "SumKeep", op: "ReduceSum", ins: []in{f(2, 3, 4), ints(1)}},
		{name: "SumAll", op: "ReduceSum", attrs: kd0, ins: []in{f(2, 3)}},
		{name: "MeanAxes", op: "ReduceMean", attrs: kd0, ins: []in{f(2, 3, 4), ints(1, 2)}},
		{name: "MeanAllKeep", op: "ReduceMean", ins: []in{f(2, 3)}},
		{name: "Max", op: "ReduceMax", attrs: kd0, ins: []in{f(3, 5), ints(1)}},
		{name: "Min", op: "ReduceMin", ins: []in{f(3, 5), ints(0)}},
		{name: "SumSquare", op: "ReduceSumSquare", attrs: kd0, ins: []in{f(3, 4), ints(-1)}},
		{name: "L1", op: "ReduceL1", attrs: kd0, ins: []in{k(zero, 3, 4), ints(-1)}},
		{name: "L2", op: "ReduceL2", attrs: kd0, ins: []in{f(3, 4), ints(-1)}},
		{name: "LogSumExp", op: "ReduceLogSumExp", attrs: kd0, ins: []in{f(3, 4), ints(0)}},
		{name: "LogSum", op: "ReduceLogSum", attrs: kd0, ins: []in{pos(3, 4), ints(1)}},
		{name: "Prod", op: "ReduceProd", attrs: kd0, ins: []in{pos(3, 4), ints(1)}},
	})
}

func TestGradLinalg(t *testing.T) {
	runCases(t, []opCase{
		{name: "MatMul2D", op: "MatMul", ins: []in{f(3, 4), f(4, 2)}},
		{name: "MatMulBatchBroadcast", op: "MatMul", ins: []in{f(2, 3, 4), f(4, 5)}},
		{name: "MatMulBatchBoth", op: "MatMul", ins: []in{f(2, 1, 3, 4), f(3, 4, 2)}},
		{name: "MatMulVecLeft", op: "MatMul", ins: []in{f(4), f(2, 4, 3)}},
		{name: "MatMulVecRight", op: "MatMul", ins: []in{f(2, 3, 4), f(4)}},
		{name: "MatMulDot", op: "MatMul", ins: []in{f(4), f(4)}},
		{name: "Gemm", op: "Gemm", attrs: graph.Attrs{"alpha": float32(0.5), "beta": float32(2)}, ins: []in{f(3, 4), f(4, 2), f(2)}},
		{name: "GemmTransA", op: "Gemm", attrs: graph.Attrs{"transA": int64(1)}, ins: []in{f(4, 3), f(4, 2), f(3, 1)}},
		{name: "GemmTransB", op: "Gemm", attrs: graph.Attrs{"transB": int64(1)}, ins: []in{f(3, 4), f(2, 4)}},
		{name: "GemmTransAB", op: "Gemm", attrs: graph.Attrs{"transA": int64(1), "transB": int64(1), "alpha": float32(1.5)}, ins: []in{f(4, 3), f(2, 4), f(3, 2)}},
		{name: "Einsum", op: "Einsum", attrs: graph.Attrs{"equation": "bij,jk->bik"}, ins: []in{f(2, 3, 4), f(4, 5)}},
		{name: "EinsumAttention", op: "Einsum", attrs: graph.Attrs{"equation": "aecd,abcd->acbe"}, ins: []in{f(2, 3, 2, 4), f(2, 5, 2, 4)}},
		{name: "EinsumImplicit", op: "Einsum", attrs: graph.Attrs{"equation": "ij,jk"}, ins: []in{f(2, 3), f(3, 4)}},
		{name: "Softmax", op: "Softmax", ins: []in{f(3, 5)}},
		{name: "SoftmaxAxis", op: "Softmax", attrs: graph.Attrs{"axis": int64(1)}, ins: []in{f(2, 3, 4)}},
		{name: "LogSoftmax", op: "LogSoftmax", ins: []in{f(3, 5)}},
	})
}
