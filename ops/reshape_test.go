package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func shpIota(shape tensor.Shape) *tensor.Tensor {
	v := make([]float32, shape.Size())
	for i := range v {
		v[i] = float32(i)
	}
	return tensor.From(shape, v)
}

func TestReshapeFamily(t *testing.T) {
	x := shpIota(tensor.Shape{2, 3, 4})
	shpRunCases(t, []shpCase{
		// ONNX reshape_zero_and_negative_dim.
		{"reshape zero and -1", Reshape, nil, []*tensor.Tensor{x, shpI(tensor.Shape{4}, 2, 0, 1, -1)},
			[]*tensor.Tensor{shpIota(tensor.Shape{2, 3, 1, 4})}},
		{"reshape -1", Reshape, nil, []*tensor.Tensor{x, shpI(tensor.Shape{2}, -1, 6)},
			[]*tensor.Tensor{shpIota(tensor.Shape{4, 6})}},
		// ONNX reshape_allowzero_reordered: a real zero-size dimension.
		{"reshape allowzero", Reshape, graph.Attrs{"allowzero": int64(1)},
			[]*tensor.Tensor{shpIota(tensor.Shape{0, 3, 4}), shpI(tensor.Shape{3}, 3, 4, 0)},
			[]*tensor.Tensor{shpIota(tensor.Shape{3, 4, 0})}},
		{"flatten axis 2", Flatten, graph.Attrs{"axis": int64(2)}, []*tensor.Tensor{x}, []*tensor.Tensor{shpIota(tensor.Shape{6, 4})}},
		{"flatten axis 0", Flatten, graph.Attrs{"axis": int64(0)}, []*tensor.Tensor{x}, []*tensor.Tensor{shpIota(tensor.Shape{1, 24})}},
		{"flatten axis -1", Flatten, graph.Attrs{"axis": int64(-1)}, []*tensor.Tensor{x}, []*tensor.Tensor{shpIota(tensor.Shape{6, 4})}},
		{"squeeze axes", Squeeze, nil, []*tensor.Tensor{shpIota(tensor.Shape{1, 3, 1, 2}), shpI(tensor.Shape{1}, -2)},
			[]*tensor.Tensor{shpIota(tensor.Shape{1, 3, 2})}},
		{"squeeze all", Squeeze, nil, []*tensor.Tensor{shpIota(tensor.Shape{1, 3, 1, 2})}, []*tensor.Tensor{shpIota(tensor.Shape{3, 2})}},
		{"unsqueeze unsorted", Unsqueeze, nil, []*tensor.Tensor{shpIota(tensor.Shape{3, 4, 5}), shpI(tensor.Shape{3}, 5, 4, 2)},
			[]*tensor.Tensor{shpIota(tensor.Shape{3, 4, 1, 5, 1, 1})}},
		{"unsqueeze negative", Unsqueeze, nil, []*tensor.Tensor{shpIota(tensor.Shape{3}), shpI(tensor.Shape{1}, -1)},
			[]*tensor.Tensor{shpIota(tensor.Shape{3, 1})}},
		{"shape", Shape, nil, []*tensor.Tensor{shpIota(tensor.Shape{3, 4, 5})}, []*tensor.Tensor{shpI(tensor.Shape{3}, 3, 4, 5)}},
		{"shape start -1", Shape, graph.Attrs{"start": int64(-1)}, []*tensor.Tensor{shpIota(tensor.Shape{3, 4, 5})}, []*tensor.Tensor{shpI(tensor.Shape{1}, 5)}},
		{"shape 1..-1", Shape, graph.Attrs{"start": int64(1), "end": int64(-1)}, []*tensor.Tensor{shpIota(tensor.Shape{3, 4, 5})}, []*tensor.Tensor{shpI(tensor.Shape{1}, 4)}},
		{"shape clipped", Shape, graph.Attrs{"start": int64(-10), "end": int64(10)}, []*tensor.Tensor{shpIota(tensor.Shape{3, 4})}, []*tensor.Tensor{shpI(tensor.Shape{2}, 3, 4)}},
		{"shape empty range", Shape, graph.Attrs{"start": int64(2), "end": int64(1)}, []*tensor.Tensor{shpIota(tensor.Shape{3, 4, 5})}, []*tensor.Tensor{shpI(tensor.Shape{0})}},
		{"size", Size, nil, []*tensor.Tensor{shpIota(tensor.Shape{3, 4, 5})}, []*tensor.Tensor{shpI(nil, 60)}},
		{"reshape strings", Reshape, nil, []*tensor.Tensor{shpS(tensor.Shape{4}, "a", "b", "c", "d"), shpI(tensor.Shape{2}, 2, -1)},
			[]*tensor.Tensor{shpS(tensor.Shape{2, 2}, "a", "b", "c", "d")}},
	})
}

func TestReshapeErrors(t *testing.T) {
	x := shpIota(tensor.Shape{2, 3})
	for _, c := range []struct {
		name  string
		d     *Def
		attrs graph.Attrs
		in    []*tensor.Tensor
	}{
		{"two -1", Reshape, nil, []*tensor.Tensor{x, shpI(tensor.Shape{2}, -1, -1)}},
		{"bad count", Reshape, nil, []*tensor.Tensor{x, shpI(tensor.Shape{1}, 5)}},
		{"allowzero with -1", Reshape, graph.Attrs{"allowzero": int64(1)}, []*tensor.Tensor{x, shpI(tensor.Shape{2}, 0, -1)}},
		{"squeeze non-1", Squeeze, nil, []*tensor.Tensor{x, shpI(tensor.Shape{1}, 0)}},
		{"flatten axis", Flatten, graph.Attrs{"axis": int64(3)}, []*tensor.Tensor{x}},
		{"unsqueeze repeat", Unsqueeze, nil, []*tensor.Tensor{x, shpI(tensor.Shape{2}, 0, 0)}},
	} {
		if _, err := c.d.Kernel(shpNode(c.d, c.attrs, len(c.in), 1), c.in); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
