package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

// ix is a constant int64 input of the given shape (indices).
func ix(shape []int, v ...int64) in { return in{ints: v, shape: shape} }

func TestGradGatherElements(t *testing.T) {
	axis := func(a int64) graph.Attrs { return graph.Attrs{"axis": a} }
	runCases(t, []opCase{
		{name: "Axis0Repeats", op: "GatherElements", ins: []in{f(3, 2), ix([]int{4, 2}, 0, 1, 2, 1, 0, 0, 2, 1)}},
		{name: "Axis1Negative", op: "GatherElements", attrs: axis(1), ins: []in{f(2, 4), ix([]int{2, 3}, -1, 0, 3, 1, 1, -3)}},
		{name: "Axis2Smaller", op: "GatherElements", attrs: axis(-1), ins: []in{f(2, 3, 4), ix([]int{2, 2, 2}, 0, 3, 3, 3, 1, 2, 0, 0)}},
		{name: "GatherND", op: "GatherND", ins: []in{f(3, 4), ix([]int{3, 2}, 0, 1, 2, 3, 0, 1)}},
		{name: "GatherNDSlices", op: "GatherND", ins: []in{f(3, 2, 2), ix([]int{2, 1}, 2, -3)}},
	})
}

func TestGradScatter(t *testing.T) {
	add := graph.Attrs{"reduction": "add"}
	runCases(t, []opCase{
		{name: "ElementsUnique", op: "ScatterElements", ins: []in{f(3, 3), ix([]int{2, 3}, 1, 0, 2, 0, 2, 1), f(2, 3)}},
		{name: "ElementsAxis1Repeats", op: "ScatterElements", attrs: graph.Attrs{"axis": int64(1)},
			ins: []in{f(2, 5), ix([]int{2, 3}, 1, 3, 1, -1, 4, 0), f(2, 3)}},
		{name: "ElementsRepeats3D", op: "ScatterElements", attrs: graph.Attrs{"axis": int64(0)},
			ins: []in{f(3, 2, 2), ix([]int{3, 2, 1}, 2, 0, 2, 1, 0, 0), f(3, 2, 1)}},
		{name: "ElementsAdd", op: "ScatterElements", attrs: graph.Attrs{"axis": int64(1), "reduction": "add"},
			ins: []in{f(2, 4), ix([]int{2, 3}, 0, 0, 3, 2, 1, 2), f(2, 3)}},
		{name: "NDUnique", op: "ScatterND", ins: []in{f(4, 3), ix([]int{2, 2}, 0, 2, 3, 1), f(2)}},
		{name: "NDSlicesRepeats", op: "ScatterND", ins: []in{f(4, 3), ix([]int{3, 1}, 1, 3, -3), f(3, 3)}},
		{name: "NDAdd", op: "ScatterND", attrs: add, ins: []in{f(2, 3, 2), ix([]int{3, 2}, 0, 1, 1, 2, 0, 1), f(3, 2)}},
	})
}
