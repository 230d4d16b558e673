package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TestGradOpsBadInput feeds the backward helper ops inputs that disagree
// with their attributes or with each other: each must answer an error,
// never panic.
func TestGradOpsBadInput(t *testing.T) {
	f64 := func(s ...int) *tensor.Tensor {
		return tensor.FromFloat64s(tensor.Float64, s, make([]float64, tensor.Shape(s).Size()))
	}
	i64 := func(v ...int64) *tensor.Tensor { return tensor.FromInt64s(tensor.Shape{len(v)}, v) }
	f32s := func(v ...float32) *tensor.Tensor { return tensor.From(tensor.Shape{len(v)}, v) }
	nearest := graph.Attrs{"mode": "nearest"}
	cases := []struct {
		name  string
		d     *Def
		attrs graph.Attrs
		in    []*tensor.Tensor
	}{
		{"ResizeGrad no inputs", ResizeGrad, nearest, nil},
		{"ResizeGrad nil shape", ResizeGrad, nearest, []*tensor.Tensor{f64(1, 1, 4), nil, nil, f32s(1, 1, 2)}},
		{"ResizeGrad negative shape", ResizeGrad, nearest, []*tensor.Tensor{f64(1, 1, 4), i64(1, -1, 2), nil, f32s(1, 1, 2)}},
		{"ResizeGrad no scales or sizes", ResizeGrad, nearest, []*tensor.Tensor{f64(1, 1, 4), i64(1, 1, 2)}},
		{"ResizeGrad dY shape", ResizeGrad, nearest, []*tensor.Tensor{f64(1, 1, 5), i64(1, 1, 2), nil, f32s(1, 1, 2)}},
		{"ResizeGrad scales count", ResizeGrad, nearest, []*tensor.Tensor{f64(1, 1, 4), i64(1, 1, 2), nil, f32s(1, 2)}},
		{"ResizeGrad empty axis", ResizeGrad, nearest, []*tensor.Tensor{f64(1, 1, 3), i64(1, 1, 0), nil, nil, i64(1, 1, 3)}},
		{"ResizeGrad int dY", ResizeGrad, nearest, []*tensor.Tensor{tensor.FromInt64s(tensor.Shape{1, 1, 4}, make([]int64, 4)), i64(1, 1, 2), nil, f32s(1, 1, 2)}},
		{"ResizeGrad bad mode", ResizeGrad, graph.Attrs{"mode": "bicubic"}, []*tensor.Tensor{f64(1, 1, 4), i64(1, 1, 2), nil, f32s(1, 1, 2)}},
		{"PadGrad missing pads", PadGrad, nil, []*tensor.Tensor{f64(2, 3), i64(2, 3)}},
		{"PadGrad pads count", PadGrad, nil, []*tensor.Tensor{f64(2, 3), i64(2, 3), i64(1, 1)}},
		{"PadGrad dY shape", PadGrad, graph.Attrs{"mode": "edge"}, []*tensor.Tensor{f64(2, 3), i64(2, 3), i64(0, 1, 0, 1)}},
		{"PadGrad over-crop", PadGrad, nil, []*tensor.Tensor{f64(2, 0), i64(2, 3), i64(0, -2, 0, -2)}},
		{"PadGrad reflect empty", PadGrad, graph.Attrs{"mode": "reflect"}, []*tensor.Tensor{f64(2, 2), i64(2, 0), i64(0, 1, 0, 1)}},
		{"PadGrad bad mode", PadGrad, graph.Attrs{"mode": "mirror"}, []*tensor.Tensor{f64(4, 5), i64(2, 3), i64(1, 1, 1, 1)}},
		{"PadGrad bad axes", PadGrad, nil, []*tensor.Tensor{f64(2, 5), i64(2, 3), i64(1, 1), i64(4)}},
		{"LRNGrad missing dY", LRNGrad, graph.Attrs{"size": int64(3)}, []*tensor.Tensor{f64(1, 3, 2)}},
		{"LRNGrad dY shape", LRNGrad, graph.Attrs{"size": int64(3)}, []*tensor.Tensor{f64(1, 3, 2), f64(1, 3, 3)}},
		{"LRNGrad size", LRNGrad, graph.Attrs{"size": int64(0)}, []*tensor.Tensor{f64(1, 3, 2), f64(1, 3, 2)}},
		{"LRNGrad rank", LRNGrad, graph.Attrs{"size": int64(3)}, []*tensor.Tensor{f64(3), f64(3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			if _, err := miRun(t, c.d, c.attrs, c.in...); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
