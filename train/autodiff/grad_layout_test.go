package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

func TestGradPadModes(t *testing.T) {
	mode := func(m string) graph.Attrs { return graph.Attrs{"mode": m} }
	value := in{vals: []float64{0.5}, shape: []int{}}
	runCases(t, []opCase{
		{name: "ConstantCrop", op: "Pad", ins: []in{f(3, 5), ints(1, -2, -1, 2)}},
		{name: "ConstantCropValue", op: "Pad", ins: []in{f(3, 5), ints(-1, 2, 2, -1), value}},
		{name: "Reflect", op: "Pad", attrs: mode("reflect"), ins: []in{f(2, 4), ints(1, 2, 0, 3)}},
		{name: "ReflectBeyondSize", op: "Pad", attrs: mode("reflect"), ins: []in{f(1, 2, 3), ints(0, 0, 5, 0, 0, 4)}},
		{name: "ReflectAxesCrop", op: "Pad", attrs: mode("reflect"), ins: []in{f(2, 3, 5), ints(2, -1), none, ints(-1)}},
		{name: "Edge", op: "Pad", attrs: mode("edge"), ins: []in{f(2, 3), ints(2, 0, 1, 3)}},
		{name: "EdgeAxes", op: "Pad", attrs: mode("edge"), ins: []in{f(2, 3, 4), ints(1, 0, 2, 1), none, ints(0, 2)}},
		{name: "Wrap", op: "Pad", attrs: mode("wrap"), ins: []in{f(3, 4), ints(1, 2, 2, 1)}},
		{name: "WrapBeyondSize", op: "Pad", attrs: mode("wrap"), ins: []in{f(2, 3), ints(0, 7, 0, 4)}},
	})
}

func TestGradDepthToSpace(t *testing.T) {
	b := func(n int64, m string) graph.Attrs {
		a := graph.Attrs{"blocksize": n}
		if m != "" {
			a["mode"] = m
		}
		return a
	}
	runCases(t, []opCase{
		{name: "DCRDefault", op: "DepthToSpace", attrs: b(2, ""), ins: []in{f(2, 8, 2, 3)}},
		{name: "DCR3", op: "DepthToSpace", attrs: b(3, "DCR"), ins: []in{f(1, 9, 2, 2)}},
		{name: "CRD", op: "DepthToSpace", attrs: b(2, "CRD"), ins: []in{f(2, 8, 3, 2)}},
		{name: "CRD3", op: "DepthToSpace", attrs: b(3, "CRD"), ins: []in{f(1, 18, 1, 2)}},
		{name: "SpaceToDepth", op: "SpaceToDepth", attrs: b(2, ""), ins: []in{f(2, 3, 4, 6)}},
		{name: "SpaceToDepth3", op: "SpaceToDepth", attrs: b(3, ""), ins: []in{f(1, 2, 3, 6)}},
	})
}

func TestGradCumSum(t *testing.T) {
	cum := func(excl, rev int64) graph.Attrs { return graph.Attrs{"exclusive": excl, "reverse": rev} }
	axis := func(a int64) in { return in{ints: []int64{a}, shape: []int{}} }
	runCases(t, []opCase{
		{name: "Inclusive", op: "CumSum", ins: []in{f(3, 5), axis(1)}},
		{name: "Exclusive", op: "CumSum", attrs: cum(1, 0), ins: []in{f(3, 5), axis(1)}},
		{name: "Reverse", op: "CumSum", attrs: cum(0, 1), ins: []in{f(4, 3), axis(0)}},
		{name: "ExclusiveReverse", op: "CumSum", attrs: cum(1, 1), ins: []in{f(2, 4, 3), axis(-2)}},
		{name: "Vector", op: "CumSum", ins: []in{f(6), axis(0)}},
	})
}
