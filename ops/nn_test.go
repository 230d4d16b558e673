package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// nnCase is one hand-computed case: op, attributes, inputs, and the expected
// first output (float32 unless the input says otherwise).
type nnCase struct {
	name  string
	op    string
	attrs graph.Attrs
	in    []*tensor.Tensor
	shape tensor.Shape
	want  []float64
}

func nnF(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }

func nnRunCase(t *testing.T, c nnCase) {
	t.Helper()
	d := Lookup("", c.op)
	if d == nil {
		t.Fatalf("%s: op %s not registered", c.name, c.op)
	}
	outs := []string{"y"}
	n := &graph.Node{Name: c.name, Op: c.op, Attrs: c.attrs, Outputs: outs}
	for i, x := range c.in {
		if x == nil {
			n.Inputs = append(n.Inputs, "")
		} else {
			n.Inputs = append(n.Inputs, string(rune('a'+i)))
		}
	}
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	got, err := d.Kernel(n, c.in)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	y := got[0]
	if !y.Shape().Equal(c.shape) {
		t.Fatalf("%s: shape %v, want %v", c.name, y.Shape(), c.shape)
	}
	// Expected values are exact or rounded to 4 decimals by hand.
	for i, w := range c.want {
		if g := y.At(i); math.Abs(g-w) > 1e-4+1e-4*math.Abs(w) {
			t.Errorf("%s: element %d = %v, want %v", c.name, i, g, w)
		}
	}
}

