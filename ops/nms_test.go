package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestNonMaxSuppression(t *testing.T) {
	// Boxes 0 and 1 overlap with IoU 0.9/1.1 ≈ 0.82; box 2 is apart.
	boxes := tensor.From(tensor.Shape{1, 3, 4}, []float32{0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 5, 1, 6})
	scores := tensor.From(tensor.Shape{1, 1, 3}, []float32{0.9, 0.95, 0.5})
	maxOut := tensor.From(tensor.Shape{1}, []int64{3})
	iou := tensor.From(tensor.Shape{1}, []float32{0.5})
	outs, err := rdRun(t, "NonMaxSuppression", nil, boxes, scores, maxOut, iou)
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "NMS", outs[0], tensor.Shape{2, 3}, []float64{0, 0, 1, 0, 0, 2})
	// score_threshold 0.6 drops box 2; iou_threshold 0.85 keeps box 0.
	outs, err = rdRun(t, "NonMaxSuppression", nil, boxes, scores, maxOut, tensor.From(tensor.Shape{1}, []float32{0.85}),
		tensor.From(tensor.Shape{1}, []float32{0.6}))
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "NMS thresholds", outs[0], tensor.Shape{2, 3}, []float64{0, 0, 1, 0, 0, 0})
	if _, err := rdRun(t, "NonMaxSuppression", nil, boxes, tensor.From(tensor.Shape{1, 1, 2}, []float32{1, 2})); err == nil {
		t.Fatal("mismatched scores: want an error")
	}
}
