package autodiff

import (
	"errors"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
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

// Rules refuse what they cannot differentiate with an error naming the
// node; unsupported features wrap ops.ErrUnsupported.
func TestGradRuleErrors(t *testing.T) {
	f64 := func(s ...int) graph.Type { return graph.TensorType(tensor.Float64, s...) }
	idx := &graph.Param{Name: "i", Tensor: tensor.FromInt64s(tensor.Shape{1, 2}, []int64{0, 1})}
	cases := []struct {
		name        string
		node        *graph.Node
		params      []*graph.Param
		unsupported bool
	}{
		{"ScatterMul", &graph.Node{Op: "ScatterElements", Inputs: []string{"x", "i", "u"}, Attrs: graph.Attrs{"reduction": "mul"}}, []*graph.Param{idx}, true},
		{"ScatterNDMax", &graph.Node{Op: "ScatterND", Inputs: []string{"x", "i", "u"}, Attrs: graph.Attrs{"reduction": "max"}}, []*graph.Param{idx}, true},
		{"GatherNDBatchDims", &graph.Node{Op: "GatherND", Inputs: []string{"x", "i"}, Attrs: graph.Attrs{"batch_dims": int64(1)}}, []*graph.Param{idx}, true},
		{"DepthToSpaceBlocksize", &graph.Node{Op: "DepthToSpace", Inputs: []string{"x"}, Attrs: graph.Attrs{"blocksize": int64(0)}}, nil, false},
		{"DepthToSpaceMode", &graph.Node{Op: "DepthToSpace", Inputs: []string{"x"}, Attrs: graph.Attrs{"blocksize": int64(1), "mode": "RCD"}}, nil, false},
		{"PadMode", &graph.Node{Op: "Pad", Inputs: []string{"x", "i"}, Attrs: graph.Attrs{"mode": "mirror"}}, []*graph.Param{idx}, true},
		{"GroupNormGroups", &graph.Node{Op: "GroupNormalization", Inputs: []string{"x", "u", "u"}}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.node.Name, c.node.Outputs = "op", []string{"y"}
			g := &graph.Graph{
				Inputs: []*graph.Value{{Name: "x", Type: f64(2, 2)}, {Name: "u", Type: f64(2)}},
				Params: c.params,
				Nodes: []*graph.Node{c.node,
					{Name: "s", Op: "ReduceSum", Inputs: []string{"y"}, Outputs: []string{"l"}, Attrs: graph.Attrs{"keepdims": int64(0)}}},
			}
			_, err := Grad(g, "l", []string{"x", "u"})
			if err == nil || !strings.Contains(err.Error(), `"op"`) {
				t.Fatalf("err = %v, want an error naming node op", err)
			}
			if c.unsupported && !errors.Is(err, ops.ErrUnsupported) {
				t.Errorf("err = %v, want ops.ErrUnsupported", err)
			}
		})
	}
}
