package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

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
