package autodiff

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

func TestGradConv(t *testing.T) {
	runCases(t, []opCase{
		{name: "Conv1D", op: "Conv", ins: []in{f(2, 3, 7), f(4, 3, 3), f(4)}},
		{name: "Conv2DStridePad", op: "Conv", attrs: graph.Attrs{"strides": []int64{2, 1}, "pads": []int64{1, 0, 1, 2}}, ins: []in{f(2, 2, 5, 6), f(3, 2, 3, 2), f(3)}},
		{name: "Conv2DDilated", op: "Conv", attrs: graph.Attrs{"dilations": []int64{2, 2}}, ins: []in{f(1, 2, 6, 6), f(2, 2, 2, 2)}},
		{name: "Conv2DGroups", op: "Conv", attrs: graph.Attrs{"group": int64(2)}, ins: []in{f(2, 4, 4, 4), f(6, 2, 3, 3), f(6)}},
		{name: "Conv2DDepthwise", op: "Conv", attrs: graph.Attrs{"group": int64(3), "auto_pad": "SAME_UPPER"}, ins: []in{f(1, 3, 5, 5), f(3, 1, 3, 3)}},
		{name: "Conv3D", op: "Conv", attrs: graph.Attrs{"strides": []int64{1, 2, 1}, "pads": []int64{0, 1, 1, 0, 1, 1}}, ins: []in{f(1, 2, 3, 4, 4), f(2, 2, 2, 2, 2), f(2)}},
		{name: "ConvTranspose2D", op: "ConvTranspose", attrs: graph.Attrs{"strides": []int64{2, 2}, "pads": []int64{1, 0, 0, 1}, "output_padding": []int64{1, 0}}, ins: []in{f(2, 3, 3, 4), f(3, 2, 3, 3), f(2)}},
		{name: "ConvTranspose1DGroups", op: "ConvTranspose", attrs: graph.Attrs{"group": int64(2), "dilations": []int64{2}}, ins: []in{f(1, 4, 5), f(4, 1, 2), f(2)}},
	})
}

func TestGradPool(t *testing.T) {
	runCases(t, []opCase{
		{name: "MaxPool2D", op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, ins: []in{f(2, 3, 4, 5)}},
		{name: "MaxPoolOverlapPad", op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "pads": []int64{1, 1, 1, 1}}, ins: []in{f(1, 2, 4, 4)}},
		{name: "MaxPool1DCeil", op: "MaxPool", attrs: graph.Attrs{"kernel_shape": []int64{2}, "strides": []int64{2}, "ceil_mode": int64(1)}, ins: []in{f(1, 2, 7)}},
		{name: "AveragePool2D", op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, ins: []in{f(2, 3, 4, 4)}},
		{name: "AveragePoolPadExcl", op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{3, 3}, "pads": []int64{1, 1, 1, 1}}, ins: []in{f(1, 2, 4, 5)}},
		{name: "AveragePoolPadIncl", op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{3}, "pads": []int64{1, 1}, "count_include_pad": int64(1)}, ins: []in{f(1, 2, 5)}},
		{name: "AveragePool3D", op: "AveragePool", attrs: graph.Attrs{"kernel_shape": []int64{2, 2, 2}, "auto_pad": "SAME_UPPER"}, ins: []in{f(1, 1, 3, 3, 3)}},
		{name: "GlobalAveragePool", op: "GlobalAveragePool", ins: []in{f(2, 3, 4, 4)}},
		{name: "GlobalMaxPool", op: "GlobalMaxPool", ins: []in{f(2, 3, 3, 4)}},
	})
}

// Dropout is checked with ratio 0 in training mode (mask all true, scale
// 1): kiln's Dropout kernel rejects random dropout, so no random mask can
// be drawn yet.
func TestGradNorm(t *testing.T) {
	train := graph.Attrs{"training_mode": int64(1), "epsilon": float32(1e-3)}
	runCases(t, []opCase{
		{name: "BatchNormTrain", op: "BatchNormalization", attrs: train, nOut: 3, ins: []in{f(4, 3, 2, 2), f(3), f(3), {shape: []int{3}, konst: true}, {shape: []int{3}, lo: 0.5, hi: 1, konst: true}}},
		{name: "BatchNormTrain2D", op: "BatchNormalization", attrs: train, nOut: 3, ins: []in{f(5, 3), f(3), f(3), {shape: []int{3}, konst: true}, {shape: []int{3}, lo: 0.5, hi: 1, konst: true}}},
		{name: "BatchNormInfer", op: "BatchNormalization", ins: []in{f(2, 3, 4), f(3), f(3), f(3), pos(3)}},
		{name: "LayerNorm", op: "LayerNormalization", ins: []in{f(3, 5), f(5), f(5)}},
		{name: "LayerNormAxis", op: "LayerNormalization", attrs: graph.Attrs{"axis": int64(1), "epsilon": float32(1e-3)}, nOut: 3, ins: []in{f(2, 3, 4), f(3, 4)}},
		{name: "InstanceNorm", op: "InstanceNormalization", ins: []in{f(2, 3, 5), f(3), f(3)}},
		{name: "DropoutTrainMask", op: "Dropout", attrs: graph.Attrs{"seed": int64(3)}, nOut: 2, ins: []in{f(4, 5), {vals: []float64{0}, shape: []int{}, konst: true}, {shape: []int{}, bool: true, vals: []float64{1}}}},
		{name: "DropoutTrainNoMask", op: "Dropout", attrs: graph.Attrs{"seed": int64(3)}, ins: []in{f(4, 5), {vals: []float64{0}, shape: []int{}, konst: true}, {shape: []int{}, bool: true, vals: []float64{1}}}},
		{name: "DropoutInfer", op: "Dropout", ins: []in{f(4, 5)}},
	})
}
