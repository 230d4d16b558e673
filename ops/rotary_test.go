package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestRotaryEmbedding(t *testing.T) {
	// One batch, head, position; D = 4. A 90° rotation (cos 0, sin 1) maps
	// pairs (x1, x2) to (-x2, x1).
	x := tensor.From(tensor.Shape{1, 1, 1, 4}, []float32{1, 2, 3, 4})
	cos := tensor.From(tensor.Shape{1, 2}, []float32{0, 0})
	sin := tensor.From(tensor.Shape{1, 2}, []float32{1, 1})
	pos := tensor.From(tensor.Shape{1, 1}, []int64{0})
	outs, err := rdRun(t, "RotaryEmbedding", nil, x, cos, sin, pos)
	if err != nil {
		t.Fatal(err)
	}
	// halves: pairs (1,3), (2,4)
	rdClose(t, "rotate halves", outs[0], tensor.Shape{1, 1, 1, 4}, []float64{-3, -4, 1, 2})
	outs, err = rdRun(t, "RotaryEmbedding", graph.Attrs{"interleaved": int64(1)}, x, cos, sin, pos)
	if err != nil {
		t.Fatal(err)
	}
	// interleaved: pairs (1,2), (3,4)
	rdClose(t, "rotate interleaved", outs[0], tensor.Shape{1, 1, 1, 4}, []float64{-2, 1, -4, 3})
	// rotary_embedding_dim 2 rotates only (1, 2); 3-D input with num_heads.
	x3 := tensor.From(tensor.Shape{1, 1, 4}, []float32{1, 2, 3, 4})
	outs, err = rdRun(t, "RotaryEmbedding", graph.Attrs{"rotary_embedding_dim": int64(2), "num_heads": int64(1)}, x3,
		tensor.From(tensor.Shape{1, 1}, []float32{float32(math.Cos(1))}), tensor.From(tensor.Shape{1, 1}, []float32{float32(math.Sin(1))}), pos)
	if err != nil {
		t.Fatal(err)
	}
	c, s := math.Cos(1), math.Sin(1)
	rdClose(t, "partial", outs[0], tensor.Shape{1, 1, 4}, []float64{c - 2*s, s + 2*c, 3, 4})
	if _, err := rdRun(t, "RotaryEmbedding", nil, x, cos, sin, tensor.From(tensor.Shape{1, 1}, []int64{5})); err == nil {
		t.Fatal("position id outside the cache: want an error")
	}
}

func TestDet(t *testing.T) {
	x := tensor.From(tensor.Shape{2, 2, 2}, []float64{1, 2, 3, 4, 0, 1, 1, 0})
	outs, err := rdRun(t, "Det", nil, x)
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "Det", outs[0], tensor.Shape{2}, []float64{-2, -1})
	outs, err = rdRun(t, "Det", nil, tensor.From(tensor.Shape{3, 3}, []float32{2, 0, 0, 0, 3, 0, 1, 1, 4}))
	if err != nil {
		t.Fatal(err)
	}
	rdClose(t, "Det 3x3", outs[0], tensor.Shape{}, []float64{24})
	if _, err := rdRun(t, "Det", nil, tensor.From(tensor.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})); err == nil {
		t.Fatal("non-square Det: want an error")
	}
}

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
