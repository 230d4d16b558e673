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
