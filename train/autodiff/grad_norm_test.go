package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

func TestGradGroupNorm(t *testing.T) {
	gn := func(groups int64, eps float32) graph.Attrs {
		return graph.Attrs{"num_groups": groups, "epsilon": eps}
	}
	perGroup := gn(2, 1e-3)
	perGroup["kiln_per_group"] = int64(1)
	runCases(t, []opCase{
		{name: "Groups3", op: "GroupNormalization", attrs: gn(3, 1e-5), ins: []in{f(2, 6, 3), f(6), f(6)}},
		{name: "Groups2Spatial2D", op: "GroupNormalization", attrs: gn(2, 1e-2), ins: []in{f(2, 4, 2, 3), f(4), f(4)}},
		{name: "OneGroup", op: "GroupNormalization", attrs: gn(1, 1e-5), ins: []in{f(3, 2, 2, 2), f(2), f(2)}},
		{name: "GroupPerChannel", op: "GroupNormalization", attrs: gn(3, 1e-5), ins: []in{f(2, 3, 5), f(3), f(3)}},
		{name: "NoSpatial", op: "GroupNormalization", attrs: gn(2, 1e-5), ins: []in{f(3, 6), f(6), f(6)}},
		{name: "PerGroupScale", op: "GroupNormalization", attrs: perGroup, ins: []in{f(2, 4, 3), f(2), f(2)}},
	})
}

func TestGradRMSNorm(t *testing.T) {
	runCases(t, []opCase{
		{name: "LastAxis", op: "RMSNormalization", ins: []in{f(3, 5), f(5)}},
		{name: "Axis1", op: "RMSNormalization", attrs: graph.Attrs{"axis": int64(1), "epsilon": float32(1e-3)}, ins: []in{f(2, 3, 4), f(3, 4)}},
		{name: "Axis1BroadcastScale", op: "RMSNormalization", attrs: graph.Attrs{"axis": int64(-2)}, ins: []in{f(2, 3, 4), f(4)}},
		{name: "AxisZero", op: "RMSNormalization", attrs: graph.Attrs{"axis": int64(0), "epsilon": float32(0.1)}, ins: []in{f(2, 3), f(2, 3)}},
	})
}

func TestGradLRN(t *testing.T) {
	lrn := func(size int64, alpha, beta, bias float32) graph.Attrs {
		return graph.Attrs{"size": size, "alpha": alpha, "beta": beta, "bias": bias}
	}
	runCases(t, []opCase{
		{name: "Size3", op: "LRN", attrs: lrn(3, 0.5, 0.75, 1), ins: []in{f(2, 5, 2, 2)}},
		{name: "Size4Asymmetric", op: "LRN", attrs: lrn(4, 0.8, 0.6, 2), ins: []in{f(1, 6, 3)}},
		{name: "Size5Defaults", op: "LRN", attrs: graph.Attrs{"size": int64(5)}, ins: []in{f(2, 4, 3, 2)}},
		{name: "Size1", op: "LRN", attrs: lrn(1, 2, 1.5, 1), ins: []in{f(2, 3, 4)}},
		{name: "WindowWiderThanChannels", op: "LRN", attrs: lrn(7, 1, 0.75, 0.5), ins: []in{f(1, 3, 2, 2)}},
	})
}