func TestNNOps(t *testing.T) {
	cases := []nnCase{
		{"matmul_2x2", "MatMul", nil, []*tensor.Tensor{nnF(tensor.Shape{2, 2}, 1, 2, 3, 4), nnF(tensor.Shape{2, 2}, 5, 6, 7, 8)},
			tensor.Shape{2, 2}, []float64{19, 22, 43, 50}},
		{"matmul_vec_mat", "MatMul", nil, []*tensor.Tensor{nnF(tensor.Shape{2}, 1, 2), nnF(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)},
			tensor.Shape{3}, []float64{9, 12, 15}},
		{"matmul_batch_broadcast", "MatMul", nil, []*tensor.Tensor{nnF(tensor.Shape{2, 1, 2}, 1, 0, 0, 1), nnF(tensor.Shape{2, 1}, 3, 4)},
			tensor.Shape{2, 1, 1}, []float64{3, 4}},
		{"gemm_trans_alpha_beta", "Gemm", graph.Attrs{"transA": int64(1), "alpha": float32(2), "beta": float32(0.5)},
			[]*tensor.Tensor{nnF(tensor.Shape{2, 1}, 1, 2), nnF(tensor.Shape{2, 2}, 1, 0, 0, 1), nnF(tensor.Shape{1}, 4)},
			tensor.Shape{1, 2}, []float64{4, 6}},
		{"einsum_trace", "Einsum", graph.Attrs{"equation": "ii"}, []*tensor.Tensor{nnF(tensor.Shape{2, 2}, 1, 2, 3, 4)},
			tensor.Shape{}, []float64{5}},
		{"einsum_implicit_transpose", "Einsum", graph.Attrs{"equation": "ji"}, []*tensor.Tensor{nnF(tensor.Shape{2, 2}, 1, 2, 3, 4)},
			tensor.Shape{2, 2}, []float64{1, 3, 2, 4}},
		{"einsum_ellipsis_matmul", "Einsum", graph.Attrs{"equation": "...ij,...jk->...ik"},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 1, 2), nnF(tensor.Shape{1, 2, 1}, 3, 4)}, tensor.Shape{1, 1, 1}, []float64{11}},
		// 3x3 input, 2x2 ones kernel, no padding: window sums.
		{"conv_2d", "Conv", nil, []*tensor.Tensor{nnF(tensor.Shape{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9), nnF(tensor.Shape{1, 1, 2, 2}, 1, 1, 1, 1), nnF(tensor.Shape{1}, 1)},
			tensor.Shape{1, 1, 2, 2}, []float64{13, 17, 25, 29}},
		{"conv_same_upper_stride2", "Conv", graph.Attrs{"auto_pad": "SAME_UPPER", "strides": []int64{2}},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 4}, 1, 2, 3, 4), nnF(tensor.Shape{1, 1, 3}, 1, 1, 1)},
			tensor.Shape{1, 1, 2}, []float64{6, 7}},
		// Transposed 1-D conv, stride 2: each input scatters [1, 1].
		{"convtranspose_1d", "ConvTranspose", graph.Attrs{"strides": []int64{2}},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 1, 2), nnF(tensor.Shape{1, 1, 2}, 1, 1)},
			tensor.Shape{1, 1, 4}, []float64{1, 1, 2, 2}},
		{"maxpool_ceil", "MaxPool", graph.Attrs{"kernel_shape": []int64{2}, "strides": []int64{2}, "ceil_mode": int64(1)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 5}, 1, 5, 2, 4, 3)}, tensor.Shape{1, 1, 3}, []float64{5, 4, 3}},
		{"averagepool_pad_exclude", "AveragePool", graph.Attrs{"kernel_shape": []int64{2}, "pads": []int64{1, 0}},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 2, 4)}, tensor.Shape{1, 1, 2}, []float64{2, 3}},
		{"averagepool_pad_include", "AveragePool", graph.Attrs{"kernel_shape": []int64{2}, "pads": []int64{1, 0}, "count_include_pad": int64(1)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 2, 4)}, tensor.Shape{1, 1, 2}, []float64{1, 3}},
		{"lppool_p2", "LpPool", graph.Attrs{"kernel_shape": []int64{2}},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 3, 4)}, tensor.Shape{1, 1, 1}, []float64{5}},
		{"globalaveragepool", "GlobalAveragePool", nil, []*tensor.Tensor{nnF(tensor.Shape{1, 2, 2}, 1, 3, 5, 7)},
			tensor.Shape{1, 2, 1}, []float64{2, 6}},
		{"maxunpool", "MaxUnpool", graph.Attrs{"kernel_shape": []int64{2}, "strides": []int64{2}},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 5, 6), tensor.From(tensor.Shape{1, 1, 2}, []int64{1, 2})},
			tensor.Shape{1, 1, 4}, []float64{0, 5, 6, 0}},
		{"batchnorm_inference", "BatchNormalization", graph.Attrs{"epsilon": float32(0)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 2, 1}, 3, 3), nnF(tensor.Shape{2}, 1, 2), nnF(tensor.Shape{2}, 0, 1), nnF(tensor.Shape{2}, 1, 1), nnF(tensor.Shape{2}, 4, 1)},
			tensor.Shape{1, 2, 1}, []float64{1, 5}},
		{"instancenorm", "InstanceNormalization", graph.Attrs{"epsilon": float32(0)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 1, 3), nnF(tensor.Shape{1}, 2), nnF(tensor.Shape{1}, 1)},
			tensor.Shape{1, 1, 2}, []float64{-1, 3}},
		{"layernorm_last_axis", "LayerNormalization", graph.Attrs{"epsilon": float32(0)},
			[]*tensor.Tensor{nnF(tensor.Shape{2, 2}, 0, 2, 5, 5), nnF(tensor.Shape{2}, 1, 1)},
			tensor.Shape{2, 2}, []float64{-1, 1, 0, 0}},
		{"groupnorm_per_channel", "GroupNormalization", graph.Attrs{"epsilon": float32(0), "num_groups": int64(1)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 2, 1}, 1, 3), nnF(tensor.Shape{2}, 1, 2), nnF(tensor.Shape{2}, 0, 1)},
			tensor.Shape{1, 2, 1}, []float64{-1, 3}},
		{"rmsnorm", "RMSNormalization", graph.Attrs{"epsilon": float32(0)},
			[]*tensor.Tensor{nnF(tensor.Shape{2}, 3, 4), nnF(tensor.Shape{2}, 1, 2)},
			tensor.Shape{2}, []float64{3 / math.Sqrt(12.5), 8 / math.Sqrt(12.5)}},
		{"lpnorm_l2", "LpNormalization", nil, []*tensor.Tensor{nnF(tensor.Shape{2}, 3, 4)}, tensor.Shape{2}, []float64{0.6, 0.8}},
		// size 1, alpha 1, beta 1, bias 0: x / x^2 = 1/x.
		{"lrn", "LRN", graph.Attrs{"size": int64(1), "alpha": float32(1), "beta": float32(1), "bias": float32(0)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 2}, 2, 4)}, tensor.Shape{1, 2}, []float64{0.5, 0.25}},
		{"mvn_axis0", "MeanVarianceNormalization", graph.Attrs{"axes": []int64{0}},
			[]*tensor.Tensor{nnF(tensor.Shape{2}, 1, 3)}, tensor.Shape{2}, []float64{-1, 1}},
		{"softmax", "Softmax", nil, []*tensor.Tensor{nnF(tensor.Shape{2}, 0, float32(math.Log(3)))}, tensor.Shape{2}, []float64{0.25, 0.75}},
		{"logsoftmax", "LogSoftmax", nil, []*tensor.Tensor{nnF(tensor.Shape{2}, 1, 1)}, tensor.Shape{2}, []float64{-math.Ln2, -math.Ln2}},
		{"hardmax_first_max", "Hardmax", nil, []*tensor.Tensor{nnF(tensor.Shape{3}, 2, 2, 1)}, tensor.Shape{3}, []float64{1, 0, 0}},
		{"softmax_coerce_2d", "Softmax", graph.Attrs{"axis": int64(1), "kiln_coerce_2d": int64(1)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 2, 2}, 0, 0, 0, 0)}, tensor.Shape{1, 2, 2}, []float64{0.25, 0.25, 0.25, 0.25}},
		{"resize_nearest_up", "Resize", graph.Attrs{"mode": "nearest"},
			[]*tensor.Tensor{nnF(tensor.Shape{2}, 1, 2), nil, nnF(tensor.Shape{1}, 2)}, tensor.Shape{4}, []float64{1, 1, 2, 2}},
		// half_pixel, scale 2: coordinates -0.25, 0.25, 0.75, 1.25 (edges clamp).
		{"resize_linear_half_pixel", "Resize", graph.Attrs{"mode": "linear"},
			[]*tensor.Tensor{nnF(tensor.Shape{2}, 0, 4), nil, nnF(tensor.Shape{1}, 2)}, tensor.Shape{4}, []float64{0, 1, 3, 4}},
		{"resize_sizes_align_corners", "Resize", graph.Attrs{"mode": "linear", "coordinate_transformation_mode": "align_corners"},
			[]*tensor.Tensor{nnF(tensor.Shape{2}, 0, 4), nil, nil, tensor.From(tensor.Shape{1}, []int64{3})}, tensor.Shape{3}, []float64{0, 2, 4}},
		// grid (x=0, y=0) is the centre of a 2x2 image: mean of all four.
		{"gridsample_center", "GridSample", nil,
			[]*tensor.Tensor{nnF(tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4), nnF(tensor.Shape{1, 1, 1, 2}, 0, 0)}, tensor.Shape{1, 1, 1, 1}, []float64{2.5}},
		{"affinegrid_identity", "AffineGrid", graph.Attrs{"align_corners": int64(1)},
			[]*tensor.Tensor{nnF(tensor.Shape{1, 2, 3}, 1, 0, 0, 0, 1, 0), tensor.From(tensor.Shape{4}, []int64{1, 1, 1, 2})},
			tensor.Shape{1, 1, 2, 2}, []float64{-1, -1, 1, -1}},
		{"col2im_1d", "Col2Im", nil,
			[]*tensor.Tensor{nnF(tensor.Shape{1, 2, 2}, 1, 2, 3, 4), tensor.From(tensor.Shape{1}, []int64{3}), tensor.From(tensor.Shape{1}, []int64{2})},
			tensor.Shape{1, 1, 3}, []float64{1, 5, 4}},
	}
	for _, c := range cases {
		nnRunCase(t, c)
	}
}

func TestNNErrors(t *testing.T) {
	bad := []struct {
		op    string
		attrs graph.Attrs
		in    []*tensor.Tensor
	}{
		{"MatMul", nil, []*tensor.Tensor{nnF(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6), nnF(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)}},
		{"Conv", graph.Attrs{"group": int64(3)}, []*tensor.Tensor{nnF(tensor.Shape{1, 2, 2}, 1, 2, 3, 4), nnF(tensor.Shape{1, 2, 1}, 1, 1)}},
		{"MaxPool", nil, []*tensor.Tensor{nnF(tensor.Shape{1, 1, 2}, 1, 2)}},
		{"MaxUnpool", graph.Attrs{"kernel_shape": []int64{2}}, []*tensor.Tensor{nnF(tensor.Shape{1, 1, 1}, 1), tensor.From(tensor.Shape{1, 1, 1}, []int64{99})}},
		{"Einsum", graph.Attrs{"equation": "ij->i"}, []*tensor.Tensor{nnF(tensor.Shape{2}, 1, 2)}},
		{"Resize", nil, []*tensor.Tensor{nnF(tensor.Shape{2}, 1, 2)}},
	}
	for _, b := range bad {
		n := &graph.Node{Name: "bad", Op: b.op, Attrs: b.attrs, Outputs: []string{"y"}}
		if n.Attrs == nil {
			n.Attrs = graph.Attrs{}
		}
		if _, err := Lookup("", b.op).Kernel(n, b.in); err == nil {
			t.Errorf("%s: want an error for bad input", b.op)
		}
	}
}
